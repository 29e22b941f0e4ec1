"""The lab for real: Vagrantfile validation, the node image, and a two-node Docker-provider lab
brought up, inspected (host keys too), set promiscuous and destroyed."""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import os
import re
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import docker
import pytest
from rich.console import Console

from orchestrator.connection import UnreachableError, connect
from orchestrator.host import Host
from orchestrator.lab import lifecycle, node_image
from orchestrator.lab.config import REPO_ROOT, lab_paths, load_config
from orchestrator.lab.dockerd import ensure_dockerd
from orchestrator.lab.labfile import read_lab_inventory
from orchestrator.lab.lifecycle import lab_down, lab_promisc, lab_up
from orchestrator.lab.privileges import detect
from orchestrator.lab.status import lab_status, status_table
from orchestrator.lab.vagrant import SshConfig
from tests.integration.lab_fixture import (
    HOSTS,
    NETWORK,
    DockerLab,
    isolated_environ,
    running_docker_lab,
)

pytestmark = pytest.mark.integration

VBOX_STANDIN = REPO_ROOT / "tests" / "fixtures" / "vbox"


def vagrant(tmp_path: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {**isolated_environ(tmp_path), "VAGRANT_CWD": str(REPO_ROOT), **environ}
    return subprocess.run(["vagrant", *args], env=env, capture_output=True, text=True)


def test_vagrant_validate_docker_provider(tmp_path: Path):
    # Vagrant asks the Docker daemon whether the provider is usable: start it as lab.up does
    # (on a fresh machine nothing else has yet).
    ensure_dockerd()
    result = vagrant(tmp_path, "validate", VAGRANT_DEFAULT_PROVIDER="docker")
    assert result.returncode == 0, result.stderr
    assert "Vagrantfile validated successfully" in result.stdout


def test_vagrant_validate_virtualbox_provider_with_standin_vboxmanage(tmp_path: Path):
    log = tmp_path / "vboxmanage.log"
    result = vagrant(
        tmp_path,
        "validate",
        VAGRANT_DEFAULT_PROVIDER="virtualbox",
        PATH=f"{VBOX_STANDIN}:{os.environ['PATH']}",
        VBOXMANAGE_LOG=str(log),
    )
    assert result.returncode == 0, result.stderr
    assert "Vagrantfile validated successfully" in result.stdout
    assert "--version" in log.read_text().splitlines()


def test_vagrantfile_defines_the_machines_the_config_names(tmp_path: Path):
    result = vagrant(tmp_path, "status", "--machine-readable", NETMATRIX_LAB_COUNT="3")
    assert result.returncode == 0, result.stderr
    states = [line.split(",") for line in result.stdout.splitlines() if ",state," in line]
    environ = {"NETMATRIX_LAB_COUNT": "3"}
    expected = load_config(lab_paths(environ), environ).names
    assert tuple(fields[1] for fields in states) == expected == ("lab1", "lab2", "lab3")


def test_node_image_builds_for_real():
    client = ensure_dockerd()
    tag = f"netmatrix/node-test:{uuid.uuid4().hex[:8]}"
    cache = Path.home() / ".cache" / "netmatrix"  # shared with the real lab: same rootfs
    try:
        node_image.ensure_node_image(client, tag, cache)
        key = node_image.vagrant_public_key()
        labels = client.images.get(tag).labels
        assert labels[node_image.DIGEST_LABEL] == node_image.node_digest(key)
        script = (
            "id -un vagrant; cat /home/vagrant/.ssh/authorized_keys; "
            "sudo -l -U vagrant | tail -1; ls /etc/ssh | grep -c host_ || true; "
            "python3 -c 'import json; print(json.dumps(1))'; grep -h URIs /etc/apt/sources.list.d/*"
        )
        container = client.containers.run(tag, ["sh", "-c", script], detach=True)
        try:
            container.wait(timeout=120)
            output = container.logs(stdout=True, stderr=False).decode()
        finally:
            container.remove(v=True)  # the image declares a volume for nested Docker
        lines = output.splitlines()
        assert lines[0] == "vagrant"
        assert lines[1] == key
        assert "NOPASSWD: ALL" in lines[2]
        assert lines[3] == "0"  # host keys are made at first start, never baked in
        assert lines[4] == "1"
        assert "URIs: http://deb.debian.org/debian" in lines[5:]
    finally:
        client.images.remove(tag)


@pytest.fixture(scope="module")
def docker_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerLab]:
    with running_docker_lab(tmp_path_factory.mktemp("lab")) as lab:
        yield lab


def test_lab_up_writes_both_hosts(docker_lab: DockerLab):
    hosts = read_lab_inventory(docker_lab.inventory)
    assert set(hosts) == set(HOSTS)
    network = ipaddress.ip_network(NETWORK)
    addresses = (str(network[11]), str(network[12]))
    for name, address in zip(HOSTS, addresses, strict=True):
        variables = hosts[name].vars
        assert variables["provider"] == "docker"
        assert variables["lab_nic"] == "eth1"
        assert variables["lab_address"] == address
        assert variables["hardware"] == "hw_controller"
        assert set(hosts[name].groups) == {"lab", "hw_controller"}
        assert Path(variables["ansible_ssh_private_key_file"]).is_file()
        assert variables["netmatrix_known_hosts"] == str(docker_lab.lab.paths.known_hosts)
        assert "host_key_checking" not in variables  # checked, as every host is by default
    assert (docker_lab.inventory.stat().st_mode & 0o777) == 0o600


def node_key_files(docker_lab: DockerLab, name: str) -> list[str]:
    """`<type> <base64>` of each /etc/ssh/ssh_host_*_key.pub in the node, sorted: the files
    themselves, copied out of the container (not the way lab.up reads them)."""
    container_id = docker_lab.lab.machine_id(name, "docker")
    stream, _ = docker.from_env().containers.get(container_id).get_archive("/etc/ssh")
    keys = []
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        for member in archive.getmembers():
            if fnmatch(member.name, "ssh/ssh_host_*_key.pub"):
                kind, data, *_ = archive.extractfile(member).read().decode().split()
                keys.append(f"{kind} {data}")
    return sorted(keys)


def recorded_keys(docker_lab: DockerLab, name: str) -> list[str]:
    """`<known as> <type> <base64>` of `name`'s lines in the lab's known_hosts file."""
    lines = docker_lab.lab.paths.known_hosts.read_text().splitlines()
    return [line.rsplit(" ", 1)[0] for line in lines if line.endswith(f" {name}")]


def known_as(host: Host) -> str:
    return f"[{host.address}]:{host.port}"


def fingerprints(keys: list[str], tmp_path: Path) -> set[tuple[str, str]]:
    """(type, fingerprint) of each `<type> <base64>` key, as OpenSSH's ssh-keygen prints it."""
    found = set()
    for number, key in enumerate(keys):
        path = tmp_path / f"key{number}.pub"
        path.write_text(key + "\n")
        listed = subprocess.run(
            ["ssh-keygen", "-l", "-f", str(path)], capture_output=True, text=True, check=True
        )
        found.add((key.split()[0], listed.stdout.split()[1]))
    return found


@pytest.mark.parametrize("name", HOSTS)
def test_lab_up_records_each_nodes_own_host_keys(docker_lab: DockerLab, name: str):
    keys = node_key_files(docker_lab, name)
    assert {key.split()[0] for key in keys} == {"ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"}
    where = known_as(docker_lab.hosts[name])
    assert recorded_keys(docker_lab, name) == [f"{where} {key}" for key in keys]


def regenerate_host_keys(docker_lab: DockerLab, name: str) -> list[str]:
    """New host keys in node `name`, served by its sshd (HUP makes it re-read them)."""
    container = docker.from_env().containers.get(docker_lab.lab.machine_id(name, "docker"))
    done = container.exec_run(
        ["sh", "-c", "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A && kill -HUP 1"]
    )
    assert done.exit_code == 0, done.output
    keys = node_key_files(docker_lab, name)
    host = docker_lab.hosts[name]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the restarted sshd shows the new ed25519 key
        scan = subprocess.run(
            ["ssh-keyscan", "-t", "ed25519", "-p", str(host.port), host.address],
            capture_output=True,
            text=True,
        )
        if any(line.split(None, 1)[-1] in keys for line in scan.stdout.splitlines()):
            return keys
        time.sleep(0.5)
    raise AssertionError(f"{name}: sshd did not serve its new host keys within 30s")


def test_a_node_whose_host_key_changed_is_refused_until_lab_up_records_the_new_one(
    docker_lab: DockerLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    host = docker_lab.hosts["lab2"]
    where = f"lab2 ({host.address}:{host.port})"
    old = recorded_keys(docker_lab, "lab2")
    new = regenerate_host_keys(docker_lab, "lab2")
    with monkeypatch.context() as scoped:
        scoped.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts: the lab's file decides
        with pytest.raises(UnreachableError) as changed:
            connect(host)
        unlisted = Host("lab2", {**host.vars, "netmatrix_known_hosts": str(tmp_path / "none")})
        with pytest.raises(UnreachableError) as unknown:
            connect(unlisted)
    refused = re.fullmatch(
        rf"{re.escape(where)}: host key differs from the known one \((\S+) (SHA256:\S+)\); "
        "someone may be intercepting, or the host was reinstalled: if so, remove its old key "
        "from the known_hosts file",
        str(changed.value),
    )
    assert refused, changed.value
    assert (refused[1], refused[2]) in fingerprints(new, tmp_path), "names the key it was shown"
    fix = f"ssh-keyscan -p {host.port} {host.address} >> ~/.ssh/known_hosts"
    refused = re.fullmatch(
        rf"{re.escape(where)}: unknown host key \((\S+) (SHA256:\S+)\): if it is the host's, "
        rf"record it with `{re.escape(fix)}`, or set host_key_checking: false in the inventory",
        str(unknown.value),
    )
    assert refused, unknown.value
    assert (refused[1], refused[2]) in fingerprints(new, tmp_path)
    assert recorded_keys(docker_lab, "lab2") == old, "refusing records nothing"

    lab_up(docker_lab.lab, ["lab2"], "docker")  # reads the node's keys again, out of band
    assert recorded_keys(docker_lab, "lab2") == [f"{known_as(host)} {key}" for key in new]
    with connect(host) as conn:  # type: ignore[attr-defined]
        assert conn.run(["hostname"], check=True).stdout.strip() == "lab2"


def test_ssh_keyscan_records_what_a_node_presents(docker_lab: DockerLab):
    """The VirtualBox way (trust at creation) against a real sshd: what ssh-keyscan sees is
    what the key files hold."""
    host = docker_lab.hosts["lab1"]
    ssh = SshConfig("lab1", host.address, host.port, host.user, str(host.key_file))
    scanned = lifecycle.scanned_host_keys("lab1", ssh)
    assert [key.line for key in scanned] == [
        f"{known_as(host)} {key} lab1" for key in node_key_files(docker_lab, "lab1")
    ]


@pytest.mark.parametrize("name", HOSTS)
def test_lab_hosts_are_reachable_over_ssh(docker_lab: DockerLab, name: str):
    host = docker_lab.hosts[name]
    result = subprocess.run(
        [
            "ssh",
            *("-i", str(host.key_file), "-p", str(host.port)),
            # OpenSSH itself verifies the node against the keys lab.up recorded.
            *("-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"),
            *("-o", f"UserKnownHostsFile={docker_lab.lab.paths.known_hosts}"),
            *("-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"),
            f"{host.user}@{host.address}",
            "hostname",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == name


def test_lab_nic_is_on_the_lab_network(docker_lab: DockerLab):
    client = docker.from_env()
    network = client.networks.get(docker_lab.lab.config.docker_network)
    assert network.attrs["IPAM"]["Config"][0]["Subnet"] == NETWORK
    for name in HOSTS:
        container_id = docker_lab.lab.paths.machine_id_file(name, "docker").read_text().strip()
        attached = client.containers.get(container_id).attrs["NetworkSettings"]["Networks"]
        lab_address = docker_lab.hosts[name].vars["lab_address"]
        assert attached[network.name]["IPAddress"] == lab_address


def test_nodes_have_the_privileges_macvlan_and_perf_need(docker_lab: DockerLab):
    conn = docker_lab.lab.connect(docker_lab.hosts["lab1"])
    try:
        conn.sudo("ip link add mv0 link eth1 type macvlan mode bridge", check=True)
        links = conn.run("ip -o link show mv0", check=True).stdout
        conn.sudo("ip link del mv0", check=True)
        peer = docker_lab.hosts["lab2"].vars["lab_address"]
        reach = f"python3 -c \"import socket; socket.create_connection(('{peer}', 22), 5)\""
        conn.run(reach, check=True)
        paranoid = conn.sudo("cat /proc/sys/kernel/perf_event_paranoid", check=True)
    finally:
        conn.close()
    assert "macvlan" in links or "mv0@eth1" in links
    assert paranoid.stdout.strip().lstrip("-").isdigit()
    assert detect().privileged or "SYS_RESOURCE" in detect().missing


def test_lab_status_shows_running_nodes_with_their_kernel(docker_lab: DockerLab):
    rows = {row.host: row for row in lab_status(docker_lab.lab)}
    for name in HOSTS:
        assert rows[name].state == "running"
        assert rows[name].provider == "docker"
        assert rows[name].kernel == os.uname().release  # containers share the controller's
        host = docker_lab.hosts[name]
        assert rows[name].address == f"{host.address}:{host.port}"
    console = Console(file=io.StringIO(), width=120)
    console.print(status_table(list(rows.values())))
    assert "running" in console.file.getvalue()


def test_lab_promisc_sets_the_lab_nic_inside_docker_nodes(docker_lab: DockerLab):
    said: list[str] = []
    lab = dataclasses.replace(docker_lab.lab, say=said.append)
    lab_promisc(lab, ["lab2"], "allow-all", 2)
    conn = lab.connect(docker_lab.hosts["lab2"])
    try:
        flags = conn.run("ip -o link show eth1", check=True).stdout
    finally:
        conn.close()
    assert "PROMISC" in flags
    assert said == [
        "lab2: docker node, no hypervisor NIC to set: turned eth1 promiscuous on inside the "
        "node with `ip link` (ip -d link: promiscuity 1)"
    ]


def test_lab_up_again_keeps_the_inventory(docker_lab: DockerLab):
    before = docker_lab.inventory.read_text()
    lab_up(docker_lab.lab, HOSTS, "docker")
    assert docker_lab.inventory.read_text() == before


def test_lab_down_leaves_no_container_network_or_entry(docker_lab: DockerLab):
    lab = docker_lab.lab
    ids = [lab.paths.machine_id_file(name, "docker").read_text().strip() for name in HOSTS]
    lab_down(lab, HOSTS)
    client = docker.from_env()
    remaining = {c.id for c in client.containers.list(all=True)}
    assert not any(container_id in remaining for container_id in ids)
    assert client.networks.list(names=[lab.config.docker_network]) == []
    assert not lab.paths.inventory.exists()
    assert not lab.paths.known_hosts.exists()
    assert all(lab.provider_of(name) is None for name in HOSTS)
