#!/usr/bin/env python3
"""Benchmark `trace.collapse` against FlameGraph's stackcollapse-perf.pl.

    .venv/bin/python bench/collapse.py [--runs 3] [--reference PATH] [--big-mb 1024]
                                       [--write-results bench/RESULTS.md]

1. Builds bench/work/bridge-x10.perf.txt: the bridge fixture decompressed and concatenated ten
   times (bench/work/ is git-ignored).
2. Times `invoke trace.collapse --path … --out …` and `perl stackcollapse-perf.pl …` on it in
   the same run, alternating, `--runs` times each (min / median / max wall clock), and checks
   that both outputs are identical after a byte-order sort.
3. Builds a file of about `--big-mb` MiB the same way and measures the peak resident memory of
   one `trace.collapse` over it (the child's own rusage from wait4).

The reference script: `--reference PATH` or $FLAMEGRAPH_STACKCOLLAPSE. No package registry
this project can reach ships stackcollapse-perf.pl (Debian bookworm has no FlameGraph
package; PyPI and npm packages found wrap or re-implement it without the Perl file), so the
script looks for it there and in $PATH, and without one records our own figures only.
"""

from __future__ import annotations

import argparse
import lzma
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
FIXTURE = ROOT / "tests" / "fixtures" / "perf" / "bridge-64.perf.txt.xz"
INVOKE = ROOT / ".venv" / "bin" / "invoke"


def build_input(copies: int, name: str) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / name
    text = lzma.decompress(FIXTURE.read_bytes())
    if path.exists() and path.stat().st_size == len(text) * copies:
        return path
    with path.open("wb") as out:
        for _ in range(copies):
            out.write(text)
    return path


def find_reference(given: str | None) -> Path | None:
    for candidate in (
        given,
        os.environ.get("FLAMEGRAPH_STACKCOLLAPSE"),
        shutil.which("stackcollapse-perf.pl"),
        WORK / "stackcollapse-perf.pl",
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def run_child(argv: list[str], stdout: Path) -> tuple[float, int]:
    """Wall-clock seconds and peak RSS (KiB) of one child process."""
    with stdout.open("wb") as out:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
        if child.stderr:
            child.stderr.close()
    if child.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({child.returncode}): {stderr[-500:]}")
    return elapsed, usage.ru_maxrss


def ours(path: Path, out: Path) -> list[str]:
    """The task as a user runs it (the whole invoke collection is imported first)."""
    return [str(INVOKE), "trace.collapse", "--path", str(path), "--out", str(out)]


DIRECT = (
    "import sys\n"
    "from orchestrator.analysis.folding import collapse\n"
    "folded = collapse(sys.argv[1])\n"
    "with open(sys.argv[2], 'wb') as out:\n"
    "    folded.write(out)\n"
)


def direct(path: Path, out: Path) -> list[str]:
    """The same folding without the CLI: only the analysis package is imported."""
    return [sys.executable, "-c", DIRECT, str(path), str(out)]


def sorted_bytes(path: Path) -> bytes:
    return b"".join(sorted(path.read_bytes().splitlines(keepends=True)))


def version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except OSError:
        return "?"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "?"


def machine(*tools: str, load: bool = True) -> str:
    """CPU, cores, memory, kernel, Python, `tools` (version strings), and the load average now.

    Scripts that write their section after the measurements leave the load out (`load=False`)
    and record it per measurement instead.
    """
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    parts = [
        f"{platform.machine()} {cpu}, {os.cpu_count()} cores, {memory}",
        f"{platform.system()} {platform.release()}",
        f"Python {platform.python_version()}",
        *tools,
    ]
    if load:
        parts.append(f"load average {' / '.join(f'{v:.1f}' for v in os.getloadavg())} at the start")
    return "; ".join(parts)


def command_line() -> str:
    """This bench script's command line, the text of `--note` paragraphs left out."""
    argv, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            argv.append("'…'")
            skip = False
            continue
        argv.append(arg)
        skip = arg == "--note"
    return " ".join(
        [
            ".venv/bin/python",
            f"bench/{Path(sys.argv[0]).name}",
            *(a if a == "'…'" else shlex.quote(a) for a in argv),
        ]
    )


def stats(values: list[float], fmt: str = "{:.2f}") -> str:
    """min / median / max."""
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reference", help="path to stackcollapse-perf.pl")
    parser.add_argument("--reference-label", default="stackcollapse-perf.pl")
    parser.add_argument("--big-mb", type=int, default=1024, help="0 to skip the memory run")
    parser.add_argument("--write-results", type=Path, help="put the section into this file")
    parser.add_argument("--note", action="append", default=[], help="a paragraph to add")
    args = parser.parse_args()

    small = build_input(10, "bridge-x10.perf.txt")
    size_mb = small.stat().st_size / 1e6
    reference = find_reference(args.reference)
    print(f"input: {small} ({size_mb:.1f} MB)", file=sys.stderr)
    print(f"reference: {reference or 'none found'}", file=sys.stderr)

    tools: list[tuple[str, list[str], Path]] = [
        ("trace.collapse (`invoke`)", ours(small, WORK / "ours.folded"), WORK / "ours.folded"),
        (
            "folding only (`python -c`)",
            direct(small, WORK / "direct.folded"),
            WORK / "direct.folded",
        ),
    ]
    if reference is not None:
        tools.append(
            (args.reference_label, ["perl", str(reference), str(small)], WORK / "reference.folded")
        )
    times: dict[str, list[float]] = {name: [] for name, _, _ in tools}
    peaks: dict[str, int] = {name: 0 for name, _, _ in tools}
    for run in range(args.runs):
        report = []
        for name, argv, out in tools:
            stdout = out if argv[0] == "perl" else WORK / "stdout.txt"
            elapsed, rss = run_child(argv, stdout)
            times[name].append(elapsed)
            peaks[name] = max(peaks[name], rss)
            report.append(f"{name} {elapsed:.2f} s")
        print(f"run {run + 1}: " + ", ".join(report), file=sys.stderr)
    outputs = {name: sorted_bytes(out) for name, _, out in tools}
    first = outputs[tools[0][0]]
    identical = all(data == first for data in outputs.values())

    rows = []
    for name, argv, _ in tools:
        median = statistics.median(times[name])
        peak = "" if argv[0] == "perl" else f"{peaks[name] / 1024:.0f} MiB"
        rows.append(
            f"| {small.name} ({size_mb:.1f} MB) | {name} | {stats(times[name])} | "
            f"{size_mb / median:.0f} MB/s | {peak} |"
        )
    if args.big_mb:
        copies = max(1, round(args.big_mb * 1024 * 1024 / (small.stat().st_size / 10)))
        big = build_input(copies, "bridge-big.perf.txt")
        big_mb = big.stat().st_size / 1e6
        for name, make in (
            ("trace.collapse (`invoke`)", ours),
            ("folding only (`python -c`)", direct),
        ):
            elapsed, rss = run_child(make(big, WORK / "big.folded"), WORK / "stdout.txt")
            rows.append(
                f"| {big.name} ({copies} copies, {big_mb:.0f} MB) | {name} | "
                f"{elapsed:.2f} | {big_mb / elapsed:.0f} MB/s | {rss / 1024:.0f} MiB |"
            )
            print(
                f"big: {name} {big_mb:.0f} MB in {elapsed:.2f} s, peak RSS {rss / 1024:.0f} MiB",
                file=sys.stderr,
            )

    perl = version(["perl", "-e", 'print "perl $^V\\n"'])
    lines = [
        "## Folding",
        "",
        f"Command: `{command_line()}`",
        "",
        f"Machine: {machine(perl)}.",
        "",
        "Wall clock per run (min / median / max over "
        f"{args.runs} runs, the tools alternating within each run), interpreter start "
        "included. `trace.collapse (invoke)` is `.venv/bin/invoke trace.collapse --path F "
        "--out G`, which first imports the whole task collection; `folding only` runs the "
        "same `collapse()` from `python -c` with only the analysis package imported. Peak "
        "memory is the child's maximum resident set size (wait4 rusage).",
        "",
        "| input | tool | seconds (min / median / max) | throughput (median) | peak RSS |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    if reference is not None:
        ref_median = statistics.median(times[args.reference_label])
        speedups = ", ".join(
            f"{name}: **{ref_median / statistics.median(times[name]):.1f}x**"
            for name, argv, _ in tools
            if argv[0] != "perl"
        )
        lines.append(
            f"Speed-up against the reference (median / median): {speedups}; outputs identical "
            f"after a byte-order sort: **{'yes' if identical else 'NO'}**."
        )
    else:
        lines.append(
            "No stackcollapse-perf.pl was available (`--reference`, $FLAMEGRAPH_STACKCOLLAPSE, "
            "$PATH): no package registry reachable here ships it, so only our figures are "
            "recorded."
        )
    lines.append("")
    for note in args.note:
        lines.extend([note, ""])
    section = "\n".join(lines)
    print(section)
    if args.write_results:
        write_section(args.write_results, section)
    return 0 if identical in (None, True) else 1


def write_section(path: Path, section: str, parent: str | None = None) -> None:
    """Put `section` into the markdown file `path`, leaving every other section alone.

    The section's first line is its heading. A section of that heading is replaced: its text
    up to the next heading of any level, so subsections written by other scripts (e.g.
    `### perf script rate` under `## Folding`) stay. A new section goes at the end of the
    `parent` heading's section (its subsections included), or at the end of the file.
    """
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    heading = section.splitlines()[0]
    body = section.rstrip("\n") + "\n\n"
    existing = re.compile(rf"^{re.escape(heading)}\n.*?(?=^#+ |\Z)", re.S | re.M)
    if existing.search(text):
        text = existing.sub(lambda _: body, text, count=1)
    elif parent is not None and (start := re.search(rf"^{re.escape(parent)}\n", text, re.M)):
        level = len(parent) - len(parent.lstrip("#"))
        end = re.compile(rf"^#{{1,{level}}} ", re.M).search(text, start.end())
        at = end.start() if end else len(text)
        text = text[:at].rstrip("\n") + "\n\n" + body + text[at:]
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    sys.exit(main())
