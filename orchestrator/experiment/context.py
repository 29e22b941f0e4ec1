"""The values a matrix's parts hand each other: what was asked, the hosts as found, how it
ended, and the context every run of a lane shares."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.connection import Connection
from orchestrator.db import repository
from orchestrator.db.session import Database
from orchestrator.errors import DiskFull
from orchestrator.experiment import run
from orchestrator.experiment.progress import MatrixProgress
from orchestrator.experiment.spec import Spec
from orchestrator.host import Host

RESULTS_DIR = Path(os.environ.get("NETMATRIX_RESULTS", "results"))

ConnectFn = Callable[..., Connection]
"""`connect(host, **settings)`: how the matrix reaches a host (`orchestrator.connection`)."""


@dataclass(frozen=True)
class MatrixOptions:
    """What `invoke matrix` and `invoke rerun` were asked to do."""

    spec_path: Path
    hosts: str
    inventory: Path = Path("inventories/lab.yml")
    resume: bool = True
    dry_run: bool = False
    cell: str | None = None
    repetitions: int | None = None
    keep_script: bool = False
    results: Path = RESULTS_DIR


@dataclass(frozen=True)
class MatrixResult:
    """How a matrix ended: the campaign and the number of runs per status."""

    campaign: str
    counts: dict[str, int]
    interrupted: bool = False


@dataclass(frozen=True)
class LabHost:
    """A selected host with what the matrix learned about it: its facts and the kernel it
    ran when the matrix began (after a kernel switch, `facts` are those under the new one)."""

    host: Host
    facts: dict[str, Any]
    running: str


class Stop:
    """Shared between lanes: set on Ctrl-C (in-flight runs are then interrupted) or when the
    controller's disk fills (`halted` says why; runs in flight finish as they can)."""

    def __init__(self) -> None:
        self.interrupted = False
        self.halted: DiskFull | None = None
        self.active: dict[str, run.RunRequest] = {}
        self.lock = threading.Lock()

    @property
    def stopped(self) -> bool:
        return self.interrupted or self.halted is not None

    def interrupt(self) -> None:
        self.interrupted = True

    def halt(self, reason: DiskFull) -> None:
        with self.lock:
            self.halted = self.halted or reason


@dataclass(frozen=True)
class RunContext:
    """What every run of the matrix shares. `hosts` and `snapshots` are updated in place
    when a kernel switch changes what a host is (one lane per host, so no two writers)."""

    db: Database
    campaign: repository.CampaignRef
    spec: Spec
    options: MatrixOptions
    progress: MatrixProgress
    stop: Stop
    hosts: dict[str, LabHost]
    snapshots: dict[str, repository.SnapshotRef]
    connect: ConnectFn


@dataclass
class LaneHosts:
    """One lane's open connections, and its hosts that stopped answering (with why)."""

    connections: dict[str, Connection] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)
