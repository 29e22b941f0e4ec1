"""A function diff (what one mode's stacks add over a baseline's) as JSON or tables.

Shared by `trace.diff` (two trace files) and `results.diff` (stored counts), which print the
same shape: `{"extra": [...], "missing": [...], "changed": [...]}`.

`results.diff` reads every current ok traced run of each side on its own (`load_sides`), so
that a function counts only when the repetitions agree (`analysis.diff.diff_repetitions`);
`--all` pools them into the raw view, and so does a side of a single run, marked unconfirmed.
A side is a mode on the kernels a pattern names (`--kernel`, `--baseline-kernel`): the same
mode on two kernels shows what one kernel's path adds or drops.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from orchestrator.analysis.diff import (
    WELCH,
    FunctionCounts,
    diff_functions,
    diff_repetitions,
    pooled,
)
from orchestrator.db import repository
from orchestrator.db.session import Database, open_database
from orchestrator.errors import NetmatrixError
from orchestrator.reports.rows import check_format

LEVEL = 0.95


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def print_diff(
    data: dict[str, list[dict[str, Any]]],
    base_records: int,
    target_records: int,
    fmt: str,
    *,
    marker: str = "",
) -> None:
    """Print a diff's dict as JSON, or as three tables with the record counts above them.

    `marker` follows each table's first column title (the raw view of single runs says it is
    unconfirmed there, on every table).
    """
    check_format(fmt, ("table", "json"))
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=True) + "\n")
        return
    console = _console()
    console.print(f"baseline: {base_records} records, target: {target_records} records")
    for key, title in (("extra", "Only in the target"), ("missing", "Only in the baseline")):
        table = Table(title=f"{title} ({len(data[key])})")
        table.add_column(f"function{marker}")
        table.add_column("records", justify="right")
        for item in data[key]:
            table.add_row(_printable(item["function"]), str(item["samples"]))
        console.print(table)
    table = Table(title=f"Share of records changed ({len(data['changed'])})")
    table.add_column(f"function{marker}")
    table.add_column("baseline", justify="right")
    table.add_column("target", justify="right")
    table.add_column("ratio", justify="right")
    for item in data["changed"]:
        table.add_row(
            _printable(item["function"]),
            f"{item['baseline_share']:.2%}",
            f"{item['target_share']:.2%}",
            f"{item['ratio']:.2f}x",
        )
    console.print(table)


def _console() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


# -- results.diff -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One side of a stored diff: a mode on some kernels, one `FunctionCounts` per run."""

    mode: str
    kernels: tuple[str, ...]
    runs: tuple[FunctionCounts, ...]

    def describe(self) -> str:
        records = sum(run.records for run in self.runs)
        runs = f"{len(self.runs)} run{'s' if len(self.runs) != 1 else ''}"
        return f"{self.mode} on {', '.join(self.kernels)}: {runs}, {records} records"


@dataclass(frozen=True)
class Wanted:
    """What a side is: a mode, on the kernels `kernel` (an fnmatch pattern) matches, if given;
    `flag` names the flag the pattern came from, for the error when it matches none."""

    mode: str
    kernel: str | None
    flag: str


def load_sides(
    campaign: str | None,
    host: str | None,
    mode: str,
    baseline: str | None,
    kernel: str | None,
    baseline_kernel: str | None,
) -> tuple[Side, Side]:
    """Both sides' current ok traced runs (of one host, if named), from the database read-only.

    The baseline is `baseline` (default: the same mode when a baseline kernel is named, else
    loopback) on `baseline_kernel` (default: `kernel`); the target is `mode` on `kernel`.
    """
    if baseline is None:
        baseline = mode if baseline_kernel is not None else "loopback"
    wanted = (
        Wanted(baseline, baseline_kernel, "--baseline-kernel")
        if baseline_kernel is not None
        else Wanted(baseline, kernel, "--kernel"),
        Wanted(mode, kernel, "--kernel"),
    )
    with open_database(read_only=True) as db:
        ref = repository.find_campaign(db, campaign)
        stored = repository.campaign_kernels(db, ref) if kernel or baseline_kernel else []
        return _side(db, ref, host, wanted[0], stored), _side(db, ref, host, wanted[1], stored)


def _side(
    db: Database,
    campaign: repository.CampaignRef,
    host: str | None,
    wanted: Wanted,
    stored: list[str],
) -> Side:
    """One side's runs; `stored` are the campaign's kernels, which a kernel pattern matches."""
    kernels = None if wanted.kernel is None else _kernels(campaign, wanted, stored)
    found = repository.traced_runs(db, campaign, wanted.mode, host=host, kernels=kernels)
    if not found:
        where = (f" on {host}" if host else "") + (
            f" on kernel {wanted.kernel}" if wanted.kernel else ""
        )
        raise NetmatrixError(
            f"campaign {campaign.name}: no ok traced runs of mode {wanted.mode}{where}"
        )
    return Side(
        mode=wanted.mode,
        kernels=tuple(sorted({run.kernel for run in found})),
        runs=tuple(FunctionCounts(dict(run.samples), run.records) for run in found),
    )


def _kernels(campaign: repository.CampaignRef, wanted: Wanted, stored: list[str]) -> list[str]:
    matched = [kernel for kernel in stored if fnmatchcase(kernel, str(wanted.kernel))]
    if not matched:
        raise NetmatrixError(
            f"{wanted.flag} {wanted.kernel!r} matches no kernel of campaign {campaign.name}; "
            f"kernels stored: {', '.join(stored) or 'none'}"
        )
    return matched


def print_stored_diff(
    baseline: Side, target: Side, fmt: str, *, raw: bool, presence: float, factor: float
) -> None:
    """The repetition test's lists, or the raw view (`raw`, or a side of a single run)."""
    if raw or len(baseline.runs) < 2 or len(target.runs) < 2:
        _print_raw(baseline, target, fmt, marked=not raw, factor=factor)
        return
    result = diff_repetitions(
        baseline.runs, target.runs, presence=presence, factor=factor, level=LEVEL
    )
    if fmt == "json":
        data = {
            "baseline": _side_dict(baseline),
            "target": _side_dict(target),
            **result.as_dict(),
        }
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=True) + "\n")
        return
    console = _console()
    alpha = 1.0 - LEVEL
    console.print(
        f"test: {WELCH}, at {LEVEL:.0%}. Added: in none of the baseline's runs and in at "
        f"least {presence:.0%} of the target's, or Welch p < {alpha:.2f}. Changed: mean "
        f"share ratio beyond {factor:g}x either way and Welch p < {alpha:.2f}."
    )
    console.print(f"baseline: {baseline.describe()}")
    console.print(f"target: {target.describe()}")
    console.print(
        "runs: how many of the target's runs hold the function vs of the baseline's; "
        "share, base, target: its mean share of a run's records"
    )
    for key, title in (
        ("extra", "Added by the target"),
        ("missing", "Dropped by the target (only in the baseline)"),
    ):
        items = getattr(result, key)
        table = _table(f"{title} ({len(items)})", items, ("records", "runs", "share", "test"))
        for item in items:
            share = item["target_share"] if key == "extra" else item["baseline_share"]
            table.add_row(
                _printable(item["function"]),
                str(item["samples"]),
                _runs(item, baseline, target),
                f"{share:.1%}",
                "presence" if item["test"] == "presence" else f"p={_p(item['p'])}",
            )
        console.print(table)
    columns = ("base", "target", "ratio", "runs", "p")
    table = _table(f"Share of records changed ({len(result.changed)})", result.changed, columns)
    for item in result.changed:
        table.add_row(
            _printable(item["function"]),
            f"{item['baseline_share']:.1%}",
            f"{item['target_share']:.1%}",
            f"{item['ratio']:.2f}x",
            _runs(item, baseline, target),
            _p(item["p"]),
        )
    console.print(table)
    console.print(
        f"not counted: {result.unsettled} functions the raw view lists are in too few runs or "
        "within the runs' spread (--all shows the raw view)"
    )


def _print_raw(baseline: Side, target: Side, fmt: str, *, marked: bool, factor: float) -> None:
    base, other = pooled(baseline.runs), pooled(target.runs)
    data = diff_functions(base, other, factor=factor).as_dict()
    if not marked:
        print_diff(data, base.records, other.records, fmt)
        return
    note = (
        f"n={len(baseline.runs)} vs n={len(target.runs)} runs: one run cannot tell noise "
        "apart; the raw view, unconfirmed"
    )
    if fmt == "json":
        data = {
            "baseline": _side_dict(baseline),
            "target": _side_dict(target),
            "test": note,
            "confirmed": False,
            "n": {"baseline": len(baseline.runs), "target": len(target.runs)},
            **data,
        }
    else:
        _console().print(note)
    print_diff(data, base.records, other.records, fmt, marker=" (unconfirmed: n=1)")


def _table(title: str, items: Sequence[dict[str, object]], columns: Sequence[str]) -> Table:
    """A table whose function names are never cut (the numbers' columns give way first)."""
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    longest = max((len(_printable(str(item["function"]))) for item in items), default=8)
    table.add_column("function", no_wrap=True, min_width=longest)
    for column in columns:
        table.add_column(column, justify="right")
    return table


def _runs(item: dict[str, object], baseline: Side, target: Side) -> str:
    """Per-repetition presence, target first: `8/8 vs 0/8`."""
    return (
        f"{item['target_runs']}/{len(target.runs)} vs {item['baseline_runs']}/{len(baseline.runs)}"
    )


def _side_dict(side: Side) -> dict[str, object]:
    return {
        "mode": side.mode,
        "kernels": list(side.kernels),
        "runs": len(side.runs),
        "records": sum(run.records for run in side.runs),
    }


def _p(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    return "<0.001" if number < 0.001 else f"{number:.3f}"
