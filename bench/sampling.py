#!/usr/bin/env python3
"""Benchmark 4 of issue 8: how faithful `perf record -c N` is on the net/skb tracepoints.

    .venv/bin/python bench/sampling.py [--reps 3] [--periods 1,10,100,1000] [--sizes 1400,64]
                                       [--duration 2] [--analyse-only]

Runs the project's own traffic generator (TCP stream, `app/server.py` + `app/client.py`) on
this machine in two modes, loopback (host processes over 127.0.0.1) and bridge (two containers
on the default docker0 bridge, image `nmbench-traffic`), under the recorder's own argv
(`tracing.record_argv`, so `--no-period -c N` exactly as runs use it), then `perf script` and
the reducer (`reduce_trace(…, comm_prefix="nm-")`, as on a lab host).

Sampled runs and full runs are necessarily different traffic runs, so part of any difference is
run-to-run variation; the period-1 runs compared with each other give that noise floor. Every
comparison is one run against one run: a period-N run against each period-1 run of the same
mode and size, and each period-1 run against the other period-1 runs.

Each run's sizes and reduction go to bench/work/sampling-runs.jsonl (one line per run) and the
traces are deleted at once (a period-1 run writes about 300 MB of text); `--analyse-only`
rebuilds the tables from that file. The tables are printed and written to
bench/work/sampling.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.analysis.diff import FunctionCounts, diff_functions  # noqa: E402
from orchestrator.analysis.reduce import reduce_trace  # noqa: E402
from orchestrator.experiment.tracing import (  # noqa: E402
    PerfOptions,
    parse_recording,
    record_argv,
    script_argv,
)

WORK = ROOT / "bench" / "work"
APP = ROOT / "app"
IMAGE = "nmbench-traffic"
SERVER = "nmbench-server"
CLIENT = "nmbench-client"
PORT = 5001
MODES = ("loopback", "bridge")
THRESHOLD = 0.01  # functions above 1% share are the ones the goal is about
GOAL = 0.05  # relative error goal
ATTEMPTS = 2  # runs overlapped by foreign traffic before one is kept with their records dropped
QUIET_WAIT = 10.0  # seconds to wait for foreign traffic to end before each attempt


@dataclass(frozen=True)
class RunResult:
    """What one traced run produced: sizes on the way, and the reduction's counts."""

    mode: str
    size: int
    period: int
    rep: int
    data_bytes: int
    text_bytes: int
    records: int
    records_all: int
    lost: int
    mbps: float
    functions: dict[str, int]
    extra: dict[str, Any]


class Traffic:
    """A running server for one mode, and the client argv that talks to it.

    The server stays up for the whole benchmark (it serves one connection per run), so a run
    is only the client under perf, as in netmatrix's traced phase.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._server: subprocess.Popen[str] | None = None
        self._host = "127.0.0.1"
        self._port = PORT

    def __enter__(self) -> Traffic:
        if self.mode == "loopback":
            self._server = subprocess.Popen(
                ["python3", str(APP / "server.py"), "--proto", "tcp", "--port", "0"],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self._server.stdout is not None
            self._port = json.loads(self._server.stdout.readline())["port"]
        else:
            self._remove_containers()
            docker(
                "run",
                "-d",
                "--name",
                SERVER,
                IMAGE,
                "/app/server.py",
                "--proto",
                "tcp",
                "--port",
                str(PORT),
            )
            docker("run", "-d", "--name", CLIENT, "--entrypoint", "sleep", IMAGE, "infinity")
            for _ in range(100):
                if "listening" in docker("logs", SERVER):
                    break
                time.sleep(0.1)
            self._host = docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", SERVER).strip()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.terminate()
            self._server.wait(10)
        if self.mode == "bridge":
            self._remove_containers()

    @staticmethod
    def _remove_containers() -> None:
        subprocess.run(["docker", "rm", "-f", SERVER, CLIENT], capture_output=True, check=False)

    def namespaces(self) -> set[str]:
        """PID namespaces our traffic runs in: the host's, or the two containers'."""
        if self.mode == "loopback":
            return {os.readlink("/proc/self/ns/pid")}
        return {
            os.readlink(f"/proc/{docker('inspect', '-f', '{{.State.Pid}}', name).strip()}/ns/pid")
            for name in (SERVER, CLIENT)
        }

    def client(self, size: int, duration: float) -> list[str]:
        args = [
            "--proto",
            "tcp",
            "--host",
            self._host,
            "--port",
            str(self._port),
            "--size",
            str(size),
            "--duration",
            str(duration),
        ]
        if self.mode == "loopback":
            return ["python3", str(APP / "client.py"), *args]
        return ["docker", "exec", CLIENT, "python3", "/app/client.py", *args]


def traffic_pids(ours: set[str]) -> tuple[set[int], set[int]]:
    """Pids of `nm-` processes on this kernel: (ours, foreign).

    Foreign ones are another netmatrix's traffic (e.g. a test suite's lab nodes) in other PID
    namespaces: a system-wide recording filtered by the `nm-` prefix cannot tell them from ours.
    """
    own, foreign = set(), set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/comm") as comm:
                if not comm.read().startswith("nm-"):
                    continue
            mine = os.readlink(f"/proc/{entry.name}/ns/pid") in ours
        except OSError:
            continue
        (own if mine else foreign).add(int(entry.name))
    return own, foreign


class Watch(threading.Thread):
    """Polls the `nm-` processes (every 20 ms) while a run records."""

    def __init__(self, ours: set[str]) -> None:
        super().__init__(daemon=True)
        self.ours = ours
        self.own: set[int] = set()
        self.foreign: set[int] = set()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            own, foreign = traffic_pids(self.ours)
            self.own |= own
            self.foreign |= foreign
            self.done.wait(0.02)


_HEADER = re.compile(rb"^(\S.*?)\s+(?:-?\d+/)?(-?\d+)\s+\[\d+\]")


def keep_own(text: Path, own: set[int]) -> int:
    """Drop the records of `nm-` threads that are not ours from `text`; returns how many.

    Only for runs that other netmatrix traffic overlapped (after waiting and retrying): their
    records would otherwise count as ours under the `nm-` prefix.
    """
    dropped = 0
    filtered = text.with_suffix(".own")
    with text.open("rb") as source, filtered.open("wb") as out:
        keep = True
        for line in source:
            if line[:1] not in (b"\t", b" ", b"\n"):
                match = _HEADER.match(line)
                keep = not (
                    match and match.group(1).startswith(b"nm-") and int(match.group(2)) not in own
                )
                dropped += not keep
            if keep:
                out.write(line)
    filtered.replace(text)
    return dropped


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def traced_run(
    traffic: Traffic,
    size: int,
    period: int,
    rep: int,
    duration: float,
    inspect: Callable[[Path], dict[str, Any]] | None = None,
) -> RunResult:
    """One run as the traced phase does it: record around the client, script, reduce.

    `inspect` sees the `perf script` text before it is deleted (data_moved.py uses it for
    what it needs of the raw text).
    """
    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / "sampling.perf.data"
    text = WORK / "sampling.perf.txt"
    argv = record_argv(PerfOptions(period=period), str(data), traffic.client(size, duration))
    ours = traffic.namespaces()
    for attempt in range(ATTEMPTS):
        deadline = time.monotonic() + QUIET_WAIT
        while traffic_pids(ours)[1] and time.monotonic() < deadline:
            time.sleep(0.2)
        watch = Watch(ours)
        watch.start()
        recorded = subprocess.run(argv, capture_output=True, text=True, check=False)
        watch.done.set()
        watch.join()
        if not watch.foreign:
            break
        print(f"  attempt {attempt}: foreign nm- processes during the run", file=sys.stderr)
    if recorded.returncode != 0:
        raise SystemExit(f"perf record failed: {recorded.stderr.strip()[-300:]}")
    report = json.loads(recorded.stdout.strip().splitlines()[-1])
    with text.open("wb") as out:
        scripted = subprocess.run(
            script_argv(str(data)), stdout=out, stderr=subprocess.PIPE, text=True, check=True
        )
    lost = parse_recording(recorded.stderr).lost + parse_recording(scripted.stderr).lost
    text_bytes = text.stat().st_size
    dropped = keep_own(text, watch.own) if watch.foreign else 0
    reduction = reduce_trace(text, None, comm_prefix="nm-")
    extra = inspect(text) if inspect else {}
    result = RunResult(
        mode=traffic.mode,
        size=size,
        period=period,
        rep=rep,
        data_bytes=data.stat().st_size,
        text_bytes=text_bytes,
        records=int(reduction["records"]),  # type: ignore[call-overload]
        records_all=int(reduction["records_all"]),  # type: ignore[call-overload]
        lost=lost,
        mbps=float(report["mbps"]),
        functions=dict(reduction["functions"]),  # type: ignore[call-overload]
        extra={**extra, "foreign_records_dropped": dropped, "overlapped": bool(watch.foreign)},
    )
    data.unlink()
    text.unlink()
    return result


def run_all(
    reps: int,
    periods: Sequence[int],
    sizes: Sequence[int],
    duration: float,
    out: Path,
    inspect: Callable[[Path], dict[str, Any]] | None = None,
) -> None:
    """Every (mode, size, period) `reps` times, periods interleaved within each repetition.

    Interleaving spreads slow drift (other jobs' load) over all periods alike instead of
    charging it to whichever period happened to run last.
    """
    done = {(r.mode, r.size, r.period, r.rep) for r in load(out)} if out.exists() else set()
    with out.open("a") as sink:
        for mode in MODES:
            with Traffic(mode) as traffic:
                for rep, size, period in itertools.product(range(reps), sizes, periods):
                    if (mode, size, period, rep) in done:
                        continue
                    started = time.monotonic()
                    result = traced_run(traffic, size, period, rep, duration, inspect)
                    sink.write(json.dumps(asdict(result)) + "\n")
                    sink.flush()
                    print(
                        f"{mode:8} size {size:5} period {period:5} rep {rep}: "
                        f"{result.records:7} records, {result.text_bytes / 1e6:7.1f} MB text, "
                        f"lost {result.lost}, {result.mbps:8.1f} Mbit/s, foreign records dropped "
                        f"{result.extra.get('foreign_records_dropped', 0)}, "
                        f"{time.monotonic() - started:5.1f} s",
                        file=sys.stderr,
                    )


def load(path: Path) -> list[RunResult]:
    return [RunResult(**json.loads(line)) for line in path.read_text().splitlines() if line]


def share(run: RunResult, function: str) -> float:
    return run.functions.get(function, 0) / run.records if run.records else 0.0


def errors(reference: RunResult, other: RunResult) -> list[float]:
    """Relative share error of every function above 1% share in the reference run."""
    return [
        abs(share(other, name) - share(reference, name)) / share(reference, name)
        for name in reference.functions
        if share(reference, name) > THRESHOLD
    ]


def extras(baseline: RunResult, target: RunResult) -> frozenset[str]:
    """The mode diff's `extra` functions above 1% share of the target's records."""
    diff = diff_functions(
        FunctionCounts(baseline.functions, baseline.records),
        FunctionCounts(target.functions, target.records),
    )
    return frozenset(
        str(item["function"])
        for item in diff.extra
        if int(item["samples"]) / target.records > THRESHOLD  # type: ignore[call-overload]
    )


def spread(values: Sequence[float], fmt: str = "{:.1%}") -> str:
    if not values:
        return "–"
    low, mid, high = min(values), statistics.median(values), max(values)
    return " / ".join(fmt.format(v) for v in (low, mid, high))


def pairs(runs: list[RunResult], period: int) -> Iterator[tuple[RunResult, RunResult]]:
    """(period-1 run, period-N run) pairs; for N = 1 the ordered pairs of distinct runs."""
    full = [run for run in runs if run.period == 1]
    sampled = [run for run in runs if run.period == period]
    for reference, other in itertools.product(full, sampled):
        if reference is not other:
            yield reference, other


def analyse(runs: list[RunResult]) -> str:
    """The markdown tables: sizes, share errors, mode-diff agreement, the verdict per period."""
    periods = sorted({run.period for run in runs})
    sizes = sorted({run.size for run in runs}, reverse=True)
    lines = [
        "Sizes per run (min / median / max over the repetitions; records = records of the "
        "`nm-` processes, all = every record in the system-wide trace):",
        "",
        "| mode | size | period | perf.data | perf script text | records (nm-) | "
        "records (all) | lost | client Mbit/s | overlapped |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    group: dict[tuple[str, int, int], list[RunResult]] = {}
    for run in runs:
        group.setdefault((run.mode, run.size, run.period), []).append(run)
    for mode, size, period in itertools.product(MODES, sizes, periods):
        got = group.get((mode, size, period), [])
        if not got:
            continue
        lines.append(
            f"| {mode} | {size} | {period} "
            f"| {spread([r.data_bytes / 1e6 for r in got], '{:.2f}')} MB "
            f"| {spread([r.text_bytes / 1e6 for r in got], '{:.2f}')} MB "
            f"| {spread([r.records for r in got], '{:.0f}')} "
            f"| {spread([r.records_all for r in got], '{:.0f}')} "
            f"| {max(r.lost for r in got)} "
            f"| {spread([r.mbps for r in got], '{:.0f}')} "
            f"| {sum(bool(r.extra.get('overlapped')) for r in got)} |"
        )
    lines += [
        "",
        "Share error against the full recording: for each (period-1 run, period-N run) pair of "
        "the same mode and size, the relative error |share_N − share_1| / share_1 of every "
        "function above 1% share in the period-1 run; per pair its maximum and its median over "
        "those functions; min / median / max over the pairs (9 pairs for N > 1, the 6 ordered "
        "pairs of distinct period-1 runs for N = 1: the run-to-run noise floor).",
        "",
        "| mode | size | period | functions > 1% | max error per pair | median error per pair "
        "| pairs with max < 5% |",
        "|---|---|---|---|---|---|---|",
    ]
    verdict: dict[int, list[bool]] = {period: [] for period in periods}
    by_cell: dict[tuple[str, int], list[RunResult]] = {}
    for run in runs:
        by_cell.setdefault((run.mode, run.size), []).append(run)
    for (mode, size), cell in sorted(
        by_cell.items(), key=lambda kv: (MODES.index(kv[0][0]), -kv[0][1])
    ):
        for period in periods:
            found = [errors(ref, other) for ref, other in pairs(cell, period)]
            maxima = [max(e) for e in found if e]
            medians = [statistics.median(e) for e in found if e]
            counts = [len(e) for e in found]
            ok = sum(m < GOAL for m in maxima)
            verdict[period].append(bool(maxima) and statistics.median(maxima) < GOAL)
            lines.append(
                f"| {mode} | {size} | {period} | {spread(counts, '{:.0f}')} "
                f"| {spread(maxima)} | {spread(medians)} | {ok} of {len(maxima)} |"
            )
    lines += [
        "",
        "Mode diff (bridge against loopback, `diff_functions`, `extra` above 1% of the bridge "
        "run's records), repetition i of each mode paired; agreement = the set equals the "
        "period-1 set of the same repetition index:",
        "",
        "| size | period | extra functions > 1% (rep 0) | same as period 1 |",
        "|---|---|---|---|",
    ]
    diff_ok: dict[int, list[bool]] = {period: [] for period in periods}
    for size in sizes:
        reference: dict[int, frozenset[str]] = {}
        for period in periods:
            sets: dict[int, frozenset[str]] = {}
            for base in group.get(("loopback", size, period), []):
                for target in group.get(("bridge", size, period), []):
                    if base.rep == target.rep:
                        sets[base.rep] = extras(base, target)
            if period == 1:
                reference = sets
            agree = [sets[rep] == reference.get(rep) for rep in sorted(sets)]
            if period == 1:
                distinct = len(set(sets.values()))
                note = f"{distinct} distinct set(s) over {len(sets)} reps"
            else:
                note = f"{sum(agree)} of {len(agree)} reps"
                diff_ok[period] += agree
            first = sorted(sets.get(0, frozenset()))
            lines.append(f"| {size} | {period} | {', '.join(first) or '–'} | {note} |")
    lines += [
        "",
        "| period | share error goal met (all cells, median pair) | mode diff same |",
        "|---|---|---|",
    ]
    for period in periods:
        same = "(reference)" if period == 1 else f"{sum(diff_ok[period])}/{len(diff_ok[period])}"
        lines.append(f"| {period} | {sum(verdict[period])}/{len(verdict[period])} cells | {same} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--periods", default="1,10,100,1000")
    parser.add_argument("--sizes", default="1400,64")
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--analyse-only", action="store_true")
    parser.add_argument("--resume", action="store_true", help="keep the runs already recorded")
    args = parser.parse_args()
    runs_file = WORK / "sampling-runs.jsonl"
    if not args.analyse_only:
        if os.geteuid() != 0:
            raise SystemExit("perf record -a needs root")
        periods = [int(p) for p in args.periods.split(",")]
        sizes = [int(s) for s in args.sizes.split(",")]
        if 1 not in periods:
            raise SystemExit("period 1 is the reference and must be among --periods")
        if not args.resume:
            with contextlib.suppress(FileNotFoundError):
                runs_file.unlink()
        run_all(args.reps, periods, sizes, args.duration, runs_file)
    text = analyse(load(runs_file))
    (WORK / "sampling.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
