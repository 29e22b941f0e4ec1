import dataclasses
import io
from pathlib import Path

from docker.errors import NotFound
from rich.console import Console

from orchestrator.connection import UnreachableError
from orchestrator.host import Host
from orchestrator.lab import status
from orchestrator.lab.labfile import write_lab_inventory
from orchestrator.lab.lifecycle import Lab
from orchestrator.lab.status import MachineStatus, lab_status, status_table
from tests.fakes import FakeConnection

from .conftest import write_machine_id

REACH = {"ansible_host": "127.0.0.1", "ansible_port": 2222, "provider": "virtualbox"}


def test_machines_not_created_say_so(lab: Lab):
    assert lab_status(lab) == [
        MachineStatus("lab1", "not created", "-", "-", "-"),
        MachineStatus("lab2", "not created", "-", "-", "-"),
    ]


def test_running_vm_reports_kernel_over_ssh_with_standin_vboxmanage(lab: Lab, vboxmanage_log: Path):
    write_machine_id(lab, "lab1", "virtualbox", "vm-1")
    write_lab_inventory(lab.paths.inventory, {"lab1": Host("lab1", REACH, ("lab",))})
    uname = FakeConnection(rules=[(r"^uname -r$", (0, "5.15.0-126-generic\n"))])
    lab = dataclasses.replace(lab, connect=lambda host: uname)
    rows = lab_status(lab)
    assert rows[0] == MachineStatus(
        "lab1", "running", "127.0.0.1:2222", "5.15.0-126-generic", "virtualbox"
    )
    assert vboxmanage_log.read_text().splitlines() == ["showvminfo vm-1 --machinereadable"]


class FakeContainers:
    def __init__(self, states: dict[str, str]) -> None:
        self.states = states

    def get(self, container_id: str):
        if container_id not in self.states:
            raise NotFound(container_id)
        return type("Container", (), {"status": self.states[container_id]})()


def test_docker_nodes_are_inspected_with_the_sdk(lab: Lab, monkeypatch):
    write_machine_id(lab, "lab1", "docker", "c1")
    write_machine_id(lab, "lab2", "docker", "c2")
    client = type("Client", (), {"containers": FakeContainers({"c1": "running"})})()
    monkeypatch.setattr(status, "docker_client", lambda: client)

    def unreachable(host):
        raise UnreachableError(f"{host.name}: connection refused")

    docker_reach = {**REACH, "provider": "docker"}
    write_lab_inventory(lab.paths.inventory, {"lab1": Host("lab1", docker_reach, ("lab",))})
    rows = lab_status(dataclasses.replace(lab, connect=unreachable))
    assert rows == [
        MachineStatus("lab1", "running", "127.0.0.1:2222", "?", "docker"),
        MachineStatus("lab2", "gone", "?", "?", "docker"),
    ]


def test_docker_state_without_a_daemon(monkeypatch):
    monkeypatch.setattr(status, "docker_client", lambda: None)
    assert status.docker_state("c1") == "unknown (dockerd not running)"


def test_table_has_the_five_columns():
    console = Console(file=io.StringIO(), width=100)
    console.print(
        status_table([MachineStatus("lab1", "running", "127.0.0.1:2222", "6.1.0", "docker")])
    )
    text = console.file.getvalue()
    for word in ("host", "state", "address", "kernel", "provider", "lab1", "6.1.0", "docker"):
        assert word in text
