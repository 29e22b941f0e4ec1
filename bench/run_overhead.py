"""Benchmark 2 of issue 8: what a run costs beyond the time it measures, and where it goes.

Two parts, on a provisioned lab:

1. `--database`: every ok run of a campaign already in a results database (e.g. the demo
   matrix): wall time (started → finished) minus what it measures (warm-up + duration per
   phase); min / median / p90 / max.
2. `--profile`: one run per mode on one host, through a connection that times every remote
   command; the time is grouped by step (container start, perf, perf script, reducer,
   transfer, teardown, …) so the largest part is visible.

Usage (each --database one demo matrix, run one after another on the same lab):
    .venv/bin/python bench/run_overhead.py --inventory inventories/lab.yml --host lab1 \
        --spec playbooks/demo.yml --database m1/netmatrix.db --database m2/netmatrix.db \
        --database m3/netmatrix.db --campaign demo --profile-runs 3
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from orchestrator.connection import connect
from orchestrator.experiment import run
from orchestrator.experiment.cells import Cell
from orchestrator.experiment.hosttools import install_host_files
from orchestrator.experiment.spec import Spec, load_spec
from orchestrator.facts import gather_facts
from orchestrator.inventory import load_inventory

# First word(s) of a remote command -> the step it belongs to.
STEPS = (
    ("docker run", "containers start"),
    ("docker network create", "mode network"),
    ("docker logs", "server ready / output"),
    ("docker inspect", "server ready / output"),
    ("docker exec", "client, plain phase"),
    ("perf record", "perf record (traced phase)"),
    ("sh -c perf script", "perf script"),
    ("python3 /opt/netmatrix/netmatrix-reduce.pyz", "reducer"),
    ("get", "transfer (sha256 both ends)"),
    ("docker stop", "server stop"),
    ("sh -c \ntag=", "teardown"),
    ("python3 /opt/netmatrix/app/client.py", "client, plain phase"),
    ("sh -c setsid", "containers start"),
    ("cat", "server ready / output"),
    ("mkdir", "work dir"),
)


def measured_seconds(spec: Spec) -> float:
    return (spec.warmup + spec.duration) * len(spec.phases)


def from_database(database: Path, campaign: str, spec: Spec) -> list[float]:
    """Overhead of each ok run: wall time minus measured time."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT run.started_at, run.finished_at FROM run JOIN cell ON cell.id = run.cell_id "
            "JOIN campaign ON campaign.id = cell.campaign_id "
            "WHERE campaign.name = ? AND run.status = 'ok' AND NOT run.superseded",
            (campaign,),
        ).fetchall()
    spent = [
        (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        for start, end in rows
    ]
    return [seconds - measured_seconds(spec) for seconds in spent]


class TimedConnection:
    """Wraps a connection; records (seconds, text) of every command and transfer."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.host = conn.host
        self.log: list[tuple[float, str]] = []

    def _timed(self, label: str, call, *args, **kwargs):
        started = time.monotonic()
        try:
            return call(*args, **kwargs)
        finally:
            self.log.append((time.monotonic() - started, label))

    def run(self, command, **kwargs):
        return self._timed(_text(command), self.conn.run, command, **kwargs)

    def sudo(self, command, **kwargs):
        return self._timed(_text(command), self.conn.sudo, command, **kwargs)

    def put(self, local, remote, **kwargs):
        return self._timed("put", self.conn.put, local, remote, **kwargs)

    def get(self, remote, local):
        return self._timed("get", self.conn.get, remote, local)

    def close(self) -> None:
        self.conn.close()


def _text(command) -> str:
    return command if isinstance(command, str) else " ".join(command)


def step_of(text: str) -> str:
    for prefix, step in STEPS:
        if text.startswith(prefix):
            return step
    return "other"


def profile(inventory: Path, host_name: str, spec: Spec, modes: list[str], runs: int) -> dict:
    """`runs` runs per mode (modes interleaved); per mode, seconds per step of each run."""
    host = load_inventory(inventory).select(host_name)[0]
    conn = connect(host)
    facts = gather_facts(conn).as_dict()
    install_host_files(conn)
    results: dict[str, list[dict]] = defaultdict(list)
    with TemporaryDirectory() as artifacts:
        for repetition in range(1, runs + 1):
            for mode in modes:
                timed = TimedConnection(conn)
                cell = Cell(mode, spec.axes.size[-1], "tcp", host.name, facts["kernel_release"])
                request = run.RunRequest(
                    spec=spec, cell=cell, repetition=repetition, tag=uuid.uuid4().hex[:8],
                    facts=facts, artifact_dir=Path(artifacts) / mode / str(repetition),
                    lab_nic=host.vars.get("lab_nic"),
                )  # fmt: skip
                started = time.monotonic()
                outcome = run.execute(timed, request)
                total = time.monotonic() - started
                steps: dict[str, float] = defaultdict(float)
                for seconds, text in timed.log:
                    steps[step_of(text)] += seconds
                steps["(not in a remote command)"] = total - sum(s for s, _ in timed.log)
                results[mode].append({"status": outcome.status, "total": total, **steps})
    conn.close()
    return results


def spread(values: list[float]) -> str:
    """min / median / max."""
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def render(matrices: list[list[float]], profiles: dict, spec: Spec) -> str:
    lines = []
    if matrices:
        lines += [
            f"Overhead per ok run (wall time minus {measured_seconds(spec):.1f} s measured), "
            "per matrix:",
            "",
            "| matrix | ok runs | min | median | p90 | max |",
            "|---|---|---|---|---|---|",
        ]
        for number, overheads in enumerate(matrices, 1):
            lines.append(
                f"| {number} | {len(overheads)} | {min(overheads):.2f} | "
                f"{statistics.median(overheads):.2f} | {p90(overheads):.2f} | "
                f"{max(overheads):.2f} |"
            )
        medians = [statistics.median(overheads) for overheads in matrices]
        lines += [
            "",
            f"Over the {len(matrices)} matrices (min / median / max): median overhead "
            f"{spread(medians)} s, p90 {spread([p90(o) for o in matrices])} s.",
            "",
        ]
    if profiles:
        modes = list(profiles)
        runs = min(len(p) for p in profiles.values())
        steps = sorted({k for p in profiles.values() for r in p for k in r} - {"status", "total"})
        lines.append(f"Seconds per step, median of {runs} runs per mode:")
        lines.append("")
        lines.append("| step | " + " | ".join(modes) + " |")
        lines.append("|---|" + "---|" * len(modes))
        for step in steps:
            medians = [statistics.median(r.get(step, 0.0) for r in profiles[m]) for m in modes]
            cells = [f"{median:.2f}" for median in medians]
            lines.append(f"| {step} | " + " | ".join(cells) + " |")
        totals = [spread([r["total"] for r in profiles[m]]) for m in modes]
        lines.append("| **total (s), min / median / max** | " + " | ".join(totals) + " |")
        statuses = [",".join(sorted({str(r["status"]) for r in profiles[m]})) for m in modes]
        lines.append("| status | " + " | ".join(statuses) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, default=Path("inventories/lab.yml"))
    parser.add_argument("--host", default="lab1")
    parser.add_argument("--spec", type=Path, default=Path("playbooks/demo.yml"))
    parser.add_argument(
        "--database", type=Path, action="append", default=[],
        help="a results database holding one matrix of the campaign (repeat: one per matrix)",
    )  # fmt: skip
    parser.add_argument("--campaign", default="demo")
    parser.add_argument("--modes", default="loopback,host,bridge,macvlan")
    parser.add_argument("--profile-runs", type=int, default=3, help="runs per mode (0: none)")
    args = parser.parse_args()
    spec = load_spec(args.spec)
    matrices = [from_database(database, args.campaign, spec) for database in args.database]
    profiles = (
        profile(args.inventory, args.host, spec, args.modes.split(","), args.profile_runs)
        if args.profile_runs
        else {}
    )
    print(render(matrices, profiles, spec))


if __name__ == "__main__":
    main()
