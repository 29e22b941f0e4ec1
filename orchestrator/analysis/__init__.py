"""Trace analysis: perf script records, folded stacks, summaries, diffs, ftrace, statistics.

Everything here works on trace files (or streams) and plain values; nothing needs a lab.

* `perfscript` — streaming `perf script` reader: frozen `Record`/`Frame`, `ParseStats`;
* `folding` — folded stacks identical to FlameGraph's stackcollapse-perf.pl (`collapse`);
* `summary` — records per event/device/process, payload lengths, top functions;
* `diff` — kernel functions gained/lost/changed between two traces (`FunctionCounts`);
* `ftrace` — function_graph call trees and per-function times;
* `stats` — mean, stdev, Student's t interval, ratio of means (Fieller);
* `source` — opening plain/gzip/xz files or standard input.
"""

from orchestrator.analysis.diff import FunctionCounts, FunctionDiff, diff_functions, function_counts
from orchestrator.analysis.folding import Folded, FoldOptions, collapse, fold_records
from orchestrator.analysis.ftrace import FunctionGraph, parse_function_graph
from orchestrator.analysis.perfscript import (
    Frame,
    ParseStats,
    PerfScriptReader,
    Record,
    read_records,
)
from orchestrator.analysis.summary import TraceSummary, summarize

__all__ = [
    "FoldOptions",
    "Folded",
    "Frame",
    "FunctionCounts",
    "FunctionDiff",
    "FunctionGraph",
    "ParseStats",
    "PerfScriptReader",
    "Record",
    "TraceSummary",
    "collapse",
    "diff_functions",
    "fold_records",
    "function_counts",
    "parse_function_graph",
    "read_records",
    "summarize",
]
