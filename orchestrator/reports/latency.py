"""`results.latency`: a graphed function's ftrace durations per cell, mean ± 95% CI.

Each current run contributes one value, its own figure for the function (the mean duration of
its calls, or p50/p90/p99, or the number of calls), so the interval is across repetitions, as
for throughput. A run whose ftrace pass was unsupported makes its cell `unsupported` with the
kernel's words; an ok run without the function in its trace (the mode does not call it, or the
spec did not graph it) gives `no data`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from orchestrator.analysis.ftrace_reduce import GraphedFunction
from orchestrator.db import repository
from orchestrator.db.metrics import MBPS
from orchestrator.db.models import RunStatus
from orchestrator.db.repository import RunValues
from orchestrator.db.session import open_database
from orchestrator.errors import NetmatrixError
from orchestrator.reports.tables import MetricChoice, ResultTable, TableSpec, build_table

# What `--stat` picks from a run's figures, with its title and unit.
STATISTICS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "mean": ("mean duration", "µs"),
        "p50": ("median duration", "µs"),
        "p90": ("90th percentile duration", "µs"),
        "p99": ("99th percentile duration", "µs"),
        "calls": ("calls", "calls"),
    }
)
# `build_table` summarises one of its own metrics: the figure travels under the throughput's
# name (the one metric every ok run has) and the table is then titled with what it holds.
_CARRIER = TableSpec().metric


def spec_for(rows: str, cols: str, by: str | None) -> TableSpec:
    """The table layout asked for (checked like `results.table`'s)."""
    return TableSpec(_CARRIER, rows, cols, by)


def figure(item: GraphedFunction, statistic: str) -> float | None:
    """A run's value of `statistic` for its graphed function."""
    if statistic == "calls":
        return float(item.calls)
    return getattr(item, f"{statistic}_us")


def latency_runs(
    runs: Sequence[RunValues],
    ftrace: Mapping[str, Mapping[str, GraphedFunction]],
    function: str,
    statistic: str,
) -> list[RunValues]:
    """The runs as `build_table` reads them: the figure as their only metric, and an ok run
    whose ftrace part was unsupported as unsupported, with the kernel's words."""
    converted = []
    for run in runs:
        item = ftrace.get(run.run_id, {}).get(function)
        if run.status != RunStatus.OK or item is None:
            converted.append(dataclasses.replace(run, metrics=MappingProxyType({})))
        elif item.status != "ok":
            converted.append(
                dataclasses.replace(
                    run,
                    status=RunStatus.UNSUPPORTED,
                    error=item.error,
                    metrics=MappingProxyType({}),
                )
            )
        else:
            value = figure(item, statistic)
            metrics = {} if value is None else {MBPS: value}
            converted.append(dataclasses.replace(run, metrics=MappingProxyType(metrics)))
    return converted


@dataclass(frozen=True)
class LatencyData:
    """A campaign's current runs and their ftrace figures of one function."""

    campaign: str
    runs: tuple[RunValues, ...]
    ftrace: Mapping[str, Mapping[str, GraphedFunction]]
    function: str

    def figures(self, run: RunValues) -> GraphedFunction | None:
        return self.ftrace.get(run.run_id, {}).get(self.function)


def load_latency(function: str, campaign: str | None = None) -> LatencyData:
    """The campaign's (default: the newest) runs and ftrace rows; a function it did not graph
    is a user error naming the ones it did."""
    with open_database(read_only=True) as db:
        ref = repository.find_campaign(db, campaign)
        runs = tuple(repository.current_run_values(db, ref))
        everything = repository.campaign_ftrace(db, ref)
    graphed = sorted({name for functions in everything.values() for name in functions})
    if function not in graphed:
        known = f"it has {', '.join(graphed)}" if graphed else "its runs recorded no ftrace"
        raise NetmatrixError(f"campaign {ref.name} has no ftrace figures of {function}: {known}")
    return LatencyData(ref.name, runs, everything, function)


def latency_table(data: LatencyData, spec: TableSpec, statistic: str = "mean") -> ResultTable:
    """The table of the function's `statistic`, laid out as `spec` says."""
    runs = latency_runs(data.runs, data.ftrace, data.function, statistic)
    table = build_table(data.campaign, runs, spec)
    title, unit = STATISTICS[statistic]
    return dataclasses.replace(
        table,
        spec=dataclasses.replace(spec, metric=f"ftrace {statistic}"),
        metric=MetricChoice(f"ftrace: {title} of {data.function}", unit, MBPS),
    )
