"""A synthetic lab for the report tests: campaigns, runs and their artifact files in a few words.

Everything goes through the repository functions the matrix uses, so the reports read the
database exactly as a real campaign leaves it.
"""

from __future__ import annotations

import hashlib
import lzma
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.db import repository
from orchestrator.db.models import RunStatus
from orchestrator.db.repository import CampaignRef, SnapshotRef
from orchestrator.db.session import Database, open_database
from tests.unit.db.builders import FACTS, KERNEL

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "databases" / "demo.db.xz"

# A valid spec, so that the reports find the baseline in it.
SPEC = """name: paper
baseline: loopback
axes:
  mode: [loopback, host, bridge, macvlan, ipvlan-l2]
  size: [64, 1400]
  proto: [tcp]
repetitions: 4
duration: 1s
"""
SPEC_HASH = "b" * 64


@dataclass
class Lab:
    """A campaign being filled: numbers each cell's repetitions and writes each run's files."""

    db: Database
    campaign: CampaignRef
    results: Path
    snapshots: dict[str, SnapshotRef] = field(default_factory=dict)
    repetitions: Counter[str] = field(default_factory=Counter)

    def run(
        self,
        mode: str,
        size: int,
        status: RunStatus = RunStatus.OK,
        *,
        host: str = "lab1",
        mbps: float | None = None,
        traced: float | None = None,
        ftraced: float | None = None,
        functions: dict[str, int] | None = None,
        records: int = 1000,
        lost: int = 0,
        error: str | None = None,
    ) -> str:
        """Start and finish one run of the cell; ok runs get an artifact file."""
        if host not in self.snapshots:
            self.snapshots[host] = repository.record_host_snapshot(self.db, host, FACTS)
        key = f"mode={mode},size={size},proto=tcp,host={host}"
        cell = repository.get_or_create_cell(
            self.db, self.campaign, key, mode, size, "tcp", host, KERNEL
        )
        self.repetitions[key] += 1
        repetition = self.repetitions[key]
        run_id = repository.start_run(self.db, cell, repetition, self.snapshots[host])
        metrics = {}
        if mbps is not None:
            metrics["mbps/plain"] = (mbps, "Mbit/s")
            metrics["msgs_per_s/plain"] = (mbps * 1e6 / 8 / size, "messages/s")
        if traced is not None:
            metrics["mbps/traced"] = (traced, "Mbit/s")
        if ftraced is not None:
            metrics["mbps/ftrace"] = (ftraced, "Mbit/s")
        if functions is not None:
            metrics.update(
                records=(float(records), "records"),
                events=(float(records), "events"),
                lost_events=(float(lost), "events"),
            )
        repository.finish_run(
            self.db,
            run_id,
            status,
            error=error,
            metrics=metrics,
            function_counts=functions or {},
            artifacts=[self.artifact(key, repetition, run_id)] if status == RunStatus.OK else [],
        )
        return run_id

    def artifact(self, key: str, repetition: int, run_id: str) -> repository.ArtifactEntry:
        relative = f"artifacts/{self.campaign.name}/{key}/rep-{repetition}/{run_id}/client.json"
        data = f'{{"run": "{run_id}"}}\n'.encode()
        path = self.results / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return ("client", relative, hashlib.sha256(data).hexdigest(), len(data))


LOOPBACK_FUNCTIONS = {"tcp_sendmsg": 1000, "loopback_xmit": 900, "ksys_read": 4}
BRIDGE_FUNCTIONS = {
    "tcp_sendmsg": 1000,
    "veth_xmit": 700,
    "br_handle_frame": 600,
    "br_forward_finish": 550,
    "unix_stream_read_generic": 3,  # background noise: 0.3 % of the records
}
MACVLAN_FUNCTIONS = {"tcp_sendmsg": 1000, "macvlan_start_xmit": 800}
UNKNOWN_DEVICE = "ipvlan-l2: Error: Unknown device type."

# The paper campaign, cell by cell: what each test expects from it.
LOOPBACK_64 = (100.0, 110.0, 90.0, 104.0)
LOOPBACK_64_TRACED = (80.0, 90.0, 70.0, 85.0)
LOOPBACK_1400 = (1000.0, 1100.0, 900.0)
BRIDGE_64 = (50.0, 55.0, 45.0, 52.0)
BRIDGE_64_TRACED = (20.0, 25.0, 18.0, 22.0)
BRIDGE_1400 = (500.0,)
HOST_64 = (95.0, 99.0)
MACVLAN_1400 = (400.0, 420.0)


def fill_paper(lab: Lab) -> None:
    """The synthetic campaign most tests read (one host, one kernel):

    loopback: 4 runs at 64 B (traced), 3 at 1400 B; bridge: 4 traced runs at 64 B, one at
    1400 B (n = 1), one of them lost trace events; host: 2 runs at 64 B, none at 1400 B (not
    run); macvlan: both runs at 64 B failed, at 1400 B two ok and one failed; ipvlan-l2:
    unsupported at both sizes.
    """
    for plain, traced in zip(LOOPBACK_64, LOOPBACK_64_TRACED, strict=True):
        lab.run("loopback", 64, mbps=plain, traced=traced, functions=LOOPBACK_FUNCTIONS)
    for plain in LOOPBACK_1400:
        lab.run("loopback", 1400, mbps=plain)
    for host in HOST_64:
        lab.run("host", 64, mbps=host)
    for index, (plain, traced) in enumerate(zip(BRIDGE_64, BRIDGE_64_TRACED, strict=True)):
        lab.run(
            "bridge", 64, mbps=plain, traced=traced, functions=BRIDGE_FUNCTIONS, lost=12 * index
        )
    lab.run("bridge", 1400, mbps=BRIDGE_1400[0])
    for _ in range(2):
        lab.run("macvlan", 64, RunStatus.FAILED, error="client exited 1")
    lab.run("macvlan", 1400, mbps=MACVLAN_1400[0], functions=MACVLAN_FUNCTIONS)
    lab.run("macvlan", 1400, RunStatus.FAILED, error="server did not start")
    lab.run("macvlan", 1400, mbps=MACVLAN_1400[1], functions=MACVLAN_FUNCTIONS)
    for size in (64, 1400):
        lab.run("ipvlan-l2", size, RunStatus.UNSUPPORTED, error=UNKNOWN_DEVICE)


def demo_database(directory: Path) -> Path:
    """The real demo database of tests/fixtures/databases, decompressed and migrated."""
    path = directory / "demo.db"
    path.write_bytes(lzma.decompress(DEMO.read_bytes()))
    open_database(f"sqlite:///{path}").close()
    return path
