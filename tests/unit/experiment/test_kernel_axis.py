"""The kernel axis through `run_matrix`: a host with two kernels measures on both.

The host is a fake VM that keeps its state: which kernels it has, which one runs, GRUB's
one-shot next entry, and a boot marker that changes with every reboot. The matrix must switch
it between the stages of its lane, store every run with the kernel `uname -r` showed after the
switch, and leave the host on its default kernel.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestrator.connection import Connection
from orchestrator.db import repository
from orchestrator.db.session import open_database
from orchestrator.experiment import matrix
from orchestrator.experiment.kernels import grub_entry
from orchestrator.facts import HostFacts, facts_from_output
from orchestrator.host import Host
from tests.unit.experiment.test_kernels import GRUB_CFG, proc_answer
from tests.unit.experiment.test_matrix_plan import PROVISIONED
from tests.unit.experiment.test_run import lab_host

DEFAULT = "6.1.0-13-amd64"  # grub.cfg's first entry
OTHER = "5.10.0-26-amd64"
RECORDED = (
    Path(__file__).parents[2] / "fixtures" / "facts" / "gather" / "local-root.out"
).read_text()
SPEC = """\
name: kernels
baseline: loopback
axes:
  mode: [loopback]
  size: [64]
  proto: [tcp]
  kernel: ["6.1.*", "5.10.*"]
repetitions: 2
duration: 1s
warmup: 100ms
phases: [plain]
"""


@dataclass
class FakeVM:
    """A host that reboots: `shutdown -r now` boots GRUB's next entry once, else the default."""

    running: str = DEFAULT
    boots: int = 1
    next_entry: str | None = None
    log: list[str] = field(default_factory=list)

    def connection(self, host: Host) -> Connection:
        conn = lab_host(
            PROVISIONED,
            (
                r"@@netmatrix-fact",
                lambda _: (0, RECORDED.replace("6.18.44-fc-v669", self.running), ""),
            ),
            (r"^uname -r$", lambda _: (0, f"{self.running}\n", "")),
            (
                r"^cat /proc/sys/kernel/random/boot_id",
                lambda _: (*proc_answer(f"boot-{self.boots}", self.boots), ""),
            ),
            (r"^dpkg-query ", (0, "install ok installed")),
            (r"^cat /boot/grub/grub.cfg$", (0, GRUB_CFG)),
            (r"^grub-reboot ", self.grub_reboot),
            (r"^shutdown -r now$", self.reboot),
        )
        conn.host = host
        return conn

    def connect(self, host: Host, **_: object) -> Connection:
        """The matrix's `connect`: every connection reaches this machine as it now runs."""
        return self.connection(host)

    def gather(self, hosts: Sequence[Host]) -> dict[str, HostFacts]:
        """The matrix's `gather`: the recorded facts, under the kernel this machine runs."""
        return {
            host.name: facts_from_output(RECORDED.replace("6.18.44-fc-v669", self.running))
            for host in hosts
        }

    def grub_reboot(self, text: str) -> tuple[int, str, str]:
        self.next_entry = shlex.split(text)[1]
        return 0, "", ""

    def reboot(self, _: str) -> tuple[int, str, str]:
        entries = {grub_entry(GRUB_CFG, release): release for release in (DEFAULT, OTHER)}
        self.running = entries.get(self.next_entry, DEFAULT)
        self.next_entry = None
        self.boots += 1
        self.log.append(f"booted {self.running}")
        return -1, "", ""  # the reboot cuts the session


@pytest.fixture
def vm(monkeypatch: pytest.MonkeyPatch) -> FakeVM:
    machine = FakeVM()
    monkeypatch.setattr("orchestrator.experiment.kernels.time.sleep", lambda _: None)
    return machine


def test_a_host_with_two_kernels_measures_on_both_and_ends_on_its_default(
    vm: FakeVM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "kernels.yml"
    spec.write_text(SPEC)
    inventory = tmp_path / "lab.yml"
    inventory.write_text(
        "all:\n  hosts:\n    lab1:\n      kernels: [linux-image-5.10.0-26-amd64]\n"
    )
    monkeypatch.setenv("NETMATRIX_DB", f"sqlite:///{tmp_path / 'netmatrix.db'}")
    options = matrix.MatrixOptions(spec, "lab1", inventory=inventory, results=tmp_path / "r")
    result = matrix.run_matrix(options, connect=vm.connect, gather=vm.gather)
    assert result.counts == {"ok": 4}
    with open_database() as db:
        [campaign] = repository.all_campaigns(db)
        rows = repository.runs_rows(db, campaign)
    stored = sorted((row.cell, row.repetition, row.kernel) for row in rows)
    base = "mode=loopback,size=64,proto=tcp,host=lab1"
    assert stored == [
        (f"{base},kernel={OTHER}", 1, OTHER),
        (f"{base},kernel={OTHER}", 2, OTHER),
        (f"{base},kernel={DEFAULT}", 1, DEFAULT),
        (f"{base},kernel={DEFAULT}", 2, DEFAULT),
    ]
    assert vm.log == [f"booted {OTHER}", f"booted {DEFAULT}"], "one switch, then back"
    assert vm.running == DEFAULT


def test_a_failed_switch_fails_that_kernel_s_cells_only_with_the_reason(
    vm: FakeVM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GRUB ignores the one-shot entry: the host comes back on its default kernel."""
    monkeypatch.setattr(vm, "grub_reboot", lambda text: (0, "", ""))
    spec = tmp_path / "kernels.yml"
    spec.write_text(SPEC)
    inventory = tmp_path / "lab.yml"
    inventory.write_text(
        "all:\n  hosts:\n    lab1:\n      kernels: [linux-image-5.10.0-26-amd64]\n"
    )
    monkeypatch.setenv("NETMATRIX_DB", f"sqlite:///{tmp_path / 'netmatrix.db'}")
    options = matrix.MatrixOptions(spec, "lab1", inventory=inventory, results=tmp_path / "r")
    assert matrix.run_matrix(options, connect=vm.connect, gather=vm.gather).counts == {
        "ok": 2,
        "failed": 2,
    }
    with open_database() as db:
        [campaign] = repository.all_campaigns(db)
        rows = repository.runs_rows(db, campaign)
    failed = {(row.cell, row.error) for row in rows if row.status == "failed"}
    base = "mode=loopback,size=64,proto=tcp,host=lab1"
    assert failed == {
        (
            f"{base},kernel={OTHER}",
            f"kernel {OTHER}: kernel switch on lab1: expected {OTHER}, running {DEFAULT} "
            "after reboot",
        )
    }
    assert {row.kernel for row in rows if row.status == "ok"} == {DEFAULT}
