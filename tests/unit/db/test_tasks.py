"""`db.upgrade` and `db.check`: one line of output each, exit code 2 on a damaged database."""

from pathlib import Path

import pytest
from invoke import Context, Exit
from sqlalchemy import update

from orchestrator.db.models import Run, RunStatus
from orchestrator.db.repository import CampaignRef, SnapshotRef
from orchestrator.db.session import Database
from orchestrator.tasks import db as db_tasks
from tests.unit.db.builders import add_cell, finished_run


def test_upgrade_creates_the_database_netmatrix_db_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("NETMATRIX_DB", f"sqlite:///{tmp_path / 'lab.db'}")

    db_tasks.upgrade(Context())

    assert capsys.readouterr().out == f"sqlite:///{tmp_path}/lab.db: schema at revision 0003\n"
    assert (tmp_path / "lab.db").is_file()


def test_check_passes_a_sound_database(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("NETMATRIX_DB", url)

    db_tasks.check(Context())

    assert capsys.readouterr().out == "results database ok\n"


def test_check_lists_the_problems_and_exits_2(
    db: Database,
    url: str,
    campaign: CampaignRef,
    snapshot: SnapshotRef,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    run_id = finished_run(db, add_cell(db, campaign), 1, snapshot, RunStatus.FAILED, error="x")
    with db.transaction() as session:
        session.execute(update(Run).values(status="ok"))
    monkeypatch.setenv("NETMATRIX_DB", url)

    with pytest.raises(Exit) as exit_info:
        db_tasks.check(Context())

    assert exit_info.value.code == 2
    assert exit_info.value.message == "error: the results database has 1 problem(s), listed above"
    assert capsys.readouterr().out == f"run {run_id} is ok but has no artifacts\n"


def test_check_refuses_a_missing_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NETMATRIX_DB", f"sqlite:///{tmp_path / 'none.db'}")

    with pytest.raises(Exit, match="no results database at"):
        db_tasks.check(Context())
    assert not (tmp_path / "none.db").exists()
