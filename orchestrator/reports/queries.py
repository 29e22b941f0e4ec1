"""The results tasks' questions to the database, opened read-only.

Each function opens the database for the one question it answers and returns plain values,
so the tasks stay thin and the same answers can feed tables, figures and reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.analysis.ftrace_reduce import GraphedFunction
from orchestrator.db import repository
from orchestrator.db.session import open_database
from orchestrator.errors import NetmatrixError
from orchestrator.experiment.spec import parse_spec
from orchestrator.yamlsource import Node, parse_yaml

RUN_COLUMNS = (
    "run_id",
    "campaign",
    "cell",
    "host",
    "kernel",
    "mode",
    "size",
    "proto",
    "netem",
    "repetition",
    "status",
    "mbps",
    "mbps_traced",
    "messages",
    "events",
    "lost_events",
    "ftrace",
    "error",
)


def runs(campaign: str | None) -> list[repository.RunRow]:
    """Every run (of one campaign, if named), oldest first."""
    with open_database(read_only=True) as db:
        ref = repository.find_campaign(db, campaign) if campaign else None
        return repository.runs_rows(db, ref)


@dataclass(frozen=True)
class CampaignData:
    """What the tables, figures and reports of one campaign read, loaded at once.

    `functions` maps (mode, kernel) to the function counts of the latest ok runs; it is empty
    when loaded without them.
    """

    info: repository.CampaignInfo
    snapshots: tuple[repository.SnapshotRecord, ...]
    runs: tuple[repository.RunValues, ...]
    functions: Mapping[tuple[str, str], repository.PooledFunctionCounts]
    ftrace: Mapping[str, Mapping[str, GraphedFunction]] = field(default_factory=dict)
    """Run global id -> graphed function -> its ftrace figures."""

    def baseline(self, asked: str | None = None) -> str:
        """`asked`, else the baseline mode of the campaign's spec."""
        if asked is not None:
            return asked
        try:
            source = f"spec of campaign {self.info.name}"
            return parse_spec(Node.root(parse_yaml(self.info.spec_text, source), source)).baseline
        except NetmatrixError as error:
            raise NetmatrixError(f"pass --baseline: {error}") from None


def load_campaign(campaign: str | None, *, functions: bool = True) -> CampaignData:
    """The campaign named (default: the newest), from the database opened read-only."""
    with open_database(read_only=True) as db:
        ref = repository.find_campaign(db, campaign)
        return CampaignData(
            info=repository.campaign_info(db, ref),
            snapshots=tuple(repository.campaign_snapshots(db, ref)),
            runs=tuple(repository.current_run_values(db, ref)),
            functions=repository.function_counts_by_mode_and_kernel(db, ref) if functions else {},
            ftrace=repository.campaign_ftrace(db, ref),
        )


@dataclass(frozen=True)
class SqlRows:
    """The user's query's column names (made unique) and its rows keyed by them."""

    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]


def sql(statement: str) -> SqlRows:
    """The rows of the user's SQL, run on the database opened read-only.

    Columns of the same name (`SELECT run.id, cell.id`) get a suffix so that none is lost.
    """
    with open_database(read_only=True) as db:
        result = repository.execute_read_only(db, statement)
    names: list[str] = []
    for column in result.columns:
        name, suffix = column, 2
        while name in names:
            name, suffix = f"{column}_{suffix}", suffix + 1
        names.append(name)
    return SqlRows(tuple(names), tuple(dict(zip(names, row, strict=True)) for row in result.rows))
