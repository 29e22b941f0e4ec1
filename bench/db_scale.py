#!/usr/bin/env python3
"""Benchmark: the results database at 10,000 runs, SQLite against a PostgreSQL server.

    .venv/bin/python bench/db_scale.py [--runs 10000] [--rounds 3] \
        [--write-results bench/RESULTS.md]

For each backend, a new database: SQLite in WAL mode on a file (the default), and a local
PostgreSQL 15 cluster (tests/integration/postgres.py, with fsync on, over TCP on 127.0.0.1
with a password, as a lab talks to a shared server; a real server adds its network round
trips). Into each it writes `--runs` synthetic runs through the same calls the matrix makes,
`start_run` then `finish_run`, each its own committed transaction. A run stores what a traced
demo run stores, rounded up: 8 metrics, 40 event counts, 6 device counts, 150 function
counts, 5 artifacts. Cells: 5 modes × 4 sizes × 5 hosts, `--runs` / 100 repetitions each.

Per-run write cost is the wall time of those two calls, for the first and the last 1,000
runs (does it grow with the database?). `results.table` time is the real `invoke
results.table` (a new process, as a user runs it: interpreter, imports, connection, query,
render) on the full database, `--rounds` times, and the query part alone in-process
(`load_campaign`, the current runs with their metrics).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from collapse import command_line, machine, version, write_section  # noqa: E402

from orchestrator.db import repository  # noqa: E402
from orchestrator.db.models import RunStatus  # noqa: E402
from orchestrator.db.session import open_database  # noqa: E402
from orchestrator.reports import queries  # noqa: E402
from tests.integration.postgres import binaries, start_cluster  # noqa: E402

MODES = ("loopback", "host", "bridge", "macvlan", "ipvlan-l2")
SIZES = (64, 512, 1400, 8192)
HOSTS = tuple(f"lab{n}" for n in range(1, 6))
WINDOW = 1000  # runs at the start and at the end whose write cost is reported
FACTS = {"kernel_release": "6.1.0-13-amd64", "cpus": 2, "docker_version": "20.10.24"}


def fill(url: str, runs: int) -> list[float]:
    """Write `runs` synthetic runs; the seconds each took (start_run + finish_run)."""
    rng = random.Random(15)
    functions = [f"kernel_function_{n}" for n in range(150)]
    events = [f"net:event_{n}" for n in range(40)]
    costs = []
    with open_database(url) as db:
        campaign = repository.get_or_create_campaign(
            db, "scale", "name: scale\n", "5" * 64, "bench", None
        )
        snapshots = {host: repository.record_host_snapshot(db, host, FACTS) for host in HOSTS}
        cells = [
            repository.get_or_create_cell(
                db,
                campaign,
                f"mode={mode},size={size},proto=tcp,host={host}",
                mode,
                size,
                "tcp",
                host,
                FACTS["kernel_release"],
            )
            for mode in MODES
            for size in SIZES
            for host in HOSTS
        ]
        for number in range(runs):
            cell = cells[number % len(cells)]
            repetition = number // len(cells)
            host = cell.key.rsplit("=", 1)[1]
            started = time.perf_counter()
            run_id = repository.start_run(db, cell, repetition, snapshots[host])
            repository.finish_run(
                db,
                run_id,
                RunStatus.OK,
                metrics={
                    name: (rng.uniform(100, 5000), "Mbit/s")
                    for name in (
                        "mbps/plain",
                        "mbps/traced",
                        "msgs/plain",
                        "msgs/traced",
                        "events",
                        "lost_events",
                        "records",
                        "seconds",
                    )
                },
                event_counts={event: rng.randrange(1, 10**6) for event in events},
                device_counts={f"veth{n}": rng.randrange(1, 10**5) for n in range(6)},
                function_counts={function: rng.randrange(1, 10**4) for function in functions},
                artifacts=[
                    (
                        kind,
                        f"artifacts/scale/{cell.id}/rep-{repetition}/{run_id}/{kind}",
                        "0" * 64,
                        1,
                    )
                    for kind in ("client-plain", "client-traced", "server", "reduction", "folded")
                ],
            )
            costs.append(time.perf_counter() - started)
            if number % 1000 == 999:
                print(f"  {number + 1} runs", file=sys.stderr, flush=True)
    return costs


def table_times(url: str, runs: int, rounds: int) -> tuple[list[float], list[float]]:
    """Seconds of `invoke results.table` (whole process) and of `load_campaign` alone."""
    environ = {**os.environ, "NETMATRIX_DB": url}
    whole, query = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "invoke", "results.table", "--rows", "mode", "--cols", "size"],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        whole.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"results.table failed: {done.stderr}")
        os.environ["NETMATRIX_DB"] = url
        started = time.perf_counter()
        data = queries.load_campaign("scale", functions=False)
        query.append(time.perf_counter() - started)
        if len(data.runs) != runs:
            raise RuntimeError(f"{len(data.runs)} current runs, not {runs}")
    return whole, query


def ms(values: list[float], q: float = 0.5) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.1f}"


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write-results", type=Path)
    args = parser.parse_args()
    if args.runs % 100 or args.runs < 2 * WINDOW:
        parser.error(f"--runs must be a multiple of 100, at least {2 * WINDOW}")
    work = Path(tempfile.mkdtemp(prefix="db-scale-"))
    cluster = start_cluster(os.urandom(12).hex(), durable=True)
    rows, loads = [], [load()]
    try:
        for name, url in (
            (f"SQLite {sqlite3.sqlite_version} (WAL, file)", f"sqlite:///{work / 'scale.db'}"),
            (f"PostgreSQL {binaries().parent.name} (TCP 127.0.0.1)", cluster.url()),
        ):
            print(f"{name}: writing {args.runs} runs", file=sys.stderr)
            started = time.perf_counter()
            costs = fill(url, args.runs)
            filled = time.perf_counter() - started
            loads.append(load())
            whole, query = table_times(url, args.runs, args.rounds)
            loads.append(load())
            rows.append(
                f"| {name} | {ms(costs[:WINDOW])} / {ms(costs[:WINDOW], 0.9)} "
                f"| {ms(costs[-WINDOW:])} / {ms(costs[-WINDOW:], 0.9)} | {filled:.0f} "
                f"| {statistics.median(whole):.2f} ({min(whole):.2f}–{max(whole):.2f}) "
                f"| {statistics.median(query):.2f} |"
            )
    finally:
        cluster.stop()
    section = "\n".join(
        [
            "## Results database at scale",
            "",
            f"Command: `{command_line()}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
            f"Machine: {machine(version([str(binaries() / 'postgres'), '-V']), load=False)}.",
            f"Load (1/5/15-minute averages) at the start, after each fill and after each "
            f"table series: {'; '.join(loads)}.",
            "",
            f"n = {args.runs} synthetic runs per database (5 modes × 4 sizes × 5 hosts × "
            f"{args.runs // 100} repetitions; per run 8 metrics, 40 event counts, 6 device "
            "counts, 150 function counts, 5 artifacts), written through `start_run` + "
            "`finish_run` as the matrix writes them; `results.table --rows mode --cols size` "
            f"on the full database, {args.rounds} times.",
            "",
            "| database | write ms/run, first 1000 (median / p90) | last 1000 (median / p90) "
            "| fill s | `invoke results.table` s, median (range) | query part s |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(section)
    if args.write_results:
        write_section(args.write_results, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
