"""`results.report`: one static HTML page a collaborator opens without netmatrix.

The page holds the campaign's provenance (spec hash, netmatrix version and commit, every host
snapshot), the result tables, the figures (PNG embedded as data URIs, so the file travels
alone), the function diff of every mode against the baseline, the ftrace figures of each
graphed function, and the spec itself. It has no script and no external resource, and its
content depends only on the database: the same campaign gives the same bytes.
"""

from __future__ import annotations

import base64
from collections import Counter
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined

from orchestrator.analysis.diff import diff_functions
from orchestrator.db.models import RunStatus
from orchestrator.errors import NetmatrixError
from orchestrator.reports.cell_text import PLAIN
from orchestrator.reports.figures import KINDS, make_figure
from orchestrator.reports.functions import MIN_PERCENT, pooled_counts
from orchestrator.reports.html_template import TEMPLATE
from orchestrator.reports.latency import LatencyData, latency_table, spec_for
from orchestrator.reports.plots import figure_bytes
from orchestrator.reports.queries import CampaignData
from orchestrator.reports.table_formats import cell_lines, group_title, notes, title
from orchestrator.reports.tables import CellState, ResultTable, TableCell, TableSpec, build_table

DIFF_ITEMS = 15
P99 = "latency_p99/plain"
CAPTIONS = {
    "throughput": "Throughput against message size, one line per mode: mean with its 95% "
    "confidence interval; one panel per kernel.",
    "overhead": "Throughput of each mode relative to {baseline}: ratio of means with Fieller's "
    "95% interval; one bar per message size.",
    "probe": "Throughput while perf records, relative to the same run without: what tracing "
    "costs each mode.",
    "functions": "Kernel functions each mode's stacks hold that {baseline}'s do not, as the "
    "share of the mode's trace records (functions in at least " + f"{MIN_PERCENT:g}% of them).",
}


def write_report(data: CampaignData, out: Path, baseline: str | None = None) -> Path:
    """Write the campaign's report to `out` (an .html file)."""
    if out.suffix.lower() not in (".html", ".htm"):
        raise NetmatrixError(f"--out must end in .html, not {out.name!r}")
    page = render_report(data, baseline)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def render_report(data: CampaignData, baseline: str | None = None) -> str:
    """The report page as text."""
    reference = data.baseline(baseline)
    environment = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True)
    statuses = Counter(run.status for run in data.runs)
    return environment.from_string(TEMPLATE).render(
        info=data.info,
        snapshots=data.snapshots,
        statuses=", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        or "none",
        tables=[_table_view(table) for table in _tables(data, reference)],
        figures=[_figure_view(data, kind, reference) for kind in KINDS],
        baseline=reference,
        diffs=[_diff_view(data, mode, reference) for mode in _modes(data) if mode != reference],
        latency=[_table_view(table) for table in _latency_tables(data)],
    )


def _latency_tables(data: CampaignData) -> list[ResultTable]:
    """One table per function the campaign graphed: its mean duration, modes by kernels."""
    graphed = sorted({name for functions in data.ftrace.values() for name in functions})
    return [
        latency_table(
            LatencyData(data.info.name, data.runs, data.ftrace, function),
            spec_for("mode", "kernel", None),
        )
        for function in graphed
    ]


def _modes(data: CampaignData) -> list[str]:
    return list(dict.fromkeys(run.mode for run in data.runs))


def _tables(data: CampaignData, baseline: str) -> list[ResultTable]:
    specs = [
        TableSpec("mbps", by="kernel", baseline=baseline),
        TableSpec("msgs", by="kernel", baseline=baseline),
        TableSpec("probe", by="kernel"),
    ]
    if any(P99 in run.metrics for run in data.runs):
        specs.append(TableSpec("p99", by="kernel", baseline=baseline))
    return [build_table(data.info.name, data.runs, spec) for spec in specs]


def _table_view(table: ResultTable) -> dict[str, Any]:
    return {
        "title": title(table),
        "rows_axis": table.spec.rows,
        "cols": [f"{table.spec.cols} {col}" for col in table.cols],
        "groups": [
            {
                "heading": group_title(table, group),
                "rows": [
                    {
                        "label": row,
                        "cells": [
                            _cell_view(table, table.cell(group, row, col)) for col in table.cols
                        ],
                    }
                    for row in table.rows
                ],
            }
            for group in table.groups
        ],
        "notes": notes(table),
    }


def _cell_view(table: ResultTable, cell: TableCell) -> dict[str, Any]:
    lines = cell_lines(table, cell, PLAIN)
    return {
        "value": lines[0],
        "ratio": lines[1] if len(lines) > 1 else None,
        "css": "num" if cell.state == CellState.MEASURED else "state",
    }


def _figure_view(data: CampaignData, kind: str, baseline: str) -> dict[str, Any]:
    caption = CAPTIONS[kind].format(baseline=baseline)
    try:
        png = figure_bytes(make_figure(data, kind, baseline=baseline), "png")
    except NetmatrixError as error:
        return {"caption": caption, "png": None, "missing": str(error)}
    return {"caption": caption, "png": base64.b64encode(png).decode("ascii"), "missing": None}


def _diff_view(data: CampaignData, mode: str, baseline: str) -> dict[str, Any]:
    base, target = pooled_counts(data.functions, baseline), pooled_counts(data.functions, mode)
    view: dict[str, Any] = {
        "mode": mode,
        "base_records": base.records,
        "target_records": target.records,
        "missing_reason": None,
        "parts": [],
    }
    untraced = [name for name, counts in ((baseline, base), (mode, target)) if not counts.records]
    if untraced:
        statuses = {run.status for run in data.runs if run.mode in untraced}
        why = "no ok traced runs" + (
            f" (runs are {', '.join(sorted(statuses))})"
            if statuses and RunStatus.OK not in statuses
            else ""
        )
        view["missing_reason"] = f"{' and '.join(untraced)}: {why}"
        return view
    diff = diff_functions(base, target).as_dict()
    for key, heading, shares in (
        ("extra", f"Only in {mode}", False),
        ("missing", f"Only in {baseline}", False),
        ("changed", "Share of records changed more than 2×", True),
    ):
        view["parts"].append(
            {
                "title": heading,
                "total": len(diff[key]),
                "rows": diff[key][:DIFF_ITEMS],
                "shares": shares,
            }
        )
    return view
