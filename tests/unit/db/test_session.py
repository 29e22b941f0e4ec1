"""Opening the database: where it lives, SQLite's settings, read-only access that holds, and
what a PostgreSQL URL becomes before any server is reached."""

import os
import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, text

from orchestrator.db import postgres, repository
from orchestrator.db.models import Campaign
from orchestrator.db.repository import CampaignRef, QueryResult
from orchestrator.db.session import Database, database_url, make_engine, open_database
from orchestrator.errors import NetmatrixError
from tests.unit.db.builders import campaigns_made_at_once


def pragma(db: Database, name: str) -> object:
    with db.transaction() as session:
        return session.execute(text(f"PRAGMA {name}")).scalar()


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(db: Database):
    assert pragma(db, "journal_mode") == "wal"
    assert pragma(db, "foreign_keys") == 1
    assert pragma(db, "busy_timeout") == 30000


def test_the_default_database_is_results_netmatrix_db_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NETMATRIX_DB", raising=False)
    old_umask = os.umask(0o002)
    try:
        with open_database() as db:
            repository.get_or_create_campaign(db, "demo", "", "a" * 64, "0.1.0", None)
            files = sorted(path.name for path in (tmp_path / "results").iterdir())
    finally:
        os.umask(old_umask)

    assert database_url() == f"sqlite:///{tmp_path}/results/netmatrix.db"
    assert files == ["netmatrix.db", "netmatrix.db-shm", "netmatrix.db-wal"]
    assert stat.S_IMODE((tmp_path / "results").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "results" / "netmatrix.db").stat().st_mode) == 0o640


def test_netmatrix_db_names_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NETMATRIX_DB", f"sqlite:///{tmp_path}/elsewhere/lab.db")

    with open_database() as db:
        repository.get_or_create_campaign(db, "demo", "", "a" * 64, "0.1.0", None)

    assert (tmp_path / "elsewhere" / "lab.db").is_file()
    assert not (tmp_path / "results").exists()


def test_a_file_that_is_no_database_is_refused(tmp_path: Path):
    (tmp_path / "notes.db").write_text("not a database, but notes " * 100)

    with pytest.raises(
        NetmatrixError, match=r"cannot open the results database .*notes.db: file is"
    ):
        open_database(f"sqlite:///{tmp_path / 'notes.db'}")


def test_a_database_url_must_be_one(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NETMATRIX_DB", "results/netmatrix.db")

    with pytest.raises(NetmatrixError, match="not a SQLAlchemy URL such as sqlite:///results/"):
        open_database()


def test_an_in_memory_database_is_refused():
    with pytest.raises(NetmatrixError, match="must name a SQLite file"):
        open_database("sqlite://")


def test_netmatrix_started_twice_on_a_new_database_migrates_and_creates_once(url: str):
    """Eight writers at once on a fresh file: one schema, one campaign, no "database is locked"."""
    ids, errors = campaigns_made_at_once(url)

    assert errors == []
    assert len(set(ids)) == 1
    with open_database(url) as db, db.transaction() as session:
        assert len(session.scalars(select(Campaign)).all()) == 1


@pytest.fixture
def read_only(db: Database, url: str, campaign: CampaignRef) -> Database:
    with open_database(url, read_only=True) as database:
        yield database


def test_read_only_reads(read_only: Database):
    assert repository.find_campaign(read_only).name == "demo"
    assert repository.execute_read_only(read_only, "SELECT name, version FROM campaign") == (
        QueryResult(("name", "version"), (("demo", "0.1.0"),))
    )
    assert repository.execute_read_only(read_only, "PRAGMA cache_size = 100") == QueryResult((), ())


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO campaign (name, spec_text, spec_hash, version, created_at) "
        "VALUES ('x', '', 'b', '0', '2026-01-01')",
        "UPDATE campaign SET name = 'renamed'",
        "DELETE FROM campaign",
        "CREATE TABLE notes (text TEXT)",
        "DROP TABLE metric",
        "ATTACH DATABASE 'elsewhere.db' AS elsewhere",
        "PRAGMA query_only = OFF",
    ],
)
def test_read_only_refuses_every_write(
    read_only: Database,
    db: Database,
    statement: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.chdir(tmp_path)  # where ATTACH would create its file

    with pytest.raises(NetmatrixError, match=f"^database is read-only: {re.escape(statement)}$"):
        repository.execute_read_only(read_only, statement)

    assert repository.find_campaign(db).name == "demo"
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "netmatrix.db",
        "netmatrix.db-shm",
        "netmatrix.db-wal",
    ]


def test_read_only_refuses_writes_through_the_orm_too(read_only: Database):
    with pytest.raises(NetmatrixError, match="database is read-only: INSERT INTO host_snapshot"):
        repository.record_host_snapshot(read_only, "lab1", {"kernel_release": "6.1.0"})


def test_user_sql_errors_are_one_line(read_only: Database):
    with pytest.raises(NetmatrixError, match="SQL error: no such table: runs"):
        repository.execute_read_only(read_only, "SELECT * FROM runs")


def test_user_sql_needs_a_read_only_database(db: Database):
    with pytest.raises(ValueError, match="read_only=True"):
        repository.execute_read_only(db, "DELETE FROM run")


def test_read_only_needs_an_existing_database(tmp_path: Path):
    with pytest.raises(
        NetmatrixError, match=r"no results database at .*missing.db: run `invoke matrix` first"
    ):
        open_database(f"sqlite:///{tmp_path / 'missing.db'}", read_only=True)
    assert not (tmp_path / "missing.db").exists()


def test_read_only_refuses_a_file_that_is_no_netmatrix_database(tmp_path: Path):
    (tmp_path / "other.db").touch()

    with pytest.raises(
        NetmatrixError,
        match=rf"^{tmp_path / 'other.db'} is not a netmatrix results database \(no schema",
    ):
        open_database(f"sqlite:///{tmp_path / 'other.db'}", read_only=True)


def test_read_only_needs_sqlite_or_postgresql():
    with pytest.raises(NetmatrixError, match="read-only access needs SQLite or PostgreSQL"):
        open_database("mysql://reader:secret@db.example/netmatrix", read_only=True)


# PostgreSQL itself is tested in tests/integration/test_postgres*.py; these need no server
# (an engine connects on first use).


def test_postgresql_urls_go_through_psycopg_3_with_the_password_hidden():
    engine = make_engine("postgresql://lab:s3cret-marker@db.example:5433/netmatrix")

    assert engine.url.drivername == "postgresql+psycopg"
    assert "s3cret-marker" not in f"{engine} {engine.url} {engine.url!r}"
    assert engine.url.render_as_string(hide_password=True) == (
        "postgresql+psycopg://lab:***@db.example:5433/netmatrix"
    )


def test_another_postgresql_driver_is_refused_with_the_ones_to_use():
    with pytest.raises(NetmatrixError, match=r"psycopg 3: use postgresql:// or postgresql\+psyc"):
        make_engine("postgresql+psycopg2://lab@db.example/netmatrix")


@pytest.mark.parametrize(("value", "seconds"), [("", 120.0), ("2.5", 2.5), ("0", 0.0)])
def test_the_statement_timeout_comes_from_netmatrix_db_timeout(
    value: str, seconds: float, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NETMATRIX_DB_TIMEOUT", value)
    assert postgres.timeout_s() == seconds


@pytest.mark.parametrize("value", ["soon", "-1", "1e9", "nan"])
def test_a_bad_statement_timeout_is_one_line(value: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NETMATRIX_DB_TIMEOUT", value)
    with pytest.raises(NetmatrixError, match=f"^NETMATRIX_DB_TIMEOUT={value}: give seconds"):
        make_engine("postgresql://lab@db.example/netmatrix")


def test_campaign_lock_keys_differ_by_campaign_spec_and_host_and_stay_the_same():
    keys = {
        postgres.lock_key(name, spec, host)
        for name in ("demo", "other")
        for spec in ("a" * 64, "b" * 64)
        for host in ("lab1", "lab2")
    }
    assert len(keys) == 8
    assert all(-(2**31) <= key < 2**31 for key in keys)
    assert postgres.lock_key("demo", "a" * 64, "lab1") == postgres.lock_key(
        "demo", "a" * 64, "lab1"
    )
