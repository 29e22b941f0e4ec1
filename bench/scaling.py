#!/usr/bin/env python3
"""Benchmark 5 of issue 8: does `invoke matrix` scale over hosts on distinct hardware?

    .venv/bin/python bench/scaling.py --inventory /tmp/bench-scaling/lab.yml \
        [--hosts lab1,lab2,lab3,lab4] [--counts 1,2,4] [--rounds 3] [--reps 5] \
        [--duration 2] [--size 1400] [--work /tmp/bench-scaling] [--analyse-only] \
        [--write-results bench/RESULTS.md]

The inventory is the one `invoke lab.up` generated. Its hosts all share the `hardware` group
`hw_controller` (Docker-provider nodes share the controller's kernel and CPUs), so a matrix
over them is one lane. For this benchmark only, the script writes a copy of it in which every
host has a `hardware` variable and group of its own; the matrix then runs one lane per host,
in parallel (orchestrator/experiment/schedule.py).

Each round runs `invoke matrix` once per host count (1, 2, 4: the first hosts of `--hosts`),
interleaved so that drift in the machine's load spreads over all counts alike. Every call gets
a fresh results directory and database, so nothing is resumed. Per call it records the wall
time of the `invoke` process and its CPU time (user + sys from wait4's rusage: the controller,
since SSH is Paramiko in-process) and, from the call's database, every run's own wall time
(`started_at` to `finished_at`). The ideal for n hosts is the sum of the runs' own wall times
divided by n: what the matrix would take if the controller added nothing and the lanes were
perfectly balanced. Runs' own times include whatever the lanes cost each other on shared CPUs,
so the ratio wall / ideal isolates what the controller serialises.

Results go to <work>/scaling-calls.jsonl (one line per call); tables to stdout.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shlex
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from collapse import command_line, machine, stats, version, write_section  # noqa: E402

from orchestrator.host import Host  # noqa: E402
from orchestrator.lab import labfile  # noqa: E402

INVOKE = ROOT / ".venv" / "bin" / "invoke"
CAMPAIGN = "scaling"


@dataclass(frozen=True)
class Run:
    """One run of a call, from the call's database."""

    host: str
    mode: str
    status: str
    started: float  # seconds since the epoch
    finished: float
    mbps: float | None  # the plain phase's throughput


@dataclass(frozen=True)
class Call:
    """One `invoke matrix` over `hosts` hosts."""

    hosts: int
    round: int
    load: float  # 1-minute load average just before the call
    began: float  # seconds since the epoch, just before the process started
    wall: float
    user: float
    sys: float
    runs: list[Run]
    nodes: str  # what the hosts reported (distro, kernel, Docker, perf)


def spec_text(reps: int, duration: float, size: int) -> str:
    """The matrix of every call: loopback and bridge, one size, both phases."""
    return (
        f"name: {CAMPAIGN}\n"
        "baseline: loopback\n"
        "axes:\n"
        "  mode: [loopback, bridge]\n"
        f"  size: [{size}]\n"
        "  proto: [tcp]\n"
        f"repetitions: {reps}\n"
        f"duration: {duration}s\n"
        "warmup: 200ms\n"
        "phases: [plain, traced]\n"
        "trace:\n"
        '  perf: {events: ["net:*", "skb:*"], call_graph: fp, period: 101}\n'
    )


def distinct_hardware(source: Path, target: Path) -> list[str]:
    """Copy the generated inventory, each host in a `hardware` group of its own; host names."""
    hosts = labfile.read_lab_inventory(source)
    if not hosts:
        raise SystemExit(f"error: {source}: no hosts (bring the lab up first)")
    copied = {}
    for name, host in hosts.items():
        group = f"hw_bench_{name}"
        others = tuple(g for g in host.groups if g != host.vars.get("hardware"))
        copied[name] = Host(name, {**host.vars, "hardware": group}, (*others, group))
    labfile.write_lab_inventory(target, copied)
    return list(hosts)


def runs_of(database: Path) -> list[Run]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT cell.host, cell.mode, run.status, run.started_at, run.finished_at, "
            "metric.value FROM run JOIN cell ON cell.id = run.cell_id LEFT JOIN metric "
            "ON metric.run_id = run.id AND metric.name = 'mbps/plain'"
        ).fetchall()
    return [
        Run(host, mode, status, _epoch(start), _epoch(end), mbps)
        for host, mode, status, start, end, mbps in rows
    ]


def nodes_of(database: Path) -> str:
    """The distinct host snapshots of a call: distro, kernel, Docker and perf versions."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT DISTINCT distro, kernel, docker_version, perf_version FROM host_snapshot"
        ).fetchall()
    return "; ".join(
        f"{distro}, kernel {kernel}, Docker {docker}, perf {perf}"
        for distro, kernel, docker, perf in rows
    )


def _epoch(stamp: str) -> float:
    """The database keeps UTC without an offset."""
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()


def call_matrix(hosts: list[str], round_: int, spec: Path, inventory: Path, work: Path) -> Call:
    """`invoke matrix` over `hosts`, in a fresh results directory and database."""
    results = work / f"h{len(hosts)}-r{round_}"
    if results.exists():
        raise SystemExit(f"error: {results} exists: remove it or pick another --work")
    results.mkdir(parents=True)
    database = results / "netmatrix.db"
    env = {
        **os.environ,
        "NETMATRIX_DB": f"sqlite:///{database}",
        "NETMATRIX_RESULTS": str(results),
    }
    argv = [
        str(INVOKE), "matrix", "--hosts", ",".join(hosts),
        "--spec", str(spec), "--inventory", str(inventory),
    ]  # fmt: skip
    load = os.getloadavg()[0]
    with (results / "matrix.log").open("wb") as log:
        began = time.time()
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"error: {shlex.join(argv)} failed: see {results / 'matrix.log'}")
    return Call(
        len(hosts),
        round_,
        load,
        began,
        wall,
        usage.ru_utime,
        usage.ru_stime,
        runs_of(database),
        nodes_of(database),
    )


def load_calls(path: Path) -> list[Call]:
    calls = []
    for line in path.read_text().splitlines():
        if line:
            fields = json.loads(line)
            fields["runs"] = [Run(**run) for run in fields["runs"]]
            calls.append(Call(**fields))
    return calls


def most_concurrent(runs: list[Run]) -> int:
    """The most runs in flight at one moment: the lanes that really ran in parallel."""
    edges = sorted([(r.started, 1) for r in runs] + [(r.finished, -1) for r in runs])
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


def gaps(runs: list[Run]) -> list[float]:
    """Seconds between a run's end and the next run's start on the same host (lane)."""
    found = []
    for host in {r.host for r in runs}:
        mine = sorted((r for r in runs if r.host == host), key=lambda r: r.started)
        found += [b.started - a.finished for a, b in itertools.pairwise(mine)]
    return found


@dataclass(frozen=True)
class Figures:
    """What one call shows, derived from its record."""

    wall: float
    ideal: float  # sum of the runs' own wall times / hosts
    longest_lane: float  # the largest sum of one host's runs
    ramp: float  # call start to first run start + last run end to call end
    cpu: float
    concurrent: int
    ok: int
    total: int
    run_median: float
    gap_median: float


def figures(call: Call) -> Figures:
    spent = [r.finished - r.started for r in call.runs]
    lanes = {r.host: 0.0 for r in call.runs}
    for run in call.runs:
        lanes[run.host] += run.finished - run.started
    first = min(r.started for r in call.runs)
    last = max(r.finished for r in call.runs)
    return Figures(
        wall=call.wall,
        ideal=sum(spent) / call.hosts,
        longest_lane=max(lanes.values()),
        ramp=(first - call.began) + (call.began + call.wall - last),
        cpu=call.user + call.sys,
        concurrent=most_concurrent(call.runs),
        ok=sum(r.status == "ok" for r in call.runs),
        total=len(call.runs),
        run_median=statistics.median(spent),
        gap_median=statistics.median(gaps(call.runs) or [0.0]),
    )


def analyse(calls: list[Call]) -> str:
    """The markdown tables, one row per host count."""
    by_count: dict[int, list[Figures]] = {}
    loads: dict[int, list[float]] = {}
    for call in calls:
        by_count.setdefault(call.hosts, []).append(figures(call))
        loads.setdefault(call.hosts, []).append(call.load)
    lines = [
        "| hosts | calls | runs ok / total | `invoke matrix` wall (s) | ideal: Σ run wall / "
        "hosts (s) | wall / ideal | longest lane (s) | start-up + tail (s) | run wall, median "
        "(s) | gap between runs, median (s) | most runs at once | controller CPU user+sys (s) "
        "| CPU / wall | load at start |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for count in sorted(by_count):
        got = by_count[count]
        lines.append(
            f"| {count} | {len(got)} | {sum(f.ok for f in got)} / {sum(f.total for f in got)} "
            f"| {stats([f.wall for f in got])} | {stats([f.ideal for f in got])} "
            f"| {stats([f.wall / f.ideal for f in got])} "
            f"| {stats([f.longest_lane for f in got])} | {stats([f.ramp for f in got])} "
            f"| {stats([f.run_median for f in got])} | {stats([f.gap_median for f in got])} "
            f"| {min(f.concurrent for f in got)}–{max(f.concurrent for f in got)} "
            f"| {stats([f.cpu for f in got])} "
            f"| {stats([100 * f.cpu / f.wall for f in got], '{:.1f}%')} "
            f"| {min(loads[count]):.1f}–{max(loads[count]):.1f} |"
        )
    modes = sorted({r.mode for call in calls for r in call.runs})
    lines += [
        "",
        "The lanes' cost to each other on the shared cores: plain-phase throughput of every "
        "run, min / median / max over all runs of that host count (Mbit/s):",
        "",
        "| hosts | " + " | ".join(modes) + " |",
        "|---|" + "---|" * len(modes),
    ]
    for count in sorted(by_count):
        runs = [r for call in calls if call.hosts == count for r in call.runs]
        cells = [
            stats([r.mbps for r in runs if r.mode == mode and r.mbps is not None], "{:.0f}")
            for mode in modes
        ]
        lines.append(f"| {count} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, help="the lab inventory from `invoke lab.up`")
    parser.add_argument("--hosts", default="lab1,lab2,lab3,lab4")
    parser.add_argument("--counts", default="1,2,4", help="host counts to compare")
    parser.add_argument("--rounds", type=int, default=3, help="calls per host count")
    parser.add_argument("--reps", type=int, default=5, help="the spec's repetitions")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per phase")
    parser.add_argument("--size", type=int, default=1400)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-scaling"))
    parser.add_argument("--analyse-only", action="store_true")
    parser.add_argument("--write-results", type=Path, help="put the tables into this file")
    parser.add_argument("--note", action="append", default=[], help="a paragraph to add")
    args = parser.parse_args()

    work = args.work.resolve()
    calls_file = work / "scaling-calls.jsonl"
    spec = work / "scaling.yml"
    if not args.analyse_only:
        if args.inventory is None:
            parser.error("--inventory is required unless --analyse-only")
        work.mkdir(parents=True, exist_ok=True)
        inventory = work / "scaling-inventory.yml"
        known = distinct_hardware(args.inventory, inventory)
        hosts = [name.strip() for name in args.hosts.split(",") if name.strip()]
        missing = sorted(set(hosts) - set(known))
        if missing:
            raise SystemExit(f"error: {args.inventory}: no host {', '.join(missing)}")
        counts = [int(n) for n in args.counts.split(",")]
        if max(counts) > len(hosts):
            raise SystemExit(f"error: --counts {max(counts)} needs that many --hosts")
        spec.write_text(spec_text(args.reps, args.duration, args.size))
        calls_file.unlink(missing_ok=True)
        with calls_file.open("a") as sink:
            for round_ in range(args.rounds):
                for count in counts:
                    call = call_matrix(hosts[:count], round_, spec, inventory, work)
                    sink.write(json.dumps(asdict(call)) + "\n")
                    sink.flush()
                    got = figures(call)
                    print(
                        f"round {round_} hosts {count}: load {call.load:.1f}, wall "
                        f"{got.wall:.1f} s, ideal {got.ideal:.1f} s, cpu {got.cpu:.1f} s, "
                        f"{got.ok}/{got.total} ok, {got.concurrent} at once",
                        file=sys.stderr,
                    )
    calls = load_calls(calls_file)
    table = analyse(calls)
    tools = [version(["docker", "--version"]), version(["vagrant", "--version"])]
    section = "\n".join(
        [
            "## Scaling",
            "",
            f"Command: `{command_line()}`",
            "",
            f"Controller: {machine(*tools, load=False)}.",
            "",
            f"Lab nodes (Docker provider, on the controller): {calls[0].nodes}.",
            "",
            "Spec of every call:",
            "",
            *("    " + line for line in spec.read_text().splitlines()),
            "",
            "Per host count, min / median / max over the calls:",
            "",
            table,
            *(part for note in args.note for part in (note, "")),
        ]
    )
    print(section)
    if args.write_results:
        write_section(args.write_results, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
