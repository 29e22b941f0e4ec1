"""A campaign out of one database and into another: dump for `results.export`, merge for
`results.import` (runs matched by global id, so importing twice adds nothing).
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from orchestrator.db.models import (
    Artifact,
    Campaign,
    Cell,
    DeviceCount,
    EventCount,
    FtraceFunction,
    FunctionCount,
    HostSnapshot,
    Metric,
    Run,
)
from orchestrator.db.repository.rows import (
    campaign_record,
    ftrace_row,
    insert_results,
    snapshot_record,
)
from orchestrator.db.repository.values import (
    CELL_FIELDS,
    RUN_FIELDS,
    CampaignDump,
    CampaignRef,
    ImportResult,
    RunRecord,
    SnapshotRecord,
)
from orchestrator.db.session import Database


def dump_campaign(db: Database, campaign: CampaignRef) -> CampaignDump:
    """Every row of one campaign, as values (for `results.export` and `results.import`)."""
    with db.transaction() as session:
        info = campaign_record(session.get_one(Campaign, campaign.id))
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
        ftrace = _by_run(session, FtraceFunction, ids, lambda row: (row.function, ftrace_row(row)))
    index = {snapshot_id: position for position, snapshot_id in enumerate(snapshot_ids)}
    return CampaignDump(
        campaign=info,
        snapshots=tuple(snapshot_record(snapshots[snapshot_id]) for snapshot_id in snapshot_ids),
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
                ftrace=tuple(entry for _, entry in sorted(ftrace.get(run.id, {}).items())),
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
            elif differ := [name for name, value in wanted.items() if getattr(cell, name) != value]:
                theirs = ", ".join(f"{name} {wanted[name]}" for name in differ)
                ours = ", ".join(str(getattr(cell, name)) for name in differ)
                problems.append(
                    f"cell {run.cell} of campaign {info.name}: {theirs} to "
                    f"import, {ours} here (run {run.global_id} not imported)"
                )
                continue
            if run.snapshot not in snapshot_ids:
                snapshot_ids[run.snapshot] = _snapshot_id(session, dump.snapshots[run.snapshot])
            _add_run(session, run, cell.id, snapshot_ids[run.snapshot])
            added.append(run.global_id)
    return ImportResult(info.name, tuple(added), len(known), superseded, tuple(problems), False)


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
    insert_results(
        session,
        row.id,
        run.metrics,
        run.event_counts,
        run.device_counts,
        run.function_counts,
        run.artifacts,
        run.ftrace,
    )
