"""What reports read: runs with their metrics, function samples, a campaign's spec and hosts."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

from sqlalchemy import Integer, cast, func, select

from orchestrator.db.metrics import EVENTS, LOST_EVENTS, MBPS, MBPS_TRACED, MSGS_PER_S, RECORDS
from orchestrator.db.models import (
    Campaign,
    Cell,
    FtraceFunction,
    FunctionCount,
    HostSnapshot,
    Metric,
    Run,
    RunStatus,
)
from orchestrator.db.repository.rows import (
    campaign_record,
    metric_value,
    snapshot_record,
)
from orchestrator.db.repository.values import (
    CampaignInfo,
    CampaignRef,
    PooledFunctionCounts,
    RunRow,
    RunSamples,
    RunValues,
    SnapshotRecord,
)
from orchestrator.db.session import Database


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
            Cell.netem,
            Run.repetition,
            Run.status,
            metric_value(MBPS).label("mbps"),
            metric_value(MBPS_TRACED).label("mbps_traced"),
            metric_value(MSGS_PER_S).label("messages"),
            cast(metric_value(EVENTS), Integer).label("events"),
            cast(metric_value(LOST_EVENTS), Integer).label("lost_events"),
            Run.error,
            _ftrace_state().label("ftrace"),
        )
        .join(Cell, Run.cell_id == Cell.id)
        .join(Campaign, Cell.campaign_id == Campaign.id)
        .order_by(Campaign.id, Cell.id, Run.repetition, Run.id)
    )
    if campaign is not None:
        statement = statement.where(Campaign.id == campaign.id)
    with db.transaction() as session:
        return [RunRow(**row._mapping) for row in session.execute(statement)]


def current_run_values(db: Database, campaign: CampaignRef) -> list[RunValues]:
    """The campaign's current (not superseded) runs of every status, in planned order."""
    statement = (
        select(
            Run.id.label("pk"),
            Run.global_id.label("run_id"),
            Cell.key.label("cell"),
            *(getattr(Cell, name) for name in ("mode", "size", "proto", "host", "netem")),
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
) -> dict[tuple[str, str], PooledFunctionCounts]:
    """Function samples summed over the current ok runs of each (mode, kernel) of the campaign."""
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
        (mode, kernel): PooledFunctionCounts(
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
        return campaign_record(row)


def campaign_snapshots(db: Database, campaign: CampaignRef) -> list[SnapshotRecord]:
    """The host snapshots the campaign's runs were measured with, oldest first."""
    with db.transaction() as session:
        return [
            snapshot_record(snapshot)
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


def traced_runs(
    db: Database,
    campaign: CampaignRef,
    mode: str,
    *,
    host: str | None = None,
    kernels: Sequence[str] | None = None,
) -> list[RunSamples]:
    """Each current ok run of `mode` that recorded events (of one host, on some kernels), with
    its function samples, in planned order: the repetitions a diff compares one by one."""
    runs = (
        select(Run.id, Run.kernel, Metric.value)
        .join(Cell, Run.cell_id == Cell.id)
        .join(Metric, (Metric.run_id == Run.id) & (Metric.name == RECORDS))
        .where(
            Cell.campaign_id == campaign.id,
            Cell.mode == mode,
            Run.status == RunStatus.OK,
            ~Run.superseded,
            Metric.value > 0,
        )
        .order_by(Cell.id, Run.repetition, Run.id)
    )
    if host is not None:
        runs = runs.where(Cell.host == host)
    if kernels is not None:
        runs = runs.where(Run.kernel.in_(list(kernels)))
    with db.transaction() as session:
        found = session.execute(runs).all()
        samples: dict[int, dict[str, int]] = {pk: {} for pk, _, _ in found}
        for pk, function, number in session.execute(
            select(FunctionCount.run_id, FunctionCount.function, FunctionCount.samples).where(
                FunctionCount.run_id.in_(list(samples))
            )
        ):
            samples[pk][function] = number
    return [
        RunSamples(kernel, int(records), MappingProxyType(samples[pk]))
        for pk, kernel, records in found
    ]


def campaign_kernels(db: Database, campaign: CampaignRef) -> list[str]:
    """The kernels the campaign's current runs ran on, sorted."""
    with db.transaction() as session:
        return sorted(
            set(
                session.scalars(
                    select(Run.kernel)
                    .join(Cell, Run.cell_id == Cell.id)
                    .where(Cell.campaign_id == campaign.id, ~Run.superseded)
                )
            )
        )


def _ftrace_state() -> Any:
    """A run's ftrace part: `unsupported` when any graphed function was (the kernel's words are
    in results.latency), `ok` when all were graphed, NULL without an ftrace pass. The largest
    status is the answer, since 'unsupported' sorts after 'ok'."""
    return (
        select(func.max(FtraceFunction.status))
        .where(FtraceFunction.run_id == Run.id)
        .scalar_subquery()
    )
