"""Benchmark of issue 13: what ftrace's function_graph costs the traffic it records, per mode,
next to what perf's recording costs, from a matrix with `trace.ftrace` (each run measures the
same traffic plain, under perf, then under ftrace, one pass after the other).

Per mode: n runs, plain throughput, and the ratios `mbps/ftrace / mbps/plain` and
`mbps/traced / mbps/plain` (ratio of means with Fieller's 95% interval, as results.table's
probe), and the graphed functions' mean duration (mean ± 95% CI across runs) and calls.

Usage, on a lab whose kernel has function_graph (the libvirt VMs):
    invoke matrix --hosts lab1 --spec bench/ftrace_cost.yml --inventory …
    .venv/bin/python bench/ftrace_cost.py --database results/netmatrix.db --campaign ftrace-cost
"""

from __future__ import annotations

import argparse
import sqlite3
from collections import defaultdict

from orchestrator.analysis.stats import describe, ratio_of_means


def metric_by_mode(db: sqlite3.Connection, campaign: str, name: str) -> dict[str, list[float]]:
    rows = db.execute(
        "SELECT c.mode, m.value FROM metric m JOIN run r ON r.id = m.run_id "
        "JOIN cell c ON c.id = r.cell_id JOIN campaign ca ON ca.id = c.campaign_id "
        "WHERE ca.name = ? AND m.name = ? AND r.status = 'ok' AND NOT r.superseded "
        "ORDER BY c.id, r.repetition",
        (campaign, name),
    )
    found: dict[str, list[float]] = defaultdict(list)
    for mode, value in rows:
        found[mode].append(value)
    return found


def ratio_text(tops: list[float], bottoms: list[float]) -> str:
    ratio = ratio_of_means(tops, bottoms, 0.95)
    if ratio.low is None or ratio.high is None:
        return f"{ratio.ratio:.3f} (no finite CI)"
    return f"{ratio.ratio:.3f} [{ratio.low:.3f}, {ratio.high:.3f}]"


def mean_text(values: list[float]) -> str:
    summary = describe(values, 0.95)
    half = "" if summary.interval is None else f" ± {summary.interval.half_width:.2f}"
    return f"{summary.mean:.2f}{half}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True)
    parser.add_argument("--campaign", required=True)
    args = parser.parse_args()
    db = sqlite3.connect(f"file:{args.database}?mode=ro", uri=True)
    plain = metric_by_mode(db, args.campaign, "mbps/plain")
    perf = metric_by_mode(db, args.campaign, "mbps/traced")
    ftrace = metric_by_mode(db, args.campaign, "mbps/ftrace")
    print("| mode | n | plain Mbit/s | ftrace / plain | perf / plain |")
    print("|---|---|---|---|---|")
    for mode, values in plain.items():
        print(
            f"| {mode} | {len(values)} | {mean_text(values)} | "
            f"{ratio_text(ftrace[mode], values)} | {ratio_text(perf[mode], values)} |"
        )
    rows = db.execute(
        "SELECT c.mode, f.function, f.mean_us, f.calls, f.overrun FROM ftrace_function f "
        "JOIN run r ON r.id = f.run_id JOIN cell c ON c.id = r.cell_id "
        "JOIN campaign ca ON ca.id = c.campaign_id "
        "WHERE ca.name = ? AND f.status = 'ok' AND f.calls > 0 AND NOT r.superseded",
        (args.campaign,),
    )
    figures: dict[tuple[str, str], list[tuple[float, int, int]]] = defaultdict(list)
    for mode, function, mean_us, calls, overrun in rows:
        figures[(mode, function)].append((mean_us, calls, overrun))
    print()
    print("| mode | function | n | mean duration (µs) | calls per run | overrun per run |")
    print("|---|---|---|---|---|---|")
    for (mode, function), items in figures.items():
        means = [mean for mean, _, _ in items]
        calls = [float(count) for _, count, _ in items]
        overruns = [float(overrun) for _, _, overrun in items]
        print(
            f"| {mode} | {function} | {len(items)} | {mean_text(means)} | "
            f"{mean_text(calls)} | {mean_text(overruns)} |"
        )


if __name__ == "__main__":
    main()
