"""`lab.status`: each machine's state, address, kernel and provider, as a table.

State comes from the provider (the Docker SDK for docker nodes, VBoxManage for VirtualBox
VMs, virsh for libvirt VMs), the
address from the generated inventory, the kernel from the host itself over SSH ("?" when it
cannot be reached).
"""

from __future__ import annotations

from dataclasses import dataclass

from docker.errors import NotFound
from rich.table import Table

from orchestrator.errors import NetmatrixError
from orchestrator.host import Host
from orchestrator.lab import labfile, libvirt, vbox
from orchestrator.lab.dockerd import docker_client
from orchestrator.lab.lifecycle import Lab

UNKNOWN = "?"


@dataclass(frozen=True)
class MachineStatus:
    """One row of `lab.status`."""

    host: str
    state: str
    address: str
    kernel: str
    provider: str


def lab_status(lab: Lab) -> list[MachineStatus]:
    """The status of every machine the Vagrantfile defines."""
    entries = labfile.read_lab_inventory(lab.paths.inventory)
    return [machine_status(lab, name, entries.get(name)) for name in lab.config.names]


def machine_status(lab: Lab, host: str, entry: Host | None) -> MachineStatus:
    provider = lab.provider_of(host)
    if provider is None:
        return MachineStatus(host, "not created", "-", "-", "-")
    machine_id = lab.paths.machine_id_file(host, provider).read_text().strip()
    if provider == "docker":
        state = docker_state(machine_id)
    elif provider == "libvirt":
        state = libvirt.domain_state(machine_id)
    else:
        state = vm_state(machine_id)
    address = UNKNOWN if entry is None else f"{entry.address}:{entry.port}"
    kernel = kernel_release(lab, entry) if state == "running" and entry else UNKNOWN
    return MachineStatus(host, state, address, kernel, provider)


def docker_state(container_id: str) -> str:
    client = docker_client()
    if client is None:
        return "unknown (dockerd not running)"
    try:
        return client.containers.get(container_id).status
    except NotFound:
        return "gone"


def vm_state(vm: str) -> str:
    try:
        return vbox.machine_state(vm)
    except NetmatrixError:
        return UNKNOWN


def kernel_release(lab: Lab, entry: Host) -> str:
    """`uname -r` on the host, through the connection seam; "?" when it cannot be asked."""
    try:
        conn = lab.connect(entry)
        try:
            return conn.run(["uname", "-r"], check=True, timeout=10).stdout.strip()
        finally:
            conn.close()
    except NetmatrixError:
        return UNKNOWN


def status_table(rows: list[MachineStatus]) -> Table:
    table = Table(title="lab")
    for column in ("host", "state", "address", "kernel", "provider"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.host, row.state, row.address, row.kernel, row.provider)
    return table
