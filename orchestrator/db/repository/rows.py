"""Row helpers the lifecycle, the queries and the exchange share (one way to add a row,
to read a metric, to turn a row into a record).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator.db.models import (
    Artifact,
    Base,
    Campaign,
    DeviceCount,
    EventCount,
    FtraceFunction,
    FunctionCount,
    HostSnapshot,
    Metric,
    Run,
)
from orchestrator.db.repository.values import (
    ArtifactEntry,
    CampaignInfo,
    SnapshotRecord,
)


def now() -> datetime:
    return datetime.now(UTC)


def metric_value(name: str) -> Any:
    """The value of metric `name` of the run in the enclosing query (None when absent)."""
    return (
        select(Metric.value).where(Metric.run_id == Run.id, Metric.name == name).scalar_subquery()
    )


def find_or_add(session: Session, query: Any, make: Callable[[], Any]) -> Any:
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


def insert_rows(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(model), rows)


def insert_results(
    session: Session,
    run_pk: int,
    metrics: Mapping[str, tuple[float, str]],
    event_counts: Mapping[str, int],
    device_counts: Mapping[str, int],
    function_counts: Mapping[str, int],
    artifacts: Sequence[ArtifactEntry],
    ftrace: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Insert what a run measured (`finish_run`) or what an imported run brings along
    (`ftrace`: its ftrace_function rows, as `ftrace_row` gives them)."""
    insert_rows(
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
        insert_rows(
            session,
            model,
            [{"run_id": run_pk, key: name, value: number} for name, number in counts.items()],
        )
    insert_rows(
        session,
        Artifact,
        [
            {"run_id": run_pk, "kind": kind, "path": path, "sha256": sha256, "bytes": size}
            for kind, path, sha256, size in artifacts
        ],
    )
    insert_rows(session, FtraceFunction, [{"run_id": run_pk, **row} for row in ftrace])


FTRACE_COLUMNS = tuple(
    column.name for column in FtraceFunction.__table__.columns if column.name != "run_id"
)
"""An ftrace_function row's columns but its run's id: what an export carries of it."""


def ftrace_row(row: FtraceFunction) -> dict[str, Any]:
    """An ftrace_function row as `FTRACE_COLUMNS` names it."""
    return {name: getattr(row, name) for name in FTRACE_COLUMNS}


def campaign_record(row: Campaign) -> CampaignInfo:
    return CampaignInfo(
        row.name, row.spec_text, row.spec_hash, row.version, row.git_commit, row.created_at
    )


def snapshot_record(row: HostSnapshot) -> SnapshotRecord:
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
