"""Bringing lab machines up and down, and setting their lab NIC promiscuous.

`lab_up` does the slow, fallible work first (daemon, image, `vagrant up`, `ssh-config`,
promiscuous mode, the machines' host keys, the lab NIC's name) and writes `inventories/lab.yml`
once, at the end, so a failure leaves the inventory as it was.

Host keys are recorded before anything connects to a machine, in the known_hosts file beside
the inventory (`LabPaths.known_hosts`), and every connection verifies them
(`orchestrator.hostkeys`). A Docker node's keys are read out of band, from its key files
through the Docker daemon, at every `lab.up`; a VM's (VirtualBox or libvirt) are the keys it
presents right after `vagrant up` created it (trust at creation: nothing but SSH reaches into
a VM).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import docker
from docker.errors import DockerException
from paramiko import SSHException
from paramiko.hostkeys import HostKeyEntry, InvalidHostKey

from orchestrator import connection
from orchestrator.connection import Connection
from orchestrator.errors import NetmatrixError
from orchestrator.host import Host
from orchestrator.lab import labfile, libvirt, privileges, vbox
from orchestrator.lab.config import LabConfig, LabPaths, Machine, lab_paths, load_config
from orchestrator.lab.dockerd import docker_client, ensure_dockerd
from orchestrator.lab.labfile import HostKey
from orchestrator.lab.node_image import ensure_node_image
from orchestrator.lab.tools import Say, one_line, require, run_tool
from orchestrator.lab.vagrant import INSTALL_HINT as VAGRANT_HINT
from orchestrator.lab.vagrant import SshConfig, Vagrant

PROVIDERS = ("virtualbox", "libvirt", "docker")
VM_PROVIDERS = ("virtualbox", "libvirt")
LAB_GROUP = "lab"
# Every lab machine runs on the controller (containers share its kernel, VMs its CPUs), so
# they share hardware: the matrix never measures two of them at the same time.
HARDWARE_GROUP = "hw_controller"
LAB_NIC_NUMBER = 2  # VirtualBox: NIC 1 is Vagrant's NAT, NIC 2 the lab network
NODE_HOST_KEYS = "/etc/ssh/ssh_host_*_key.pub"  # made by the node's entrypoint at first start
KEYSCAN_HINT = "it records a VirtualBox machine's host keys (apt-get install openssh-client)"
KEYSCAN_TIMEOUT = 30  # seconds; sshd answers as soon as `vagrant up` returns

Connect = Callable[[Host], Connection]


@dataclass(frozen=True)
class Lab:
    """One lab: its paths, configuration, and how it reaches hosts and reports progress."""

    paths: LabPaths
    config: LabConfig
    environ: Mapping[str, str]
    say: Say = print
    connect: Connect = connection.connect

    @property
    def vagrant(self) -> Vagrant:
        return Vagrant(self.paths, self.environ)

    def provider_of(self, host: str) -> str | None:
        """The provider that created `host` (Vagrant's machine state), None when not created."""
        for provider in PROVIDERS:
            if self.paths.machine_id_file(host, provider).exists():
                return provider
        return None

    def machine_id(self, host: str, provider: str) -> str | None:
        """The container or VM behind `host` (Vagrant's machine state), None when not created."""
        try:
            return self.paths.machine_id_file(host, provider).read_text().strip()
        except FileNotFoundError:
            return None


def open_lab(environ: Mapping[str, str] = os.environ, say: Say = print) -> Lab:
    """The lab described by the environment and `inventories/lab.vagrant.yml`."""
    paths = lab_paths(environ)
    return Lab(paths, load_config(paths, environ), environ, say)


def parse_hosts(text: str) -> list[str]:
    """`lab1,lab2` as a list of names (empty: every machine)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def choose_provider(
    requested: str | None,
    which: Callable[[str], str | None] = shutil.which,
    *,
    other_kernel: bool = False,
) -> str:
    """The requested provider; else VirtualBox when VBoxManage works; else libvirt when the
    experiment needs a kernel other than the controller's (`other_kernel`); else Docker, the
    fast default, whose nodes share the controller's kernel."""
    if requested:
        if requested not in PROVIDERS:
            raise NetmatrixError(
                f"unknown provider {requested!r}: use {', '.join(PROVIDERS[:-1])} or docker"
            )
        return requested
    if vbox.works(which):
        return "virtualbox"
    return "libvirt" if other_kernel else "docker"


def needs_other_kernel(spec_path: Path) -> bool:
    """Whether the spec's kernel patterns ask for a kernel this controller does not run
    (Docker nodes share it, so only VMs can have another)."""
    from orchestrator.experiment.spec import load_spec  # the lab needs no spec otherwise

    running = os.uname().release
    return any(not fnmatchcase(running, pattern) for pattern in load_spec(spec_path).axes.kernel)


def lab_up(
    lab: Lab, hosts: Sequence[str], provider: str | None = None, *, other_kernel: bool = False
) -> list[Host]:
    """Bring `hosts` up with `provider` (`choose_provider`), record their host keys (see the
    module docstring) and merge them into the lab inventory."""
    machines = lab.config.select(hosts)
    provider = choose_provider(provider, other_kernel=other_kernel)
    require("vagrant", VAGRANT_HINT)
    names = [machine.name for machine in machines]
    if provider in VM_PROVIDERS:
        require("ssh-keyscan", KEYSCAN_HINT)
    if provider == "virtualbox":
        require("VBoxManage", vbox.INSTALL_HINT)
    elif provider == "libvirt":
        libvirt.prepare(lab.paths, lab.config.box_kernels, lab.say)
    else:
        client = prepare_docker_provider(lab)
    existed = {name: lab.machine_id(name, provider) for name in names}
    lab.say(f"vagrant up --provider={provider} {' '.join(names)}")
    lab.vagrant.up(names, provider)
    ssh = lab.vagrant.ssh_config(names)
    if provider == "virtualbox":
        for name in names:
            set_vbox_promisc(lab, name, "allow-all", LAB_NIC_NUMBER)
    if provider in VM_PROVIDERS:
        keys = vm_host_keys(lab, provider, names, ssh, existed)
    else:
        keys = [key for name in names for key in node_host_keys(lab, client, name, ssh[name])]
    labfile.record_host_keys(lab.paths.known_hosts, keys)
    lab.say(f"recorded the host keys of {', '.join(names)} in {lab.paths.known_hosts}")
    entries = [lab_host(lab, machine, ssh[machine.name], provider) for machine in machines]
    labfile.update_lab_inventory(lab.paths.inventory, add=entries)
    lab.say(f"wrote {lab.paths.inventory} ({', '.join(names)})")
    return entries


def prepare_docker_provider(lab: Lab) -> docker.DockerClient:
    """Daemon, privileges for the Vagrantfile, node image: what `vagrant up` will need."""
    require("docker", "Vagrant's docker provider runs the docker CLI (apt-get install docker.io)")
    client = ensure_dockerd(lab.say)
    granted = privileges.detect()
    granted.write_for_vagrant(lab.paths.docker_settings)
    lab.say(f"lab nodes run with {granted.describe()}")
    ensure_node_image(client, lab.config.image, lab.paths.cache, lab.say)
    return client


def node_host_keys(
    lab: Lab, client: docker.DockerClient, name: str, ssh: SshConfig
) -> list[HostKey]:
    """A Docker node's host keys, read from its public key files through the Docker daemon:
    out of band, so no SSH server is trusted to say which key is its own."""
    try:
        container = client.containers.get(lab.machine_id(name, "docker") or "")
        done = container.exec_run(["sh", "-c", f"cat {NODE_HOST_KEYS}"], demux=True)
    except DockerException as error:
        raise NetmatrixError(
            f"{name}: cannot read its host keys through Docker ({one_line(str(error))}); "
            f"rerun `invoke lab.up --hosts {name}`"
        ) from None
    stdout, stderr = (part.decode(errors="replace") if part else "" for part in done.output)
    if done.exit_code != 0:
        raise NetmatrixError(
            f"{name}: cannot read {NODE_HOST_KEYS} in its container: {one_line(stderr)}"
        )
    return host_keys(name, ssh, stdout.splitlines(), NODE_HOST_KEYS)


def vm_host_keys(
    lab: Lab,
    provider: str,
    names: Sequence[str],
    ssh: Mapping[str, SshConfig],
    existed: Mapping[str, str | None],
) -> list[HostKey]:
    """Trust at creation. A VM that was there before this `vagrant up` (same machine id)
    keeps the keys recorded when it was created, under the port it answers at now (Vagrant
    may forward another one after a reboot). A VM `vagrant up` just created, or one whose keys
    never got recorded (a lab.up that failed after `vagrant up`), is asked for its keys."""
    recorded: dict[str, list[HostKey]] = {}
    for key in labfile.read_host_keys(lab.paths.known_hosts):
        recorded.setdefault(key.machine, []).append(key)
    keys = []
    for name in names:
        kept = recorded.get(name)
        if kept and lab.machine_id(name, provider) == existed[name]:
            known_as = labfile.known_hosts_name(ssh[name].hostname, ssh[name].port)
            keys += [dataclasses.replace(key, known_as=known_as) for key in kept]
        else:
            keys += scanned_host_keys(name, ssh[name])
    return keys


def scanned_host_keys(name: str, ssh: SshConfig) -> list[HostKey]:
    """The host keys a VM presents when asked right after `vagrant up` created it
    (`ssh-keyscan` asks for every key type). Trust at creation, as `ssh` trusts a first
    connection when a person confirms it: the VM was created a moment ago on this machine,
    and its SSH port is forwarded to a loopback address (VirtualBox) or it answers on a
    network that only this machine's libvirt bridges (libvirt)."""
    keyscan = require("ssh-keyscan", KEYSCAN_HINT)
    command = [keyscan, "-T", str(KEYSCAN_TIMEOUT), "-p", str(ssh.port), ssh.hostname]
    result = run_tool(command)
    # ssh-keyscan prints `<host> <type> <base64>`; its own notes go to stderr as comments.
    lines = [
        line.split(None, 1)[-1]
        for line in result.stdout.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if not lines:
        raise NetmatrixError(
            f"{name}: ssh-keyscan got no host key from {ssh.hostname}:{ssh.port} "
            f"({one_line(result.stderr or 'no output')}); rerun `invoke lab.up --hosts {name}`"
        )
    return host_keys(name, ssh, lines, "ssh-keyscan")


def host_keys(name: str, ssh: SshConfig, lines: Iterable[str], source: str) -> list[HostKey]:
    """`<type> <base64> [comment]` lines as `name`'s keys, under the name OpenSSH gives the
    address and port the machine answers at; each one must be a public key paramiko reads."""
    known_as = labfile.known_hosts_name(ssh.hostname, ssh.port)
    keys = set()
    for line in lines:
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2 or not is_public_key(fields[0], fields[1]):
            raise NetmatrixError(f"{name}: {source} holds no SSH public key: {one_line(line, 60)}")
        keys.add(HostKey(name, known_as, f"{fields[0]} {fields[1]}"))
    if not keys:
        raise NetmatrixError(f"{name}: {source} holds no SSH public key")
    return sorted(keys, key=lambda key: key.key)


def is_public_key(key_type: str, data: str) -> bool:
    try:
        return HostKeyEntry.from_line(f"- {key_type} {data}") is not None
    except (InvalidHostKey, SSHException):
        return False


def lab_host(lab: Lab, machine: Machine, ssh: SshConfig, provider: str) -> Host:
    """The inventory entry of a machine that is up: how to reach it and its lab variables."""
    variables = {
        "ansible_host": ssh.hostname,
        "ansible_port": ssh.port,
        "ansible_user": ssh.user,
        "ansible_ssh_private_key_file": ssh.identity_file,
        # Experiments build links, run perf system-wide and drive Docker: all as root.
        "ansible_become": True,
        # Checked against the keys recorded before this first connection (lab_up).
        "netmatrix_known_hosts": str(lab.paths.known_hosts),
        "provider": provider,
        "lab_address": machine.address,
        "hardware": HARDWARE_GROUP,
    }
    conn = lab.connect(Host(machine.name, variables))
    try:
        variables["lab_nic"] = nic_with_address(conn, machine.address)
        if provider == "libvirt":
            # The kernels its box carries: the matrix's kernel axis switches between them.
            variables["kernels"] = libvirt.installed_kernels(conn)
    finally:
        conn.close()
    return Host(machine.name, variables, (LAB_GROUP, HARDWARE_GROUP))


def nic_with_address(conn: Connection, address: str) -> str:
    """The name of the interface that carries `address` on the connected host."""
    result = conn.run(["ip", "-o", "-4", "addr", "show", "to", address], check=True)
    fields = result.stdout.split()
    if len(fields) < 2:
        raise NetmatrixError(
            f"{conn.host.name}: no interface has the lab address {address}: check the lab "
            "network in the Vagrantfile"
        )
    return fields[1].split("@")[0]


def lab_down(lab: Lab, hosts: Sequence[str]) -> None:
    """Destroy `hosts`, drop them from the inventory, and the lab network once unused."""
    names = [machine.name for machine in lab.config.select(hosts)]
    require("vagrant", VAGRANT_HINT)
    if any(lab.provider_of(name) == "docker" for name in names):
        ensure_dockerd(lab.say)
    lab.say(f"vagrant destroy {' '.join(names)}")
    lab.vagrant.destroy(names)
    labfile.update_lab_inventory(lab.paths.inventory, remove=names)
    labfile.forget_host_keys(lab.paths.known_hosts, names)
    remove_unused_lab_network(lab)


def remove_unused_lab_network(lab: Lab) -> None:
    """Remove the lab's docker network when no container is attached to it any more."""
    client = docker_client()
    if client is None:
        return
    for network in client.networks.list(names=[lab.config.docker_network]):
        network.reload()
        if not network.containers:
            lab.say(f"removing docker network {network.name}")
            network.remove()


def lab_promisc(lab: Lab, hosts: Sequence[str], mode: str, nic: int) -> None:
    """Set the lab NIC's promiscuous mode on each host, the way its provider allows."""
    vbox.check_promisc_mode(mode)
    entries = labfile.read_lab_inventory(lab.paths.inventory)
    for machine in lab.config.select(hosts):
        entry = entries.get(machine.name)
        if entry is None:
            raise NetmatrixError(
                f"{machine.name} is not in {lab.paths.inventory}: bring it up with "
                f"`invoke lab.up --hosts {machine.name}`"
            )
        if entry.vars.get("provider") == "virtualbox":
            set_vbox_promisc(lab, machine.name, mode, nic)
        else:
            set_guest_promisc(lab, entry, mode)


def set_vbox_promisc(lab: Lab, host: str, mode: str, nic: int) -> None:
    vbox.set_promisc(host, vbox.machine_uuid(lab.paths, host), nic, mode)
    lab.say(f"{host}: VirtualBox NIC {nic} promiscuous mode {mode} (verified with showvminfo)")


def set_guest_promisc(lab: Lab, entry: Host, mode: str) -> None:
    """Docker nodes have no hypervisor NIC, and libvirt's bridge filters nothing (see
    `orchestrator.lab.libvirt`): the lab NIC itself is set promiscuous, inside the machine,
    and verified with `ip -d link` (its promiscuity count)."""
    lab_nic = str(entry.vars["lab_nic"])
    state = "off" if mode == "deny" else "on"
    conn = lab.connect(entry)
    try:
        conn.sudo(["ip", "link", "set", lab_nic, "promisc", state], check=True)
        details = conn.run(["ip", "-d", "-o", "link", "show", lab_nic], check=True).stdout
    finally:
        conn.close()
    promiscuity = re.search(r"\bpromiscuity (\d+)", details)
    if promiscuity is None or (int(promiscuity[1]) > 0) != (state == "on"):
        raise NetmatrixError(f"{entry.name}: {lab_nic} did not turn promiscuous {state}")
    machine, inside = (
        ("libvirt VM", "the VM")
        if entry.vars.get("provider") == "libvirt"
        else ("docker node", "the node")
    )
    lab.say(
        f"{entry.name}: {machine}, no hypervisor NIC to set: turned {lab_nic} promiscuous "
        f"{state} inside {inside} with `ip link` (ip -d link: promiscuity {promiscuity[1]})"
    )
