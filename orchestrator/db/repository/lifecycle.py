"""A run's life in the database: campaign, cell and snapshot found or made, the run started,
finished, superseded, or marked interrupted after a crash.

A run is findable from the moment it starts (`start_run` commits at once) and its results
are stored together or not at all (`finish_run`), so a crash loses at most the run in
progress, which `mark_stale_runs_interrupted` then marks. Of the runs of one cell and
repetition only the newest counts: starting a run supersedes the earlier ones, and
`supersede_cell_runs` supersedes a whole cell before it is run again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, select, update

from orchestrator.analysis.ftrace_reduce import GraphedFunction
from orchestrator.db.models import (
    Campaign,
    Cell,
    HostSnapshot,
    Run,
    RunStatus,
)
from orchestrator.db.repository.rows import (
    find_or_add,
    insert_results,
    now,
)
from orchestrator.db.repository.values import (
    ArtifactEntry,
    CampaignRef,
    CellRef,
    SnapshotRef,
)
from orchestrator.db.session import Database
from orchestrator.errors import NetmatrixError

# What resume skips. An unsupported mode stays unsupported on the same kernel, so trying it
# again on every resume would only cost a setup; `rerun --cell` tries it again on purpose.
DONE = (RunStatus.OK, RunStatus.UNSUPPORTED)


FINAL = frozenset({RunStatus.OK, RunStatus.FAILED, RunStatus.UNSUPPORTED, RunStatus.INTERRUPTED})


INTERRUPTED = "interrupted: netmatrix stopped before the run finished"


SNAPSHOT_COLUMNS = ("cpus", "mem_mb", "docker_version", "perf_version")


EMPTY: Mapping[str, Any] = MappingProxyType({})


def get_or_create_campaign(
    db: Database, name: str, spec_text: str, spec_hash: str, version: str, commit: str | None
) -> CampaignRef:
    """The campaign of this spec, created on first use: resume finds it by name and hash."""
    with db.transaction() as session:
        campaign = find_or_add(
            session,
            select(Campaign).where(Campaign.name == name, Campaign.spec_hash == spec_hash),
            lambda: Campaign(
                name=name,
                spec_text=spec_text,
                spec_hash=spec_hash,
                version=version,
                git_commit=commit,
                created_at=now(),
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
            taken_at=now(),
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
    *,
    netem: str = "none",
) -> CellRef:
    """The cell `key` of the campaign, created on first use.

    A stored cell whose attributes differ (the host now runs another kernel) is refused:
    resuming it would mix runs of two kernels under one key.
    """
    wanted = {
        "mode": mode,
        "size": size,
        "proto": proto,
        "host": host,
        "kernel": kernel,
        "netem": netem,
    }
    with db.transaction() as session:
        cell = find_or_add(
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
                started_at=now(),
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
    ftrace: Sequence[GraphedFunction] = (),
) -> None:
    """Store how a running run ended and everything it measured, in one transaction: a
    crash stores all of it or none (the run then stays `running`, and is redone).

    Args:
        run_id: the global id `start_run` returned.
        status: ok, failed, unsupported or interrupted.
        error: why it failed, or the kernel's message for an unsupported mode.
        metrics: name -> (value, unit), under the names of `orchestrator.db.metrics`; with
            `records`, the number of trace records the function counts come from.
        event_counts: trace event -> records; device_counts: device -> records;
        function_counts: kernel function -> samples.
        artifacts: the run's files; an ok run has at least one.
        ftrace: the ftrace pass's figures, one per graphed function.
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
        run.finished_at = now()
        insert_results(
            session,
            run.id,
            metrics,
            event_counts,
            device_counts,
            function_counts,
            artifacts,
            [item.as_dict() for item in ftrace],
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
                finished_at=now(),
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
