"""The ftrace_function table read back for reports (`finish_run` stores a run's rows, in
the transaction that stores the rest of what it measured)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from types import MappingProxyType

from sqlalchemy import select

from orchestrator.analysis.ftrace_reduce import GraphedFunction
from orchestrator.db.models import Cell, FtraceFunction, Run
from orchestrator.db.repository.values import CampaignRef
from orchestrator.db.session import Database

_FIGURES = tuple(field.name for field in fields(GraphedFunction) if field.name != "function")


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
