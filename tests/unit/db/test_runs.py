"""A run's life in the database: started and committed at once, finished in one transaction,
superseded by the run that takes its place, marked interrupted when netmatrix died."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from orchestrator.db import repository
from orchestrator.db.models import Artifact, EventCount, FunctionCount, Metric, Run, RunStatus
from orchestrator.db.repository import CampaignRef, SnapshotRef
from orchestrator.db.session import Database, open_database
from orchestrator.errors import NetmatrixError
from tests.unit.db.builders import ARTIFACT, KERNEL, add_cell, finished_run


def stored_run(db: Database, run_id: str) -> Run:
    with db.transaction() as session:
        run = session.scalar(select(Run).where(Run.global_id == run_id))
        assert run is not None
        return run


def rows_of(db: Database, model: type) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_started_run_is_committed_at_once(
    db: Database, url: str, campaign: CampaignRef, snapshot: SnapshotRef
):
    run_id = repository.start_run(db, add_cell(db, campaign), 1, snapshot)

    with open_database(url) as other:  # another process would see it, had this one died now
        run = stored_run(other, run_id)
    assert (run.status, run.repetition, run.kernel, run.finished_at) == (
        "running",
        1,
        KERNEL,
        None,
    )
    assert len(run_id) == 36 and run.started_at.tzinfo is not None


def test_finish_run_stores_everything_measured(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
):
    run_id = repository.start_run(db, add_cell(db, campaign), 1, snapshot)

    repository.finish_run(
        db,
        run_id,
        RunStatus.OK,
        metrics={"mbps/plain": (941.5, "Mbit/s"), "records": (5000, "records")},
        event_counts={"net:net_dev_queue": 1200, "skb:kfree_skb": 3},
        device_counts={"docker0": 800},
        function_counts={"br_handle_frame": 410, "veth_xmit": 398},
        artifacts=[ARTIFACT],
    )

    run = stored_run(db, run_id)
    assert (run.status, run.error) == ("ok", None)
    assert run.finished_at is not None and run.finished_at >= run.started_at
    with db.transaction() as session:
        assert set(session.execute(select(Metric.name, Metric.value, Metric.unit))) == {
            ("mbps/plain", 941.5, "Mbit/s"),
            ("records", 5000.0, "records"),
        }
        assert dict(session.execute(select(EventCount.event, EventCount.count)).all()) == {
            "net:net_dev_queue": 1200,
            "skb:kfree_skb": 3,
        }
        assert dict(
            session.execute(select(FunctionCount.function, FunctionCount.samples)).all()
        ) == {
            "br_handle_frame": 410,
            "veth_xmit": 398,
        }
        artifact = session.scalars(select(Artifact)).one()
        assert (artifact.kind, artifact.path, artifact.sha256, artifact.bytes) == ARTIFACT


def test_a_failure_in_the_middle_of_finish_run_leaves_the_run_as_it_was(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
):
    run_id = repository.start_run(db, add_cell(db, campaign), 1, snapshot)

    with pytest.raises(IntegrityError):  # the second artifact repeats the first one's path
        repository.finish_run(
            db,
            run_id,
            RunStatus.OK,
            metrics={"mbps/plain": (941.5, "Mbit/s")},
            function_counts={"br_handle_frame": 410},
            artifacts=[ARTIFACT, ARTIFACT],
        )

    run = stored_run(db, run_id)
    assert (run.status, run.finished_at, run.error) == ("running", None, None)
    assert [rows_of(db, model) for model in (Metric, FunctionCount, Artifact)] == [0, 0, 0]


def test_an_ok_run_without_artifacts_is_refused(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
):
    run_id = repository.start_run(db, add_cell(db, campaign), 1, snapshot)

    with pytest.raises(ValueError, match="ok but stores no artifacts"):
        repository.finish_run(db, run_id, RunStatus.OK)
    with pytest.raises(ValueError, match="cannot finish as running"):
        repository.finish_run(db, run_id, RunStatus.RUNNING)
    assert stored_run(db, run_id).status == "running"


def test_a_run_finishes_once(db: Database, campaign: CampaignRef, snapshot: SnapshotRef):
    run_id = finished_run(db, add_cell(db, campaign), 1, snapshot, RunStatus.FAILED, error="boom")

    with pytest.raises(NetmatrixError, match=f"run {run_id} is failed, no longer running"):
        repository.finish_run(db, run_id, RunStatus.INTERRUPTED)
    assert stored_run(db, run_id).error == "boom"


def test_resume_skips_current_ok_and_unsupported_runs(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
):
    bridge, ipvlan = add_cell(db, campaign), add_cell(db, campaign, mode="ipvlan-l2")
    finished_run(db, bridge, 1, snapshot)
    finished_run(db, bridge, 2, snapshot, RunStatus.FAILED, error="client exited 1")
    finished_run(db, bridge, 3, snapshot, RunStatus.INTERRUPTED)
    repository.start_run(db, bridge, 4, snapshot)
    finished_run(db, ipvlan, 1, snapshot, RunStatus.UNSUPPORTED, error="Unknown device type")
    other = repository.get_or_create_campaign(db, "other", "name: other\n", "c" * 64, "0.1", None)
    finished_run(db, add_cell(db, other), 5, snapshot)

    assert repository.completed_runs(db, campaign) == {(bridge.key, 1), (ipvlan.key, 1)}


def test_a_new_run_supersedes_the_earlier_runs_of_its_cell_and_repetition(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
):
    cell = add_cell(db, campaign)
    failed = finished_run(db, cell, 1, snapshot, RunStatus.FAILED, error="unreachable")
    other_repetition = finished_run(db, cell, 2, snapshot)

    retry = finished_run(db, cell, 1, snapshot)

    assert (stored_run(db, failed).superseded, stored_run(db, failed).superseded_by) == (
        True,
        retry,
    )
    assert not stored_run(db, other_repetition).superseded
    assert not stored_run(db, retry).superseded
    assert repository.completed_runs(db, campaign) == {(cell.key, 1), (cell.key, 2)}


def test_supersede_cell_runs_before_a_rerun(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
):
    lab1 = add_cell(db, campaign)
    lab2 = add_cell(db, campaign, host="lab2")
    small = add_cell(db, campaign, size=64)
    first, second = (finished_run(db, lab1, repetition, snapshot) for repetition in (1, 2))
    kept = [finished_run(db, cell, 1, snapshot) for cell in (lab2, small)]

    assert repository.supersede_cell_runs(db, campaign, "mode=bridge,size=1400", "lab1") == 2
    assert repository.completed_runs(db, campaign) == {(lab2.key, 1), (small.key, 1)}
    rerun = finished_run(db, lab1, 1, snapshot)

    assert stored_run(db, first).superseded_by == rerun
    assert stored_run(db, second).superseded and stored_run(db, second).superseded_by is None
    assert not any(stored_run(db, run_id).superseded for run_id in kept)
    assert repository.completed_runs(db, campaign) == {(lab1.key, 1), (lab2.key, 1), (small.key, 1)}
    assert repository.supersede_cell_runs(db, campaign, lab2.key) == 1


def test_stale_running_runs_are_marked_interrupted(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
):
    cell = add_cell(db, campaign)
    stale = repository.start_run(db, cell, 1, snapshot)
    done = finished_run(db, cell, 2, snapshot)
    other = repository.get_or_create_campaign(db, "other", "name: other\n", "c" * 64, "0.1", None)
    elsewhere = repository.start_run(db, add_cell(db, other), 1, snapshot)

    assert repository.mark_stale_runs_interrupted(db, campaign) == 1

    run = stored_run(db, stale)
    assert (run.status, run.error) == ("interrupted", repository.INTERRUPTED)
    assert run.finished_at is not None
    assert stored_run(db, done).status == "ok"
    assert stored_run(db, elsewhere).status == "running"
    with pytest.raises(NetmatrixError, match="is interrupted, no longer running"):
        repository.finish_run(db, stale, RunStatus.FAILED)
    assert repository.mark_stale_runs_interrupted(db, campaign) == 0
