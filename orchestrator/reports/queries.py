"""The results tasks' questions to the database, opened read-only.

Each function opens the database for the one question it answers and returns plain values,
so the tasks stay thin and the same answers can feed tables, figures and reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.analysis.diff import FunctionCounts, diff_functions
from orchestrator.db import repository
from orchestrator.db.session import open_database
from orchestrator.errors import NetmatrixError
from orchestrator.reports.diff import print_diff as _print_diff

RUN_COLUMNS = (
    "run_id",
    "campaign",
    "cell",
    "host",
    "kernel",
    "mode",
    "size",
    "proto",
    "repetition",
    "status",
    "mbps",
    "mbps_traced",
    "messages",
    "events",
    "lost_events",
    "error",
)


def runs(campaign: str | None) -> list[repository.RunRow]:
    """Every run (of one campaign, if named), oldest first."""
    with open_database(read_only=True) as db:
        ref = repository.find_campaign(db, campaign) if campaign else None
        return repository.runs_rows(db, ref)


@dataclass(frozen=True)
class ModeDiff:
    """A stored-counts diff of `mode` against `baseline`, with the records behind each side."""

    data: dict[str, list[dict[str, Any]]]
    base_records: int
    target_records: int


def mode_diff(
    mode: str, baseline: str, host: str | None, campaign: str | None, factor: float
) -> ModeDiff:
    """Diff the function counts of the latest ok runs of two modes."""
    if factor < 1.0:
        raise NetmatrixError(f"--factor must be at least 1, not {factor}")
    with open_database(read_only=True) as db:
        ref = repository.find_campaign(db, campaign)
        sides = []
        for which in (baseline, mode):
            counts = repository.latest_function_counts(db, ref, which, host)
            if counts.runs == 0:
                where = f" on {host}" if host else ""
                raise NetmatrixError(
                    f"campaign {ref.name}: no ok traced runs of mode {which}{where}"
                )
            sides.append(FunctionCounts(counts.samples, counts.records))
    result = diff_functions(sides[0], sides[1], factor=factor)
    return ModeDiff(result.as_dict(), sides[0].records, sides[1].records)


def print_diff(diff: ModeDiff, fmt: str) -> None:
    """Print a mode diff in `fmt` (table or json)."""
    _print_diff(diff.data, diff.base_records, diff.target_records, fmt)
