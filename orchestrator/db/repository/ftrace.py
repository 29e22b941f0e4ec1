"""The ftrace_function table: a run's ftrace figures stored, and read back for reports.

Stored right after `finish_run`, in a transaction of its own: a crash between the two leaves
an ok run without its ftrace rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from types import MappingProxyType

from sqlalchemy import insert, select

from orchestrator.analysis.ftrace_reduce import GraphedFunction
from orchestrator.db.models import Cell, FtraceFunction, Run
from orchestrator.db.repository.values import CampaignRef
from orchestrator.db.session import Database

_FIGURES = tuple(field.name for field in fields(GraphedFunction) if field.name != "function")


def store_ftrace(db: Database, run_id: str, functions: Sequence[GraphedFunction]) -> None:
    """Store what the ftrace pass of run `run_id` (its global id) found, one row per root."""
    if not functions:
        return
    with db.transaction() as session:
        pk = session.scalar(select(Run.id).where(Run.global_id == run_id))
        if pk is None:
            raise ValueError(f"no run {run_id} in the database")
        session.execute(
            insert(FtraceFunction),
            [{"run_id": pk, **item.as_dict()} for item in functions],
        )


def campaign_ftrace(
    db: Database, campaign: CampaignRef, function: str | None = None
) -> Mapping[str, Mapping[str, GraphedFunction]]:
    """Run global id -> graphed function -> its figures, for the campaign's current runs.

    Args:
        function: only this function's rows.
    """
    statement = (
        select(Run.global_id, FtraceFunction)
        .join(Run, FtraceFunction.run_id == Run.id)
        .join(Cell, Run.cell_id == Cell.id)
        .where(Cell.campaign_id == campaign.id, ~Run.superseded)
    )
    if function is not None:
        statement = statement.where(FtraceFunction.function == function)
    found: dict[str, dict[str, GraphedFunction]] = {}
    with db.transaction() as session:
        for run_id, row in session.execute(statement):
            figures = {name: getattr(row, name) for name in _FIGURES}
            found.setdefault(run_id, {})[row.function] = GraphedFunction.from_dict(
                {"function": row.function, **figures}
            )
    return MappingProxyType(found)
