#!/usr/bin/env python3
"""Benchmark 1, second reference: `perf script`'s own text rate against `trace.collapse`.

    .venv/bin/python bench/perfscript_rate.py [--data /tmp/bench-perf/perf.data] [--record 3]
                                              [--size 1400] [--runs 3] [--min-mb 300]
                                              [--write-results bench/RESULTS.md]

In a traced run the text that `trace.collapse` folds comes from `perf script`, so perf script's
rate is the practical limit: folding must not be the slower step (issue 8: ≥ 1× its rate).

1. Without `--data` (or when the file does not exist yet), records one: the project's traffic
   generator on loopback (`app/server.py` and `app/client.py` as host processes over 127.0.0.1,
   TCP stream, `--size` bytes, `--record` seconds) under the recorder's own argv at period 1
   (`tracing.record_argv`: `perf record -a --no-bpf-event --no-period -e 'net:*' -e 'skb:*'
   --call-graph fp -c 1`). tracefs is mounted at /sys/kernel/tracing first when it is not.
2. Times `perf script -i perf.data > text` (`tracing.script_argv`), then on that text
   `invoke trace.collapse` and the folding alone (`python -c`, as bench/collapse.py does),
   alternating, `--runs` times each: min / median / max wall clock, MB/s of text.

Needs root (system-wide recording). The text and folded outputs stay next to perf.data.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from collapse import (  # noqa: E402
    command_line,
    direct,
    machine,
    ours,
    run_child,
    stats,
    version,
    write_section,
)
from sampling import Traffic  # noqa: E402

from orchestrator.experiment.tracing import PerfOptions, record_argv, script_argv  # noqa: E402

TRACEFS = Path("/sys/kernel/tracing")
SECTION = "### perf script rate"
PARENT = "## Folding"


def ensure_tracefs() -> None:
    """perf opens tracepoints through tracefs; mount it where the kernel expects it."""
    if not (TRACEFS / "events").is_dir():
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)], check=True)


def record(data: Path, size: int, seconds: float) -> str:
    """Record loopback traffic at period 1 into `data`; the argv, as text."""
    ensure_tracefs()
    data.parent.mkdir(parents=True, exist_ok=True)
    with Traffic("loopback") as traffic:
        argv = record_argv(PerfOptions(period=1), str(data), traffic.client(size, seconds))
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: perf record failed: {done.stderr.strip()[-300:]}")
    return shlex.join(argv)


def spread_mb(sizes: list[int]) -> str:
    """The text's size; a range when perf named some addresses differently between runs."""
    low, high = min(sizes) / 1e6, max(sizes) / 1e6
    if f"{low:.1f}" == f"{high:.1f}":
        return f"{low:.1f} MB"
    return f"{low:.1f} to {high:.1f} MB (perf names some addresses by other aliases in some runs)"


def loadavg() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/bench-perf/perf.data"))
    parser.add_argument("--record", type=float, default=3.0, help="seconds of traffic")
    parser.add_argument("--size", type=int, default=1400, help="message size (bytes)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--min-mb", type=float, default=300.0, help="least text to accept")
    parser.add_argument("--write-results", type=Path, help="put the subsection into this file")
    parser.add_argument("--note", action="append", default=[], help="a paragraph to add")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit(
            "error: perf record -a and perf script of a system-wide recording need root"
        )

    recorded = None
    if not args.data.exists():
        recorded = (loadavg(), record(args.data, args.size, args.record))
    text = args.data.with_suffix(".txt")
    folded = args.data.with_suffix(".folded")
    load = loadavg()
    tools = [
        ("perf script", script_argv(str(args.data)), text),
        ("trace.collapse (`invoke`)", ours(text, folded), None),
        ("folding only (`python -c`)", direct(text, folded), None),
    ]
    times: dict[str, list[float]] = {name: [] for name, _, _ in tools}
    sizes = []
    for run in range(args.runs):
        for name, argv, stdout in tools:
            elapsed, _ = run_child(argv, stdout or folded.with_suffix(".stdout"))
            times[name].append(elapsed)
        sizes.append(text.stat().st_size)
        if sizes[0] < args.min_mb * 1e6:
            raise SystemExit(
                f"error: {text}: {sizes[0] / 1e6:.0f} MB of text, less than --min-mb "
                f"{args.min_mb:.0f}: record longer (--record) into a new --data"
            )
        print(
            f"run {run + 1}: " + ", ".join(f"{name} {times[name][-1]:.2f} s" for name in times),
            file=sys.stderr,
        )
    # perf names some addresses by different aliases from one run to the next (libc's
    # `write` or `__GI___libc_write`), so the text's size moves a little.
    if max(sizes) > 1.01 * min(sizes):
        raise SystemExit(f"error: perf script wrote sizes more than 1% apart: {sizes}")
    megabytes = statistics.median(sizes) / 1e6
    script_median = statistics.median(times["perf script"])
    rows = [
        f"| {name} | {stats(times[name])} | {megabytes / statistics.median(times[name]):.0f} MB/s "
        f"| {script_median / statistics.median(times[name]):.2f}× |"
        for name in times
    ]
    lines = [
        SECTION,
        "",
        f"Command: `{command_line()}`",
        "",
        f"Machine: {machine(version(['perf', '--version']), load=False)}; load average {load} "
        "before the timed runs.",
        "",
        (
            f"Recording (load average {recorded[0]} before it): `{recorded[1]}`, the traffic "
            f"`app/server.py` and `app/client.py` on loopback, TCP stream, {args.size} B "
            f"messages, {args.record:g} s."
            if recorded
            else f"Recording: the existing {args.data}."
        )
        + f" perf.data {args.data.stat().st_size / 1e6:.0f} MB; `perf script -i perf.data > "
        f"text` writes {spread_mb(sizes)} of text, which both folders then read.",
        "",
        f"Wall clock per run (min / median / max over {args.runs} runs, the three alternating "
        "within each run), interpreter start included; rate = MB of that text per second; "
        "ratio = perf script's median time / the tool's median time (≥ 1: the tool folds the "
        "text faster than perf script produces it):",
        "",
        "| tool | seconds (min / median / max) | text rate (median) | ratio to perf script |",
        "|---|---|---|---|",
        *rows,
        "",
        *(part for note in args.note for part in (note, "")),
    ]
    section = "\n".join(lines)
    print(section)
    if args.write_results:
        write_section(args.write_results, section, parent=PARENT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
