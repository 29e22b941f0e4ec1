"""The reduction of one ftrace pass: per graphed function, its calls and how long they took.

Like perf's reduction it runs on the lab host, next to the trace (standard library only, in
the reducer zipapp), so a few kB come back instead of the function_graph text. Durations are
ftrace's own (microseconds, measured by the kernel around each call), so the numbers include
function_graph's per-call cost: compare them between modes and kernels, not with perf.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.analysis.ftrace import Call, parse_function_graph

TOP_CALLEES = 10
# Lines of tracefs per_cpu/cpuN/stats: "overrun: 12", "dropped events: 0", "entries: 123".
_STAT = re.compile(r"^(overrun|dropped events|entries):\s*(\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Callee:
    """A function called directly by a graphed function: how often and for how long in all."""

    function: str
    calls: int
    total_us: float


@dataclass(frozen=True)
class GraphedFunction:
    """What one run's ftrace pass says about one graph root.

    Attributes:
        status: `ok`, or `unsupported` with the kernel's words in `error`.
        calls: calls in the trace; timed_calls: those whose end was traced too (a call cut
            by the buffer or still open at the end has no duration).
        total_us, mean_us, p50_us, p90_us, p99_us: of the timed calls (None without any).
        children_share: the part of `total_us` spent in the functions it called.
        top_callees: its direct callees, the longest in total first.
        overrun, lost: ftrace's counts for the whole pass (entries overwritten in a full
            ring buffer, events dropped), summed over CPUs.
    """

    function: str
    status: str
    error: str | None = None
    calls: int = 0
    timed_calls: int = 0
    total_us: float | None = None
    mean_us: float | None = None
    p50_us: float | None = None
    p90_us: float | None = None
    p99_us: float | None = None
    children_share: float | None = None
    top_callees: tuple[Callee, ...] = ()
    overrun: int = 0
    lost: int = 0

    def as_dict(self) -> dict[str, Any]:
        fields = dict(self.__dict__)
        fields["top_callees"] = [callee.__dict__ for callee in self.top_callees]
        return fields

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GraphedFunction:
        callees = tuple(Callee(**callee) for callee in data.get("top_callees", ()))
        return cls(**{**data, "top_callees": callees})


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of sorted values, interpolated linearly between ranks
    (numpy's default), so small samples give the same numbers as the usual tools."""
    position = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def pass_counts(stats_text: str) -> dict[str, int]:
    """overrun, lost (dropped events) and entries summed over the per-CPU stats files."""
    totals = {"overrun": 0, "dropped events": 0, "entries": 0}
    for name, value in _STAT.findall(stats_text):
        totals[name] += int(value)
    return {
        "overrun": totals["overrun"],
        "lost": totals["dropped events"],
        "entries": totals["entries"],
    }


def summarize_function(
    function: str, calls: Iterable[Call], overrun: int = 0, lost: int = 0
) -> GraphedFunction:
    """One graph root's figures from its calls in the parsed trace."""
    calls = list(calls)
    timed = sorted(call.duration for call in calls if call.duration is not None)
    callees: dict[str, list[float]] = {}
    children_us = 0.0
    for call in calls:
        if call.duration is None:
            continue
        for child in call.children:
            entry = callees.setdefault(child.name, [0, 0.0])
            entry[0] += 1
            entry[1] += child.duration or 0.0
            children_us += child.duration or 0.0
    top = sorted(callees.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
    total = math.fsum(timed)
    return GraphedFunction(
        function=function,
        status="ok",
        calls=len(calls),
        timed_calls=len(timed),
        total_us=round(total, 6) if timed else None,
        mean_us=round(total / len(timed), 6) if timed else None,
        p50_us=round(percentile(timed, 50), 6) if timed else None,
        p90_us=round(percentile(timed, 90), 6) if timed else None,
        p99_us=round(percentile(timed, 99), 6) if timed else None,
        children_share=round(children_us / total, 6) if total > 0 else None,
        top_callees=tuple(
            Callee(name, int(count), round(spent, 6)) for name, (count, spent) in top[:TOP_CALLEES]
        ),
        overrun=overrun,
        lost=lost,
    )


def reduce_function_graph(
    trace: Path, functions: Sequence[str], stats_text: str = ""
) -> dict[str, Any]:
    """The reduction of a pass: each of `functions` summarised, and the trace's own counts."""
    graph = parse_function_graph(trace)
    counts = pass_counts(stats_text)
    by_name: dict[str, list[Call]] = {name: [] for name in functions}
    for call in graph.calls():
        if call.name in by_name:
            by_name[call.name].append(call)
    return {
        "functions": [
            summarize_function(name, by_name[name], counts["overrun"], counts["lost"]).as_dict()
            for name in functions
        ],
        **counts,
        "lines": graph.lines,
        "unreadable_lines": graph.unreadable,
        "unclosed_calls": graph.unclosed,
        "unmatched_closes": graph.unmatched_closes,
    }
