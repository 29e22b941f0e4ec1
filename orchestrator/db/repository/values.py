"""The values the repository hands out and takes in: frozen, typed, free of sessions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ArtifactEntry = tuple[str, str, str, int]
"""An artifact of a run: kind, path relative to the results directory, sha256, size in bytes."""


@dataclass(frozen=True)
class CampaignRef:
    """A stored campaign, as the other queries take it."""

    id: int
    name: str
    spec_hash: str


@dataclass(frozen=True)
class CellRef:
    """A stored cell, as `start_run` takes it."""

    id: int
    key: str


@dataclass(frozen=True)
class SnapshotRef:
    """A stored host snapshot; runs started with it record its kernel as the one they ran on."""

    id: int
    host: str
    kernel: str


@dataclass(frozen=True)
class RunRow:
    """One line of `results.runs`. `messages` is messages per second in the plain phase."""

    run_id: str
    campaign: str
    cell: str
    host: str
    kernel: str
    mode: str
    size: int
    proto: str
    netem: str
    """The cell's netem value (`none`: the path as it is)."""
    repetition: int
    status: str
    mbps: float | None
    mbps_traced: float | None
    messages: float | None
    events: int | None
    lost_events: int | None
    ftrace: str | None = None
    """The ftrace part: ok, unsupported (the kernel has no function_graph…), or None (none)."""
    error: str | None = None


@dataclass(frozen=True)
class RunSamples:
    """One traced run as a diff reads it: its kernel, its records and its samples per function."""

    kernel: str
    records: int
    samples: Mapping[str, int]


@dataclass(frozen=True)
class PooledFunctionCounts:
    """Samples per kernel function over a mode's current ok runs, their records and number."""

    samples: Mapping[str, int]
    records: int
    runs: int


@dataclass(frozen=True)
class QueryResult:
    """What a user's SQL statement returned."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class RunValues:
    """A current run of a campaign with its cell and every metric it stored (name -> value)."""

    run_id: str
    cell: str
    mode: str
    size: int
    proto: str
    host: str
    kernel: str
    repetition: int
    status: str
    error: str | None
    metrics: Mapping[str, float]
    netem: str = "none"


@dataclass(frozen=True)
class CampaignInfo:
    """A campaign as run: its spec and the version of netmatrix that ran it."""

    name: str
    spec_text: str
    spec_hash: str
    version: str
    git_commit: str | None
    created_at: datetime


@dataclass(frozen=True)
class SnapshotRecord:
    """A host snapshot as stored; `taken_at` and the host name identify it across databases."""

    host: str
    kernel: str
    distro: str | None
    cpus: int | None
    mem_mb: int | None
    docker_version: str | None
    perf_version: str | None
    facts: Mapping[str, Any]
    taken_at: datetime


@dataclass(frozen=True)
class RunRecord:
    """Everything stored about one run, superseded or not: what an export writes and a merge
    copies. `snapshot` indexes `CampaignDump.snapshots`; metrics map name -> (value, unit)."""

    global_id: str
    cell: str
    mode: str
    size: int
    proto: str
    host: str
    cell_kernel: str
    repetition: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    superseded: bool
    superseded_by: str | None
    kernel: str
    snapshot: int
    metrics: Mapping[str, tuple[float, str]]
    event_counts: Mapping[str, int]
    device_counts: Mapping[str, int]
    function_counts: Mapping[str, int]
    artifacts: tuple[ArtifactEntry, ...]
    ftrace: tuple[Mapping[str, Any], ...] = ()
    """The run's ftrace_function rows (without run_id), by function."""
    netem: str = "none"
    """The cell's netem value (exports made before the netem axis have none)."""


# The columns a merge copies as they are, from a run and its cell.


RUN_FIELDS = (
    "global_id",
    "repetition",
    "status",
    "started_at",
    "finished_at",
    "error",
    "superseded",
    "superseded_by",
    "kernel",
)


CELL_FIELDS = ("mode", "size", "proto", "host", "netem")


@dataclass(frozen=True)
class CampaignDump:
    """A whole campaign, detached from its database."""

    campaign: CampaignInfo
    snapshots: tuple[SnapshotRecord, ...]
    runs: tuple[RunRecord, ...]


@dataclass(frozen=True)
class ImportResult:
    """What merging a campaign did: runs added, runs already present, runs newly superseded,
    and the conflicts that kept something out (the whole campaign when `campaign_conflict`)."""

    campaign: str
    added: tuple[str, ...]
    known: int
    superseded: int
    conflicts: tuple[str, ...]
    campaign_conflict: bool
