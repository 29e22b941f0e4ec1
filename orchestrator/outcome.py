"""What a playbook run produced, and the one status vocabulary for tasks and runs.

The engine makes these values, the display shows them, and an experiment run's outcome
(`orchestrator.experiment.run.RunOutcome`) is worded in the same `Status`: this module is
below all three, so none imports another for its types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from orchestrator.recap import HostStats, recap_text


class Status(StrEnum):
    """How a task ended on a host (Ansible's words), or how an experiment run ended.

    A task is `ok`, `changed`, `skipped`, `failed`, `ignored` (failed under `ignore_errors`)
    or `unreachable`; a run is `ok`, `failed`, `unsupported` (the kernel cannot build the
    mode) or `interrupted` (Ctrl-C). The database's `RunStatus` has the same values and the
    states a stored run passes through (`pending`, `running`).
    """

    OK = "ok"
    CHANGED = "changed"
    SKIPPED = "skipped"
    FAILED = "failed"
    IGNORED = "ignored"
    UNREACHABLE = "unreachable"
    UNSUPPORTED = "unsupported"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class ItemOutcome:
    """One loop item's result."""

    label: str
    status: Status
    result: Mapping[str, Any]


@dataclass(frozen=True)
class TaskOutcome:
    """What one task did on one host."""

    host: str
    play: str
    task: str
    status: Status
    result: Mapping[str, Any]
    items: tuple[ItemOutcome, ...] = ()
    delegated: bool = False
    verbose: bool = False  # show the result (debug)
    no_log: bool = False


@dataclass(frozen=True)
class HostRun:
    """One host's part of a run."""

    name: str
    status: Status  # OK, FAILED or UNREACHABLE
    stats: HostStats
    outcomes: tuple[TaskOutcome, ...]
    registered: Mapping[str, Any]
    processed: bool

    def results(self, task: str) -> list[Mapping[str, Any]]:
        """The results of every task (or handler) shown as `task`."""
        return [o.result for o in self.outcomes if o.task == task]


@dataclass(frozen=True)
class PlaybookRun:
    """Every host's result of a run. A failed or unreachable host leaves the others' intact."""

    hosts: Mapping[str, HostRun]
    check: bool = False

    @property
    def stats(self) -> dict[str, HostStats]:
        return {name: run.stats for name, run in self.hosts.items() if run.processed}

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(name for name, run in self.hosts.items() if run.status == Status.FAILED)

    @property
    def unreachable(self) -> tuple[str, ...]:
        return tuple(name for name, run in self.hosts.items() if run.status == Status.UNREACHABLE)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unreachable

    @property
    def exit_code(self) -> int:
        """Ansible's: 4 when a host was unreachable, else 2 when one failed, else 0."""
        if self.unreachable:
            return 4
        return 2 if self.failed else 0

    def recap(self) -> str:
        return recap_text(self.stats)
