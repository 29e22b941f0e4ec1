"""The ftrace_function table: revision 0002 on a database the previous schema made, and the
figures of a run's ftrace pass stored and read back as the reduction gave them."""

import lzma
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from orchestrator.analysis.ftrace_reduce import GraphedFunction, reduce_function_graph
from orchestrator.db import migrate, repository
from orchestrator.db.models import RunStatus
from orchestrator.db.repository import CampaignRef, SnapshotRef
from orchestrator.db.session import Database, open_database
from tests.unit.db.builders import ARTIFACT, FACTS, add_cell, finished_run

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "tests" / "fixtures" / "databases" / "demo.db.xz"
BRIDGE_LOG = ROOT / "tests" / "fixtures" / "ftrace" / "ftrace_bridge.log"
NO_TRACER = "the kernel has no function_graph tracer (available_tracers: blk function nop)"


def reduced(*functions: str) -> list[GraphedFunction]:
    """The real reducer's figures for `functions` in the write-up's bridge log."""
    reduction = reduce_function_graph(BRIDGE_LOG, functions, "overrun: 3\ndropped events: 1\n")
    return [GraphedFunction.from_dict(item) for item in reduction["functions"]]


def counts(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


def test_revision_0002_upgrades_a_database_of_the_previous_schema(tmp_path: Path) -> None:
    """The demo database was written at revision 0001 by a real matrix (runs, metrics…)."""
    path = tmp_path / "demo.db"
    path.write_bytes(lzma.decompress(DEMO.read_bytes()))
    old = create_engine(f"sqlite:///{path}")
    assert migrate.current_revision(old) == "0001"
    assert "ftrace_function" not in inspect(old).get_table_names()
    runs, metrics = (
        counts(old, "SELECT count(*) FROM run"),
        counts(old, "SELECT count(*) FROM metric"),
    )
    old.dispose()

    with open_database(f"sqlite:///{path}") as db:  # migrates
        assert migrate.current_revision(db.engine) == migrate.head_revision()
        assert "ftrace_function" in inspect(db.engine).get_table_names()
        assert counts(db.engine, "SELECT count(*) FROM run") == runs == 40
        assert counts(db.engine, "SELECT count(*) FROM metric") == metrics
        campaign = repository.find_campaign(db, "demo")
        snapshot = repository.record_host_snapshot(db, "lab1", FACTS)
        cell = add_cell(db, campaign, host="lab9")  # a cell the demo did not measure
        run_id = finished_run(db, cell, 1, snapshot, ftrace=reduced("br_dev_queue_push_xmit"))
        stored = repository.campaign_ftrace(db, campaign)
        assert stored[run_id]["br_dev_queue_push_xmit"].calls == 8

        with db.engine.begin() as connection:
            command.downgrade(migrate.alembic_config(connection), "0001")
        assert "ftrace_function" not in inspect(db.engine).get_table_names()
        assert counts(db.engine, "SELECT count(*) FROM run") == runs + 1  # with the new one


def test_figures_come_back_as_they_were_stored(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
) -> None:
    figures = reduced("br_dev_queue_push_xmit", "br_forward")
    run_id = finished_run(db, add_cell(db, campaign), 1, snapshot, ftrace=figures)

    stored = repository.campaign_ftrace(db, campaign)
    assert list(stored) == [run_id]
    assert dict(stored[run_id]) == {item.function: item for item in figures}
    only = repository.campaign_ftrace(db, campaign, "br_forward")
    assert list(only[run_id]) == ["br_forward"]
    assert (figures[0].overrun, figures[0].lost) == (3, 1)


def test_an_unsupported_pass_keeps_the_kernels_words(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
) -> None:
    unsupported = [GraphedFunction("br_dev_queue_push_xmit", "unsupported", NO_TRACER)]
    run_id = finished_run(db, add_cell(db, campaign), 1, snapshot, ftrace=unsupported)
    [item] = repository.campaign_ftrace(db, campaign)[run_id].values()
    assert (item.status, item.error, item.calls, item.mean_us) == (
        "unsupported",
        NO_TRACER,
        0,
        None,
    )


def test_superseded_runs_are_not_read_back(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
) -> None:
    cell = add_cell(db, campaign)
    finished_run(db, cell, 1, snapshot, ftrace=reduced("br_forward"))
    # the same repetition again
    second = finished_run(db, cell, 1, snapshot, ftrace=reduced("br_forward"))

    assert list(repository.campaign_ftrace(db, campaign)) == [second]


def test_the_status_is_checked(db: Database, campaign: CampaignRef, snapshot: SnapshotRef) -> None:
    cell = add_cell(db, campaign)
    run_id = repository.start_run(db, cell, 1, snapshot)
    with pytest.raises(IntegrityError, match="ck_ftrace_function_status"):
        repository.finish_run(
            db, run_id, RunStatus.OK, artifacts=[ARTIFACT], ftrace=[GraphedFunction("f", "maybe")]
        )
    # Nothing of the run was stored: it is still running, to be redone.
    [run] = [run for run in repository.current_run_values(db, campaign) if run.run_id == run_id]
    assert run.status == RunStatus.RUNNING
