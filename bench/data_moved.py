#!/usr/bin/env python3
"""Benchmark 3 of issue 8: bytes a traced run moves to the controller against the raw trace.

    .venv/bin/python bench/data_moved.py [--reps 3] [--periods 100,1] [--sizes 1400,64]
                                         [--duration 2] [--analyse-only]

A traced run reduces its `perf script` text on the lab host and fetches only the reduction
JSON and the gzipped folded stacks (`orchestrator/experiment/run.py`, `_reduce_on_host`). Same
traffic and recording as bench/sampling.py (loopback and bridge on this machine, the
recorder's argv); for each run this writes both files exactly as `reduce.py main` does and
compares their size with the raw text the run would otherwise move. It also checks "the same
analysis results": the reduction's function counts must equal `diff.function_counts` computed
from the raw text (the `nm-` records) as the controller would without the reduction.

Runs go to bench/work/data-moved-runs.jsonl; tables to stdout and bench/work/data_moved.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sampling
from sampling import MODES, WORK, errors, extras, load, run_all, spread

from orchestrator.analysis.diff import function_counts
from orchestrator.analysis.perfscript import Record, read_records
from orchestrator.analysis.reduce import reduce_trace

GOAL = 20.0
DECIMATE = (10, 100, 1000)


def moved(text: Path) -> dict[str, Any]:
    """What the run fetches from the host, and whether the raw text gives the same counts.

    On period-1 runs it also decimates the trace as `-c N` would (every Nth hit of each event
    on each CPU, counted over all processes, the first sample at the Nth hit): the share error
    of sampling alone, on the same traffic, without the run-to-run variation that separate
    runs at different periods add (bench/sampling.py).
    """
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        folded = Path(tmp) / "folded.txt.gz"
        reduction = reduce_trace(text, folded, comm_prefix="nm-")
        reduction_bytes = len((json.dumps(reduction, sort_keys=True) + "\n").encode())
        folded_bytes = folded.stat().st_size
        with gzip.open(folded) as stacks:
            folded_lines = sum(1 for _ in stacks)
    hits: Counter[tuple[str, int | None]] = Counter()
    decimated = {n: Counter[str]() for n in DECIMATE}
    decimated_records = dict.fromkeys(DECIMATE, 0)

    def own(records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            hits[record.event, record.cpu] += 1
            if not record.comm.startswith("nm-"):
                continue
            names = {f.symbol for f in record.frames if f.function is not None and f.is_kernel}
            for n in DECIMATE:
                if hits[record.event, record.cpu] % n == 0:
                    decimated[n].update(names)
                    decimated_records[n] += 1
            yield record

    raw = function_counts(own(read_records(text)))
    return {
        "decimated": {
            str(n): {"functions": dict(decimated[n]), "records": decimated_records[n]}
            for n in DECIMATE
        },
        "reduction_bytes": reduction_bytes,
        "folded_bytes": folded_bytes,
        "folded_lines": folded_lines,
        "same_functions": dict(raw.counts) == reduction["functions"],
        "same_records": raw.records == reduction["records"],
        "functions": len(raw.counts),
    }


def analyse(path: Path) -> str:
    runs = load(path)
    lines = [
        "| mode | size | period | perf script text | reduction JSON | folded stacks (gzip) "
        "| moved | text / moved | same counts |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    group: dict[tuple[str, int, int], list[Any]] = {}
    for run in runs:
        group.setdefault((run.mode, run.size, run.period), []).append(run)
    ratios: dict[int, list[float]] = {}
    for (mode, size, period), got in sorted(
        group.items(), key=lambda kv: (-kv[0][2], MODES.index(kv[0][0]), -kv[0][1])
    ):
        sent = [r.extra["reduction_bytes"] + r.extra["folded_bytes"] for r in got]
        ratio = [r.text_bytes / s for r, s in zip(got, sent, strict=True)]
        ratios.setdefault(period, []).extend(ratio)
        same = sum(r.extra["same_functions"] and r.extra["same_records"] for r in got)
        lines.append(
            f"| {mode} | {size} | {period} "
            f"| {spread([r.text_bytes / 1e6 for r in got], '{:.1f}')} MB "
            f"| {spread([r.extra['reduction_bytes'] / 1e3 for r in got], '{:.1f}')} kB "
            f"| {spread([r.extra['folded_bytes'] / 1e3 for r in got], '{:.1f}')} kB "
            f"| {spread([s / 1e3 for s in sent], '{:.1f}')} kB "
            f"| {spread(ratio, '{:.0f}×')} | {same} of {len(got)} |"
        )
    lines.append("")
    for period, values in sorted(ratios.items(), reverse=True):
        lines.append(
            f"Period {period}: text / moved min {min(values):.0f}×, median "
            f"{statistics.median(values):.0f}×, max {max(values):.0f}× over {len(values)} runs "
            f"(goal ≥ {GOAL:.0f}×: {'met' if min(values) >= GOAL else 'not met'} by every run)."
        )
    lines += [
        "",
        "Sampling alone (period-1 runs decimated as `-c N` would sample them): relative share "
        "error of every function above 1% share in the full run, per run its maximum and "
        "median over those functions, min / median / max over the runs; mode diff = the "
        "`extra` functions above 1% (bridge against loopback, same repetition) equal the full "
        "runs' set.",
        "",
        "| size | N | mode | max error per run | median error per run | runs with max < 5% "
        "| mode diff same |",
        "|---|---|---|---|---|---|---|",
    ]
    full = [r for r in runs if r.period == 1 and "decimated" in r.extra]
    for size in sorted({r.size for r in full}, reverse=True):
        for n in DECIMATE:
            same_diff = []
            by_rep: dict[int, dict[str, tuple[Any, Any]]] = {}
            for mode in MODES:
                maxima, medians = [], []
                for run in (r for r in full if r.mode == mode and r.size == size):
                    d = run.extra["decimated"][str(n)]
                    sampled = replace(run, functions=d["functions"], records=d["records"])
                    found = errors(run, sampled)
                    maxima.append(max(found))
                    medians.append(statistics.median(found))
                    by_rep.setdefault(run.rep, {})[mode] = (run, sampled)
                if mode == MODES[-1]:
                    for pair in by_rep.values():
                        if len(pair) == 2:
                            (base, base_n), (target, target_n) = pair[MODES[0]], pair[MODES[1]]
                            same_diff.append(extras(base, target) == extras(base_n, target_n))
                    note = f"{sum(same_diff)} of {len(same_diff)} reps"
                else:
                    note = ""
                lines.append(
                    f"| {size} | {n} | {mode} | {spread(maxima)} | {spread(medians)} "
                    f"| {sum(m < 0.05 for m in maxima)} of {len(maxima)} | {note} |"
                )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--periods", default="100,1")
    parser.add_argument("--sizes", default="1400,64")
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--analyse-only", action="store_true")
    args = parser.parse_args()
    runs_file = WORK / "data-moved-runs.jsonl"
    # Byte counts and the equality check do not depend on other netmatrix traffic sharing the
    # kernel (their records are dropped before reducing either way), so no waiting or retrying.
    sampling.ATTEMPTS, sampling.QUIET_WAIT = 1, 0.0
    if not args.analyse_only:
        with contextlib.suppress(FileNotFoundError):
            runs_file.unlink()
        run_all(
            args.reps,
            [int(p) for p in args.periods.split(",")],
            [int(s) for s in args.sizes.split(",")],
            args.duration,
            runs_file,
            inspect=moved,
        )
    text = analyse(runs_file)
    (WORK / "data_moved.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
