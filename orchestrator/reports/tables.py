"""Result tables: a campaign's current runs summarised per (row, column) cell, as values.

A cell holds the mean of a metric over its latest ok runs with Student's 95 % interval and n,
and with a baseline mode also the ratio to the baseline's cell with Fieller's interval. For
`probe` the cell is the ratio `mbps/traced / mbps/plain` itself: what recording costs (and for
`ftrace_probe`, `mbps/ftrace / mbps/plain`: what the function_graph pass costs).

A cell without a number says why — unsupported, failed, not run, pending or no data (ok runs
that did not store this metric, such as latency in stream mode) — because a reader takes a
zero or a blank for a measurement. Axes not on the rows, columns or `by` are pooled; the
table names the ones that had more than one value, so pooling two hosts is never hidden.
Rendering lives in `table_formats`; this module only computes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from orchestrator.analysis.stats import Ratio, Summary, describe, ratio_of_means
from orchestrator.db import metrics as names
from orchestrator.db.models import RunStatus
from orchestrator.db.repository import RunValues
from orchestrator.errors import NetmatrixError

AXES = ("mode", "size", "proto", "host", "kernel", "netem")
MODE = "mode"
LEVEL = 0.95


@dataclass(frozen=True)
class MetricChoice:
    """What `--metric` names: a stored metric, or for a ratio metric its numerator/denominator."""

    title: str
    unit: str
    numerator: str
    denominator: str | None = None


METRICS: Mapping[str, MetricChoice] = MappingProxyType(
    {
        "mbps": MetricChoice("Throughput", "Mbit/s", names.MBPS),
        "mbps_traced": MetricChoice("Throughput while tracing", "Mbit/s", names.MBPS_TRACED),
        "msgs": MetricChoice("Message rate", "messages/s", names.MSGS_PER_S),
        "p50": MetricChoice("Median latency", "µs", "latency_p50/plain"),
        "p99": MetricChoice("99th percentile latency", "µs", "latency_p99/plain"),
        "probe": MetricChoice(
            "Throughput while tracing / without", "ratio", names.MBPS_TRACED, names.MBPS
        ),
        "ftrace_probe": MetricChoice(
            "Throughput under ftrace / without", "ratio", names.MBPS_FTRACE, names.MBPS
        ),
    }
)


class CellState(StrEnum):
    """Why a cell has a number or not."""

    MEASURED = "measured"
    NO_DATA = "no data"
    UNSUPPORTED = "unsupported"
    FAILED = "failed"
    PENDING = "pending"
    NOT_RUN = "not run"


@dataclass(frozen=True)
class TableCell:
    """One cell.

    Attributes:
        n: ok runs that gave a value.
        values: their values (for `probe`, the traced ones), kept for ratios to a baseline.
        summary: mean and interval of the metric (None for `probe` and cells without values).
        ratio: to the baseline's cell, or for `probe` traced over plain.
        failed: current runs of the cell that failed or were interrupted.
        note: the kernel's or the run's message for a cell without a number; for a measured
            cell, why it has no ratio to the baseline.
    """

    state: CellState
    n: int = 0
    values: tuple[float, ...] = ()
    summary: Summary | None = None
    ratio: Ratio | None = None
    failed: int = 0
    note: str | None = None
    is_baseline: bool = False


@dataclass(frozen=True)
class TableSpec:
    """What `results.table` was asked for."""

    metric: str = "mbps"
    rows: str = MODE
    cols: str = "size"
    by: str | None = None
    baseline: str | None = None


@dataclass(frozen=True)
class TableGroup:
    """The cells of one value of `by` (the only group when there is no `by`)."""

    value: str | None
    cells: Mapping[tuple[str, str], TableCell]


@dataclass(frozen=True)
class ResultTable:
    """A table's cells with its axes' values in display order and what it pooled."""

    campaign: str
    spec: TableSpec
    metric: MetricChoice
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    groups: tuple[TableGroup, ...]
    pooled: Mapping[str, tuple[str, ...]]

    def cell(self, group: TableGroup, row: str, col: str) -> TableCell:
        return group.cells.get((row, col), TableCell(CellState.NOT_RUN))


def check_spec(spec: TableSpec) -> MetricChoice:
    """The spec's metric, once the spec is known to make sense; else a user error."""
    if spec.metric not in METRICS:
        raise NetmatrixError(f"--metric must be one of {', '.join(METRICS)}, not {spec.metric!r}")
    for flag, axis in (("--rows", spec.rows), ("--cols", spec.cols), ("--by", spec.by)):
        if axis is not None and axis not in AXES:
            raise NetmatrixError(f"{flag} must be one of {', '.join(AXES)}, not {axis!r}")
    chosen = [axis for axis in (spec.rows, spec.cols, spec.by) if axis is not None]
    if len(set(chosen)) != len(chosen):
        raise NetmatrixError("--rows, --cols and --by must name different axes")
    if spec.baseline is not None:
        if METRICS[spec.metric].denominator is not None:
            raise NetmatrixError(f"--baseline does not apply to --metric {spec.metric}")
        if MODE not in chosen:
            raise NetmatrixError("--baseline compares modes: put mode on --rows, --cols or --by")
    return METRICS[spec.metric]


def build_table(campaign: str, runs: Sequence[RunValues], spec: TableSpec) -> ResultTable:
    """Summarise `runs` (a campaign's current runs) as `spec` asks."""
    metric = check_spec(spec)
    if not runs:
        raise NetmatrixError(f"campaign {campaign} has no runs yet")
    modes = _values(runs, MODE)
    if spec.baseline is not None and spec.baseline not in modes:
        raise NetmatrixError(
            f"--baseline {spec.baseline} is not a mode of campaign {campaign}: "
            f"it has {', '.join(modes)}"
        )
    grouped: dict[tuple[str | None, str, str], list[RunValues]] = {}
    for run in runs:
        key = (
            _axis(run, spec.by) if spec.by else None,
            _axis(run, spec.rows),
            _axis(run, spec.cols),
        )
        grouped.setdefault(key, []).append(run)
    unrated = {key: _cell(members, metric) for key, members in grouped.items()}
    groups = tuple(
        TableGroup(
            value,
            MappingProxyType(
                {
                    (row, col): _with_baseline(unrated, (value, row, col), spec)
                    for (group, row, col) in unrated
                    if group == value
                }
            ),
        )
        for value in (_values(runs, spec.by) if spec.by else [None])
    )
    used = {spec.rows, spec.cols, spec.by}
    pooled = {
        axis: tuple(values)
        for axis in AXES
        if axis not in used and len(values := _values(runs, axis)) > 1
    }
    return ResultTable(
        campaign=campaign,
        spec=spec,
        metric=metric,
        rows=tuple(_values(runs, spec.rows)),
        cols=tuple(_values(runs, spec.cols)),
        groups=groups,
        pooled=MappingProxyType(pooled),
    )


def _axis(run: RunValues, axis: str) -> str:
    return str(getattr(run, axis))


def _values(runs: Sequence[RunValues], axis: str) -> list[str]:
    """An axis's values in the order the matrix planned them (sizes by number)."""
    values = list(dict.fromkeys(_axis(run, axis) for run in runs))
    return sorted(values, key=int) if axis == "size" else values


def _cell(runs: Sequence[RunValues], metric: MetricChoice) -> TableCell:
    ok = [run for run in runs if run.status == RunStatus.OK]
    failed = [run for run in runs if run.status in (RunStatus.FAILED, RunStatus.INTERRUPTED)]
    unsupported = [run for run in runs if run.status == RunStatus.UNSUPPORTED]
    if metric.denominator is None:
        values = [run.metrics[metric.numerator] for run in ok if metric.numerator in run.metrics]
        if values:
            return TableCell(
                CellState.MEASURED,
                len(values),
                tuple(values),
                describe(values, LEVEL),
                failed=len(failed),
            )
    else:
        pairs = [
            (run.metrics[metric.numerator], run.metrics[metric.denominator])
            for run in ok
            if metric.numerator in run.metrics and metric.denominator in run.metrics
        ]
        if pairs:
            tops, bottoms = zip(*pairs, strict=True)
            ratio, note = _ratio(tops, bottoms, "the plain throughput is 0")
            return TableCell(CellState.MEASURED, len(pairs), tops, None, ratio, len(failed), note)
    if ok:
        return TableCell(CellState.NO_DATA, failed=len(failed))
    if unsupported:
        return TableCell(CellState.UNSUPPORTED, note=unsupported[0].error)
    if failed:
        return TableCell(CellState.FAILED, failed=len(failed), note=failed[-1].error)
    return TableCell(CellState.PENDING)


def _with_baseline(
    unrated: Mapping[tuple[str | None, str, str], TableCell],
    key: tuple[str | None, str, str],
    spec: TableSpec,
) -> TableCell:
    """The cell with its ratio to the baseline mode's cell at the same other coordinates."""
    cell = unrated[key]
    if spec.baseline is None or cell.state != CellState.MEASURED:
        return cell
    axes = (spec.by, spec.rows, spec.cols)
    position = axes.index(MODE)
    if key[position] == spec.baseline:
        return replace(cell, is_baseline=True)
    base_key = tuple(spec.baseline if i == position else part for i, part in enumerate(key))
    base = unrated.get(base_key, TableCell(CellState.NOT_RUN))  # type: ignore[arg-type]
    if base.state != CellState.MEASURED:
        return replace(cell, note=f"no baseline: {spec.baseline} {base.state}")
    ratio, note = _ratio(cell.values, base.values, f"the mean of {spec.baseline} is 0")
    return replace(cell, ratio=ratio, note=note)


def _ratio(
    tops: Sequence[float], bottoms: Sequence[float], zero: str
) -> tuple[Ratio | None, str | None]:
    try:
        return ratio_of_means(tops, bottoms, LEVEL), None
    except ValueError:
        return None, zero
