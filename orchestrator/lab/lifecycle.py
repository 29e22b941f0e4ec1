"""Bringing lab machines up and down, and setting their lab NIC promiscuous.

`lab_up` does the slow, fallible work first (daemon, image, `vagrant up`, `ssh-config`,
promiscuous mode, the lab NIC's name) and writes `inventories/lab.yml` once, at the end, so a
failure leaves the inventory as it was.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from orchestrator import connection
from orchestrator.connection import Connection
from orchestrator.errors import NetmatrixError
from orchestrator.host import Host
from orchestrator.lab import labfile, privileges, vbox
from orchestrator.lab.config import LabConfig, LabPaths, Machine, lab_paths, load_config
from orchestrator.lab.dockerd import docker_client, ensure_dockerd
from orchestrator.lab.node_image import ensure_node_image
from orchestrator.lab.tools import Say, require
from orchestrator.lab.vagrant import INSTALL_HINT as VAGRANT_HINT
from orchestrator.lab.vagrant import SshConfig, Vagrant

PROVIDERS = ("virtualbox", "docker")
LAB_GROUP = "lab"
# Every lab machine runs on the controller (containers share its kernel, VMs its CPUs), so
# they share hardware: the matrix never measures two of them at the same time.
HARDWARE_GROUP = "hw_controller"
LAB_NIC_NUMBER = 2  # VirtualBox: NIC 1 is Vagrant's NAT, NIC 2 the lab network

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


def open_lab(environ: Mapping[str, str] = os.environ, say: Say = print) -> Lab:
    """The lab described by the environment and `inventories/lab.vagrant.yml`."""
    paths = lab_paths(environ)
    return Lab(paths, load_config(paths, environ), environ, say)


def parse_hosts(text: str) -> list[str]:
    """`lab1,lab2` as a list of names (empty: every machine)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def choose_provider(
    requested: str | None, which: Callable[[str], str | None] = shutil.which
) -> str:
    """The requested provider, else VirtualBox when VBoxManage is installed, else Docker."""
    if requested:
        if requested not in PROVIDERS:
            raise NetmatrixError(f"unknown provider {requested!r}: use {' or '.join(PROVIDERS)}")
        return requested
    return "virtualbox" if which("VBoxManage") else "docker"


def lab_up(lab: Lab, hosts: Sequence[str], provider: str | None = None) -> list[Host]:
    """Bring `hosts` up with `provider` and merge them into the lab inventory."""
    machines = lab.config.select(hosts)
    provider = choose_provider(provider)
    require("vagrant", VAGRANT_HINT)
    names = [machine.name for machine in machines]
    if provider == "virtualbox":
        require("VBoxManage", vbox.INSTALL_HINT)
    else:
        prepare_docker_provider(lab)
    lab.say(f"vagrant up --provider={provider} {' '.join(names)}")
    lab.vagrant.up(names, provider)
    ssh = lab.vagrant.ssh_config(names)
    if provider == "virtualbox":
        for name in names:
            set_vbox_promisc(lab, name, "allow-all", LAB_NIC_NUMBER)
    entries = [lab_host(lab, machine, ssh[machine.name], provider) for machine in machines]
    existing = labfile.read_lab_inventory(lab.paths.inventory)
    labfile.write_lab_inventory(lab.paths.inventory, labfile.merged(existing, entries))
    lab.say(f"wrote {lab.paths.inventory} ({', '.join(names)})")
    return entries


def prepare_docker_provider(lab: Lab) -> None:
    """Daemon, privileges for the Vagrantfile, node image: what `vagrant up` will need."""
    require("docker", "Vagrant's docker provider runs the docker CLI (apt-get install docker.io)")
    client = ensure_dockerd(lab.say)
    granted = privileges.detect()
    granted.write_for_vagrant(lab.paths.docker_settings)
    lab.say(f"lab nodes run with {granted.describe()}")
    ensure_node_image(client, lab.config.image, lab.paths.cache, lab.say)


def lab_host(lab: Lab, machine: Machine, ssh: SshConfig, provider: str) -> Host:
    """The inventory entry of a machine that is up: how to reach it and its lab variables."""
    variables = {
        "ansible_host": ssh.hostname,
        "ansible_port": ssh.port,
        "ansible_user": ssh.user,
        "ansible_ssh_private_key_file": ssh.identity_file,
        # Experiments build links, run perf system-wide and drive Docker: all as root.
        "ansible_become": True,
        # Nodes get new host keys whenever they are recreated, often at a reused address.
        "host_key_checking": False,
        "provider": provider,
        "lab_address": machine.address,
        "hardware": HARDWARE_GROUP,
    }
    lab_nic = nic_with_address(lab.connect(Host(machine.name, variables)), machine.address)
    return Host(machine.name, {**variables, "lab_nic": lab_nic}, (LAB_GROUP, HARDWARE_GROUP))


def nic_with_address(conn: Connection, address: str) -> str:
    """The name of the interface that carries `address` on the connected host."""
    try:
        result = conn.run(["ip", "-o", "-4", "addr", "show", "to", address], check=True)
    finally:
        conn.close()
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
    existing = labfile.read_lab_inventory(lab.paths.inventory)
    labfile.write_lab_inventory(lab.paths.inventory, labfile.without(existing, names))
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
            set_node_promisc(lab, entry, mode)


def set_vbox_promisc(lab: Lab, host: str, mode: str, nic: int) -> None:
    vbox.set_promisc(host, vbox.machine_uuid(lab.paths, host), nic, mode)
    lab.say(f"{host}: VirtualBox NIC {nic} promiscuous mode {mode} (verified with showvminfo)")


def set_node_promisc(lab: Lab, entry: Host, mode: str) -> None:
    """Docker nodes have no hypervisor NIC: the lab NIC itself is set promiscuous, inside."""
    lab_nic = str(entry.vars["lab_nic"])
    state = "off" if mode == "deny" else "on"
    conn = lab.connect(entry)
    try:
        conn.sudo(["ip", "link", "set", lab_nic, "promisc", state], check=True)
        flags = conn.run(["ip", "-o", "link", "show", lab_nic], check=True).stdout
    finally:
        conn.close()
    if ("PROMISC" in flags) != (state == "on"):
        raise NetmatrixError(f"{entry.name}: {lab_nic} did not turn promiscuous {state}")
    lab.say(
        f"{entry.name}: docker node, no hypervisor NIC to set: turned {lab_nic} promiscuous "
        f"{state} inside the node with `ip link`"
    )
