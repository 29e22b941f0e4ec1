"""What reports read back: the runs table, a mode's function counts, the integrity check."""

import sqlite3
from pathlib import Path

from sqlalchemy import update

from orchestrator.db import repository
from orchestrator.db.models import Run, RunStatus
from orchestrator.db.repository import CampaignRef, PooledFunctionCounts, RunRow, SnapshotRef
from orchestrator.db.session import Database
from tests.unit.db.builders import KERNEL, add_cell, finished_run

MEASURED = {
    "mbps/plain": (941.5, "Mbit/s"),
    "mbps/traced": (610.25, "Mbit/s"),
    "msgs_per_s/plain": (84050.0, "1/s"),
    "events": (120000.0, "records"),
    "lost_events": (12.0, "records"),
    "bytes": (588_000_000.0, "B"),
}


def test_runs_rows_one_row_per_run_with_its_numbers(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
):
    cell = add_cell(db, campaign)
    ok = finished_run(db, cell, 1, snapshot, metrics=MEASURED)
    failed = finished_run(db, cell, 2, snapshot, RunStatus.FAILED, error="client exited 1")
    other = repository.get_or_create_campaign(db, "other", "name: other\n", "c" * 64, "0.1", None)
    elsewhere = finished_run(db, add_cell(db, other, mode="loopback"), 1, snapshot)

    common = {
        "campaign": "demo",
        "cell": cell.key,
        "host": "lab1",
        "kernel": KERNEL,
        "mode": "bridge",
        "size": 1400,
        "proto": "tcp",
        "netem": "none",
    }
    assert repository.runs_rows(db, campaign) == [
        RunRow(
            run_id=ok,
            repetition=1,
            status="ok",
            mbps=941.5,
            mbps_traced=610.25,
            messages=84050.0,
            events=120000,
            lost_events=12,
            error=None,
            **common,
        ),
        RunRow(
            run_id=failed,
            repetition=2,
            status="failed",
            mbps=None,
            mbps_traced=None,
            messages=None,
            events=None,
            lost_events=None,
            error="client exited 1",
            **common,
        ),
    ]
    everything = repository.runs_rows(db)
    assert [row.run_id for row in everything] == [ok, failed, elsewhere]
    assert (everything[2].campaign, everything[2].mode) == ("other", "loopback")


def test_function_counts_sum_the_current_ok_runs_of_a_mode(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
):
    bridge_lab1, bridge_small = add_cell(db, campaign), add_cell(db, campaign, size=64)
    bridge_lab2 = add_cell(db, campaign, host="lab2")
    loopback = add_cell(db, campaign, mode="loopback")

    def traced(cell, repetition, functions, records, status=RunStatus.OK):
        return finished_run(
            db,
            cell,
            repetition,
            snapshot,
            status,
            metrics={"records": (records, "records")},
            function_counts=functions,
        )

    traced(bridge_lab1, 1, {"br_handle_frame": 999, "veth_xmit": 999}, 9999)  # superseded below
    traced(bridge_lab1, 1, {"br_handle_frame": 10, "veth_xmit": 7}, 100)
    traced(bridge_lab1, 2, {"br_handle_frame": 12, "br_forward_finish": 3}, 120)
    traced(bridge_small, 1, {"br_handle_frame": 5}, 50)
    traced(bridge_lab2, 1, {"br_handle_frame": 1000}, 1000)
    traced(bridge_lab1, 3, {"br_handle_frame": 1000}, 1000, RunStatus.FAILED)
    traced(loopback, 1, {"tcp_sendmsg": 40}, 400)

    on_lab1 = repository.traced_runs(db, campaign, "bridge", host="lab1")
    assert [(run.records, dict(run.samples)) for run in on_lab1] == [
        (100, {"br_handle_frame": 10, "veth_xmit": 7}),
        (120, {"br_handle_frame": 12, "br_forward_finish": 3}),
        (50, {"br_handle_frame": 5}),
    ]
    assert {run.kernel for run in on_lab1} == {KERNEL}
    assert len(repository.traced_runs(db, campaign, "bridge")) == 4
    assert repository.traced_runs(db, campaign, "bridge", kernels=["5.10.0-26-amd64"]) == []
    assert repository.traced_runs(db, campaign, "macvlan") == []
    pooled = repository.function_counts_by_mode_and_kernel(db, campaign)[("bridge", KERNEL)]
    assert pooled == PooledFunctionCounts(
        samples={"br_handle_frame": 1027, "veth_xmit": 7, "br_forward_finish": 3},
        records=1270,
        runs=4,
    )


def test_integrity_check_of_a_sound_database(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
):
    finished_run(db, add_cell(db, campaign), 1, snapshot)
    finished_run(db, add_cell(db, campaign), 2, snapshot, RunStatus.FAILED, error="x")

    assert repository.integrity_check(db) == []


def test_integrity_check_finds_dangling_rows_and_ok_runs_without_artifacts(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef, tmp_path: Path
):
    failed = finished_run(db, add_cell(db, campaign), 1, snapshot, RunStatus.FAILED, error="x")
    with db.transaction() as session:
        session.execute(update(Run).where(Run.global_id == failed).values(status="ok"))
    db.close()
    raw = sqlite3.connect(tmp_path / "netmatrix.db")  # foreign keys off, as another tool has them
    with raw:
        raw.execute("INSERT INTO metric (run_id, name, value, unit) VALUES (999, 'mbps', 1, 'x')")
    raw.close()

    assert repository.integrity_check(db) == [
        "metric row 1 refers to a missing run row",
        f"run {failed} is ok but has no artifacts",
    ]
