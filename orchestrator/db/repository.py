"""Every query netmatrix makes, as typed functions over an open Database.

Each function is one transaction. A run is findable from the moment it starts (`start_run`
commits at once) and its results are stored together or not at all (`finish_run`), so a crash
loses at most the run in progress, which `mark_stale_runs_interrupted` then marks. Values are
bound parameters only; the user's own SQL (`execute_read_only`) runs on a read-only database.

Of the runs of one cell and repetition only the newest counts: starting a run supersedes the
earlier ones, and `supersede_cell_runs` supersedes a whole cell before it is run again.
"""

import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import Integer, cast, exists, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from orchestrator.db import postgres
from orchestrator.db.metrics import EVENTS, LOST_EVENTS, MBPS, MBPS_TRACED, MSGS_PER_S, RECORDS
from orchestrator.db.models import (
    Artifact,
    Base,
    Campaign,
    Cell,
    DeviceCount,
    EventCount,
    FunctionCount,
    HostSnapshot,
    Metric,
    Run,
    RunStatus,
)
from orchestrator.db.session import Database, driver_message
from orchestrator.errors import NetmatrixError

# What resume skips. An unsupported mode stays unsupported on the same kernel, so trying it
# again on every resume would only cost a setup; `rerun --cell` tries it again on purpose.
DONE = (RunStatus.OK, RunStatus.UNSUPPORTED)
FINAL = frozenset({RunStatus.OK, RunStatus.FAILED, RunStatus.UNSUPPORTED, RunStatus.INTERRUPTED})
INTERRUPTED = "interrupted: netmatrix stopped before the run finished"
SNAPSHOT_COLUMNS = ("cpus", "mem_mb", "docker_version", "perf_version")

ArtifactEntry = tuple[str, str, str, int]
"""An artifact of a run: kind, path relative to the results directory, sha256, size in bytes."""

EMPTY: Mapping[str, Any] = MappingProxyType({})


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
    repetition: int
    status: str
    mbps: float | None
    mbps_traced: float | None
    messages: float | None
    events: int | None
    lost_events: int | None
    error: str | None


@dataclass(frozen=True)
class FunctionCounts:
    """Samples per kernel function over a mode's current ok runs, their records and number."""

    samples: Mapping[str, int]
    records: int
    runs: int


@dataclass(frozen=True)
class QueryResult:
    """What a user's SQL statement returned."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def get_or_create_campaign(
    db: Database, name: str, spec_text: str, spec_hash: str, version: str, commit: str | None
) -> CampaignRef:
    """The campaign of this spec, created on first use: resume finds it by name and hash."""
    with db.transaction() as session:
        campaign = _find_or_add(
            session,
            select(Campaign).where(Campaign.name == name, Campaign.spec_hash == spec_hash),
            lambda: Campaign(
                name=name,
                spec_text=spec_text,
                spec_hash=spec_hash,
                version=version,
                git_commit=commit,
                created_at=_now(),
            ),
        )
        return CampaignRef(campaign.id, campaign.name, campaign.spec_hash)


def find_campaign(db: Database, name: str | None = None) -> CampaignRef:
    """The newest campaign called `name` (of any name when None), for the results tasks."""
    statement = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    with db.transaction() as session:
        campaign = session.scalar(
            statement if name is None else statement.where(Campaign.name == name)
        )
        if campaign is None:
            known = sorted(set(session.scalars(select(Campaign.name))))
            raise NetmatrixError(
                f"no campaign named {name}; the database has: {', '.join(known) or 'none'}"
                if name is not None
                else "the database has no campaign yet: run `invoke matrix` first"
            )
        return CampaignRef(campaign.id, campaign.name, campaign.spec_hash)


def record_host_snapshot(db: Database, host: str, facts: Mapping[str, Any]) -> SnapshotRef:
    """Store a host's facts as they are now, all of them as JSON and the main ones as columns.

    Args:
        host: the inventory name.
        facts: `HostFacts.as_dict()` of `orchestrator.facts`; `kernel_release` is required.
    """
    kernel = facts.get("kernel_release")
    if not kernel:
        raise NetmatrixError(f"the facts of {host} have no kernel release")
    distro = facts.get("distro") or {}
    with db.transaction() as session:
        snapshot = HostSnapshot(
            host=host,
            kernel=kernel,
            distro=distro.get("pretty_name"),
            facts=dict(facts),
            taken_at=_now(),
            **{column: facts.get(column) for column in SNAPSHOT_COLUMNS},
        )
        session.add(snapshot)
        session.flush()
        return SnapshotRef(snapshot.id, host, kernel)


def get_or_create_cell(
    db: Database,
    campaign: CampaignRef,
    key: str,
    mode: str,
    size: int,
    proto: str,
    host: str,
    kernel: str,
) -> CellRef:
    """The cell `key` of the campaign, created on first use.

    A stored cell whose attributes differ (the host now runs another kernel) is refused:
    resuming it would mix runs of two kernels under one key.
    """
    wanted = {"mode": mode, "size": size, "proto": proto, "host": host, "kernel": kernel}
    with db.transaction() as session:
        cell = _find_or_add(
            session,
            select(Cell).where(Cell.campaign_id == campaign.id, Cell.key == key),
            lambda: Cell(campaign_id=campaign.id, key=key, **wanted),
        )
        changed = [name for name, value in wanted.items() if getattr(cell, name) != value]
        if changed:
            stored = ", ".join(f"{name}={getattr(cell, name)}" for name in changed)
            now = ", ".join(f"{name}={wanted[name]}" for name in changed)
            raise NetmatrixError(
                f"cell {key} of campaign {campaign.name} was measured with {stored}, now {now}: "
                "put the difference in the cell key or start a new campaign"
            )
        return CellRef(cell.id, cell.key)


def start_run(db: Database, cell: CellRef, repetition: int, snapshot: SnapshotRef) -> str:
    """Record a run as `running`, committed at once, and return its global id.

    Earlier runs of the same cell and repetition are superseded by this one.
    """
    run_id = str(uuid.uuid4())
    with db.transaction() as session:
        session.add(
            Run(
                global_id=run_id,
                cell_id=cell.id,
                repetition=repetition,
                status=RunStatus.RUNNING,
                started_at=_now(),
                host_snapshot_id=snapshot.id,
                kernel=snapshot.kernel,
            )
        )
        session.flush()
        session.execute(
            update(Run)
            .where(
                Run.cell_id == cell.id,
                Run.repetition == repetition,
                Run.superseded_by.is_(None),
                Run.global_id != run_id,
            )
            .values(superseded=True, superseded_by=run_id)
            .execution_options(synchronize_session=False)
        )
    return run_id


def finish_run(
    db: Database,
    run_id: str,
    status: RunStatus,
    *,
    error: str | None = None,
    metrics: Mapping[str, tuple[float, str]] = EMPTY,
    event_counts: Mapping[str, int] = EMPTY,
    device_counts: Mapping[str, int] = EMPTY,
    function_counts: Mapping[str, int] = EMPTY,
    artifacts: Sequence[ArtifactEntry] = (),
) -> None:
    """Store how a running run ended and everything it measured, in one transaction.

    Args:
        run_id: the global id `start_run` returned.
        status: ok, failed, unsupported or interrupted.
        error: why it failed, or the kernel's message for an unsupported mode.
        metrics: name -> (value, unit), under the names of `orchestrator.db.metrics`; with
            `records`, the number of trace records the function counts come from.
        event_counts: trace event -> records; device_counts: device -> records;
        function_counts: kernel function -> samples.
        artifacts: the run's files; an ok run has at least one.
    """
    if status not in FINAL:
        raise ValueError(f"a run cannot finish as {status}")
    if status == RunStatus.OK and not artifacts:
        raise ValueError(f"run {run_id} is ok but stores no artifacts")
    with db.transaction() as session:
        run = session.scalar(select(Run).where(Run.global_id == run_id))
        if run is None:
            raise ValueError(f"no run {run_id} in the database")
        if run.status != RunStatus.RUNNING:
            raise NetmatrixError(
                f"run {run_id} is {run.status}, no longer running: another netmatrix marked it"
            )
        run.status = status
        run.error = error
        run.finished_at = _now()
        _insert_results(
            session, run.id, metrics, event_counts, device_counts, function_counts, artifacts
        )


def mark_stale_runs_interrupted(
    db: Database, campaign: CampaignRef, hosts: Sequence[str] | None = None
) -> int:
    """Mark the campaign's `running` runs `interrupted` (at start-up, after Ctrl-C).

    Args:
        hosts: only the runs of these hosts' cells: those the matrix holds the campaign's
            lock for, on a shared database where another matrix may run the others.

    Returns:
        How many runs were marked.
    """
    cells = select(Cell.id).where(Cell.campaign_id == campaign.id)
    if hosts is not None:
        cells = cells.where(Cell.host.in_(hosts))
    with db.transaction() as session:
        result = session.execute(
            update(Run)
            .where(Run.status == RunStatus.RUNNING, Run.cell_id.in_(cells))
            .values(
                status=RunStatus.INTERRUPTED,
                finished_at=_now(),
                error=func.coalesce(Run.error, INTERRUPTED),
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount  # type: ignore[attr-defined]


def completed_runs(db: Database, campaign: CampaignRef) -> set[tuple[str, int]]:
    """The (cell key, repetition) pairs resume skips: current runs that are ok or unsupported."""
    with db.transaction() as session:
        rows = session.execute(
            select(Cell.key, Run.repetition)
            .join(Cell, Run.cell_id == Cell.id)
            .where(Cell.campaign_id == campaign.id, Run.status.in_(DONE), ~Run.superseded)
        )
        return {(key, repetition) for key, repetition in rows}


def supersede_cell_runs(
    db: Database, campaign: CampaignRef, cell_key: str, host: str | None = None
) -> int:
    """Mark superseded every current run of the matching cells, before they are run again.

    Args:
        cell_key: a whole cell key or some of its `name=value` pairs (`mode=bridge,size=1400`).
        host: only the cells of this host.

    Returns:
        How many runs were superseded.
    """
    wanted = set(cell_key.split(","))
    with db.transaction() as session:
        cells = session.execute(
            select(Cell.id, Cell.key, Cell.host).where(Cell.campaign_id == campaign.id)
        )
        ids = [
            cell_id
            for cell_id, key, cell_host in cells
            if wanted <= set(key.split(",")) and host in (None, cell_host)
        ]
        result = session.execute(
            update(Run)
            .where(Run.cell_id.in_(ids), ~Run.superseded)
            .values(superseded=True)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount  # type: ignore[attr-defined]


def runs_rows(db: Database, campaign: CampaignRef | None = None) -> list[RunRow]:
    """Every run (of one campaign, or all), superseded ones too, in the order they were planned."""
    statement = (
        select(
            Run.global_id.label("run_id"),
            Campaign.name.label("campaign"),
            Cell.key.label("cell"),
            Cell.host,
            Run.kernel,
            Cell.mode,
            Cell.size,
            Cell.proto,
            Run.repetition,
            Run.status,
            _metric(MBPS).label("mbps"),
            _metric(MBPS_TRACED).label("mbps_traced"),
            _metric(MSGS_PER_S).label("messages"),
            cast(_metric(EVENTS), Integer).label("events"),
            cast(_metric(LOST_EVENTS), Integer).label("lost_events"),
            Run.error,
        )
        .join(Cell, Run.cell_id == Cell.id)
        .join(Campaign, Cell.campaign_id == Campaign.id)
        .order_by(Campaign.id, Cell.id, Run.repetition, Run.id)
    )
    if campaign is not None:
        statement = statement.where(Campaign.id == campaign.id)
    with db.transaction() as session:
        return [RunRow(**row._mapping) for row in session.execute(statement)]


def latest_function_counts(
    db: Database, campaign: CampaignRef, mode: str, host: str | None = None
) -> FunctionCounts:
    """Function samples summed over the current ok runs of a mode, for the baseline diff."""
    runs = (
        select(Run.id)
        .join(Cell, Run.cell_id == Cell.id)
        .where(
            Cell.campaign_id == campaign.id,
            Cell.mode == mode,
            Run.status == RunStatus.OK,
            ~Run.superseded,
        )
    )
    if host is not None:
        runs = runs.where(Cell.host == host)
    with db.transaction() as session:
        samples = session.execute(
            select(FunctionCount.function, func.sum(FunctionCount.samples))
            .where(FunctionCount.run_id.in_(runs))
            .group_by(FunctionCount.function)
        )
        records = session.scalar(
            select(func.sum(Metric.value)).where(Metric.run_id.in_(runs), Metric.name == RECORDS)
        )
        count = session.scalar(select(func.count()).select_from(runs.subquery()))
        return FunctionCounts(
            samples={function: int(total) for function, total in samples},
            records=int(records or 0),
            runs=count or 0,
        )


def integrity_check(db: Database) -> list[str]:
    """What is wrong with the database: SQLite's own checks (PostgreSQL: its catalog's, see
    `postgres.catalog_problems`), then ok runs without artifacts."""
    problems = []
    with db.transaction() as session:
        if db.engine.dialect.name == "sqlite":
            problems += [
                f"integrity: {message}"
                for (message,) in session.execute(text("PRAGMA integrity_check"))
                if message != "ok"
            ]
            problems += [
                f"{table} row {rowid} refers to a missing {parent} row"
                for table, rowid, parent, _ in session.execute(text("PRAGMA foreign_key_check"))
            ]
        elif db.engine.dialect.name == "postgresql":
            problems += postgres.catalog_problems(session)
        problems += [
            f"run {run_id} is ok but has no artifacts"
            for run_id in session.scalars(
                select(Run.global_id).where(
                    Run.status == RunStatus.OK, ~exists().where(Artifact.run_id == Run.id)
                )
            )
        ]
    return problems


def execute_read_only(db: Database, statement: str) -> QueryResult:
    """Run the user's own SQL (`results.sql`) as written, on a database opened read-only."""
    if not db.read_only:
        raise ValueError("the user's SQL runs only on a database opened with read_only=True")
    try:
        with db.transaction() as session:
            result = session.connection().exec_driver_sql(
                statement, execution_options=postgres.USER_SQL
            )
            if not result.returns_rows:
                return QueryResult((), ())
            return QueryResult(tuple(result.keys()), tuple(tuple(row) for row in result))
    except DBAPIError as error:
        raise NetmatrixError(f"SQL error: {driver_message(error)}") from None


def _now() -> datetime:
    return datetime.now(UTC)


def _metric(name: str) -> Any:
    """The value of metric `name` of the run in the enclosing query (None when absent)."""
    return (
        select(Metric.value).where(Metric.run_id == Run.id, Metric.name == name).scalar_subquery()
    )


def _find_or_add(session: Session, query: Any, make: Callable[[], Any]) -> Any:
    """The row `query` finds, else the new row `make()` returns, added.

    SQLite serializes writers (`BEGIN IMMEDIATE`); PostgreSQL lets two add the same row at
    once, and the second's insert then fails on the unique key: it takes the first one's row.
    """
    found = session.scalar(query)
    if found is not None:
        return found
    row = make()
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = session.scalar(query)
        if found is None:
            raise
        return found
    return row


def _insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(model), rows)


# -- what reports, exports and merges read (and, for a merge, write) ---------------------------


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
CELL_FIELDS = ("mode", "size", "proto", "host")


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


def current_run_values(db: Database, campaign: CampaignRef) -> list[RunValues]:
    """The campaign's current (not superseded) runs of every status, in planned order."""
    statement = (
        select(
            Run.id.label("pk"),
            Run.global_id.label("run_id"),
            Cell.key.label("cell"),
            *(getattr(Cell, name) for name in ("mode", "size", "proto", "host")),
            *(getattr(Run, name) for name in ("kernel", "repetition", "status", "error")),
        )
        .join(Cell, Run.cell_id == Cell.id)
        .where(Cell.campaign_id == campaign.id, ~Run.superseded)
        .order_by(Cell.id, Run.repetition, Run.id)
    )
    with db.transaction() as session:
        runs = {row.pk: row._asdict() for row in session.execute(statement)}
        metrics: dict[int, dict[str, float]] = {pk: {} for pk in runs}
        for pk, name, value in session.execute(
            select(Metric.run_id, Metric.name, Metric.value).where(Metric.run_id.in_(list(runs)))
        ):
            metrics[pk][name] = value
    return [
        RunValues(
            **{name: value for name, value in fields.items() if name != "pk"},
            metrics=MappingProxyType(metrics[pk]),
        )
        for pk, fields in runs.items()
    ]


def function_counts_by_mode_and_kernel(
    db: Database, campaign: CampaignRef
) -> dict[tuple[str, str], FunctionCounts]:
    """`latest_function_counts` for every (mode, kernel) of the campaign at once."""
    runs = (
        select(Run.id, Cell.mode, Run.kernel)
        .join(Cell, Run.cell_id == Cell.id)
        .where(Cell.campaign_id == campaign.id, Run.status == RunStatus.OK, ~Run.superseded)
        .subquery()
    )
    key = (runs.c.mode, runs.c.kernel)
    with db.transaction() as session:
        samples: dict[tuple[str, str], dict[str, int]] = {}
        for mode, kernel, function, total in session.execute(
            select(*key, FunctionCount.function, func.sum(FunctionCount.samples))
            .join(runs, FunctionCount.run_id == runs.c.id)
            .group_by(*key, FunctionCount.function)
        ):
            samples.setdefault((mode, kernel), {})[function] = int(total)
        records = {
            (mode, kernel): int(total or 0)
            for mode, kernel, total in session.execute(
                select(*key, func.sum(Metric.value))
                .join(runs, Metric.run_id == runs.c.id)
                .where(Metric.name == RECORDS)
                .group_by(*key)
            )
        }
        counts = session.execute(select(*key, func.count()).group_by(*key)).all()
    return {
        (mode, kernel): FunctionCounts(
            samples=samples.get((mode, kernel), {}),
            records=records.get((mode, kernel), 0),
            runs=number,
        )
        for mode, kernel, number in counts
    }


def campaign_info(db: Database, campaign: CampaignRef) -> CampaignInfo:
    """The campaign's spec and provenance."""
    with db.transaction() as session:
        row = session.get_one(Campaign, campaign.id)
        return _campaign_info(row)


def campaign_snapshots(db: Database, campaign: CampaignRef) -> list[SnapshotRecord]:
    """The host snapshots the campaign's runs were measured with, oldest first."""
    with db.transaction() as session:
        return [
            _snapshot_record(snapshot)
            for snapshot in session.scalars(
                select(HostSnapshot)
                .where(
                    HostSnapshot.id.in_(
                        select(Run.host_snapshot_id)
                        .join(Cell, Run.cell_id == Cell.id)
                        .where(Cell.campaign_id == campaign.id)
                    )
                )
                .order_by(HostSnapshot.taken_at, HostSnapshot.id)
            )
        ]


def all_campaigns(db: Database) -> list[CampaignRef]:
    """Every campaign, oldest first: what a merge walks through."""
    with db.transaction() as session:
        return [
            CampaignRef(row.id, row.name, row.spec_hash)
            for row in session.scalars(select(Campaign).order_by(Campaign.id))
        ]


def dump_campaign(db: Database, campaign: CampaignRef) -> CampaignDump:
    """Every row of one campaign, as values (for `results.export` and `results.import`)."""
    with db.transaction() as session:
        info = _campaign_info(session.get_one(Campaign, campaign.id))
        runs = session.execute(
            select(Run, Cell)
            .join(Cell, Run.cell_id == Cell.id)
            .where(Cell.campaign_id == campaign.id)
            .order_by(Cell.id, Run.repetition, Run.id)
        ).all()
        ids = [run.id for run, _ in runs]
        # In the runs' order, not the ids': another database numbers the same snapshots
        # in the order its writers happened to add them.
        snapshot_ids = list(dict.fromkeys(run.host_snapshot_id for run, _ in runs))
        snapshots = {
            row.id: row
            for row in session.scalars(
                select(HostSnapshot).where(HostSnapshot.id.in_(snapshot_ids))
            )
        }
        metrics = _by_run(session, Metric, ids, lambda row: (row.name, (row.value, row.unit)))
        events = _by_run(session, EventCount, ids, lambda row: (row.event, row.count))
        devices = _by_run(session, DeviceCount, ids, lambda row: (row.device, row.count))
        functions = _by_run(session, FunctionCount, ids, lambda row: (row.function, row.samples))
        artifacts = _by_run(
            session,
            Artifact,
            ids,
            lambda row: (row.path, (row.kind, row.path, row.sha256, row.bytes)),
        )
    index = {snapshot_id: position for position, snapshot_id in enumerate(snapshot_ids)}
    return CampaignDump(
        campaign=info,
        snapshots=tuple(_snapshot_record(snapshots[snapshot_id]) for snapshot_id in snapshot_ids),
        runs=tuple(
            RunRecord(
                **{name: getattr(run, name) for name in RUN_FIELDS},
                **{name: getattr(cell, name) for name in CELL_FIELDS},
                cell=cell.key,
                cell_kernel=cell.kernel,
                snapshot=index[run.host_snapshot_id],
                metrics=MappingProxyType(metrics.get(run.id, {})),
                event_counts=MappingProxyType(events.get(run.id, {})),
                device_counts=MappingProxyType(devices.get(run.id, {})),
                function_counts=MappingProxyType(functions.get(run.id, {})),
                artifacts=tuple(entry for _, entry in sorted(artifacts.get(run.id, {}).items())),
            )
            for run, cell in runs
        ),
    )


def import_campaign(db: Database, dump: CampaignDump, *, keep_both: bool = False) -> ImportResult:
    """Merge a dumped campaign into this database, in one transaction.

    Runs are matched by global id: a run already here is not added again (only marked
    superseded when the dump says so), so importing twice adds nothing. A campaign here with
    the same name and another spec hash is a conflict: nothing is imported unless `keep_both`,
    which imports it as a second campaign of that name. A cell stored here with other
    attributes (another kernel under the same key) is a conflict that keeps its runs out.
    """
    info = dump.campaign
    with db.transaction() as session:
        campaign = session.scalar(
            select(Campaign).where(Campaign.name == info.name, Campaign.spec_hash == info.spec_hash)
        )
        if campaign is None:
            others = session.scalars(select(Campaign.spec_hash).where(Campaign.name == info.name))
            conflicts = tuple(
                f"campaign {info.name}: spec {info.spec_hash[:12]} to import, "
                f"spec {other[:12]} here"
                for other in others
            )
            if conflicts and not keep_both:
                return ImportResult(info.name, (), 0, 0, conflicts, True)
            campaign = Campaign(**dataclasses.asdict(info))
            session.add(campaign)
            session.flush()
        known = dict(
            session.execute(
                select(Run.global_id, Run.superseded).where(
                    Run.global_id.in_([run.global_id for run in dump.runs])
                )
            ).all()
        )
        cells = {
            cell.key: cell
            for cell in session.scalars(select(Cell).where(Cell.campaign_id == campaign.id))
        }
        snapshot_ids: dict[int, int] = {}
        added: list[str] = []
        problems: list[str] = []
        superseded = 0
        for run in dump.runs:
            if run.global_id in known:
                if run.superseded and not known[run.global_id]:
                    session.execute(
                        update(Run)
                        .where(Run.global_id == run.global_id)
                        .values(superseded=True, superseded_by=run.superseded_by)
                    )
                    superseded += 1
                continue
            wanted = {name: getattr(run, name) for name in CELL_FIELDS} | {
                "kernel": run.cell_kernel
            }
            cell = cells.get(run.cell)
            if cell is None:
                cell = cells[run.cell] = Cell(campaign_id=campaign.id, key=run.cell, **wanted)
                session.add(cell)
                session.flush()
            elif any(getattr(cell, name) != value for name, value in wanted.items()):
                problems.append(
                    f"cell {run.cell} of campaign {info.name}: kernel {run.cell_kernel} to "
                    f"import, {cell.kernel} here (run {run.global_id} not imported)"
                )
                continue
            if run.snapshot not in snapshot_ids:
                snapshot_ids[run.snapshot] = _snapshot_id(session, dump.snapshots[run.snapshot])
            _add_run(session, run, cell.id, snapshot_ids[run.snapshot])
            added.append(run.global_id)
    return ImportResult(info.name, tuple(added), len(known), superseded, tuple(problems), False)


def _campaign_info(row: Campaign) -> CampaignInfo:
    return CampaignInfo(
        row.name, row.spec_text, row.spec_hash, row.version, row.git_commit, row.created_at
    )


def _snapshot_record(row: HostSnapshot) -> SnapshotRecord:
    return SnapshotRecord(
        host=row.host,
        kernel=row.kernel,
        distro=row.distro,
        cpus=row.cpus,
        mem_mb=row.mem_mb,
        docker_version=row.docker_version,
        perf_version=row.perf_version,
        facts=MappingProxyType(dict(row.facts)),
        taken_at=row.taken_at,
    )


def _by_run(session: Session, model: Any, ids: list[int], item: Any) -> dict[int, dict[Any, Any]]:
    """Rows of a per-run table grouped by run, each row made a (key, value) pair by `item`."""
    grouped: dict[int, dict[Any, Any]] = {}
    for row in session.scalars(select(model).where(model.run_id.in_(ids))):
        key, value = item(row)
        grouped.setdefault(row.run_id, {})[key] = value
    return grouped


def _snapshot_id(session: Session, snapshot: SnapshotRecord) -> int:
    """The id of this snapshot here: the one taken of the same host at the same time, or new."""
    found = session.scalar(
        select(HostSnapshot.id).where(
            HostSnapshot.host == snapshot.host,
            HostSnapshot.kernel == snapshot.kernel,
            HostSnapshot.taken_at == snapshot.taken_at,
        )
    )
    if found is not None:
        return found
    values = {field.name: getattr(snapshot, field.name) for field in dataclasses.fields(snapshot)}
    row = HostSnapshot(**{**values, "facts": dict(snapshot.facts)})
    session.add(row)
    session.flush()
    return row.id


def _add_run(session: Session, run: RunRecord, cell_id: int, snapshot_id: int) -> None:
    row = Run(
        **{name: getattr(run, name) for name in RUN_FIELDS},
        cell_id=cell_id,
        host_snapshot_id=snapshot_id,
    )
    session.add(row)
    session.flush()
    _insert_results(
        session,
        row.id,
        run.metrics,
        run.event_counts,
        run.device_counts,
        run.function_counts,
        run.artifacts,
    )


def _insert_results(
    session: Session,
    run_pk: int,
    metrics: Mapping[str, tuple[float, str]],
    event_counts: Mapping[str, int],
    device_counts: Mapping[str, int],
    function_counts: Mapping[str, int],
    artifacts: Sequence[ArtifactEntry],
) -> None:
    """Insert what a run measured (`finish_run`) or what an imported run brings along."""
    _insert(
        session,
        Metric,
        [
            {"run_id": run_pk, "name": name, "value": value, "unit": unit}
            for name, (value, unit) in metrics.items()
        ],
    )
    for model, key, value, counts in (
        (EventCount, "event", "count", event_counts),
        (DeviceCount, "device", "count", device_counts),
        (FunctionCount, "function", "samples", function_counts),
    ):
        _insert(
            session,
            model,
            [{"run_id": run_pk, key: name, value: number} for name, number in counts.items()],
        )
    _insert(
        session,
        Artifact,
        [
            {"run_id": run_pk, "kind": kind, "path": path, "sha256": sha256, "bytes": size}
            for kind, path, sha256, size in artifacts
        ],
    )
