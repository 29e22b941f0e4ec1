"""The results database on a real PostgreSQL server (tests/integration/postgres.py): schema,
read-only access, timeouts, credentials, db.check, and writers in several processes at once.

The lab's own tests (`test_postgres_matrix.py`) run `invoke matrix` into such a server; these
need no lab. What the database holds is read through psycopg directly where it matters, not
through the code that wrote it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, make_url

from orchestrator.db import migrate, repository
from orchestrator.db.models import Base
from orchestrator.db.session import open_database
from orchestrator.errors import NetmatrixError
from orchestrator.experiment.lock import campaign_guard
from tests.integration.lab_fixture import REPO_ROOT, run_invoke
from tests.integration.postgres import (
    MARKER_TEXT,
    Cluster,
    postgres_cluster_fixture,  # noqa: F401  (fixture)
    postgres_url_fixture,  # noqa: F401  (fixture)
)
from tests.unit.db.builders import FACTS, add_cell, campaigns_made_at_once, finished_run

TABLES = {*Base.metadata.tables, "alembic_version"}
REVISIONS = [
    script.revision for script in ScriptDirectory(str(migrate.MIGRATIONS)).walk_revisions()
]


def driver_url(url: str) -> str:
    """The libpq form of a SQLAlchemy URL, for psycopg itself."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def schema_differences(url: str) -> list:
    with open_database(url, read_only=True) as db, db.engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def netmatrix(url: str, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """`invoke <args>` as a user runs it, on the database `url`."""
    return run_invoke({**os.environ, "NETMATRIX_DB": url, **environ}, *args, timeout=300)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The refusal of a task: exit 2, one line on stderr, no password. The line."""
    assert done.returncode == 2, done.stdout + done.stderr
    assert MARKER_TEXT not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


# -- schema ---------------------------------------------------------------------------------


def test_opening_an_empty_database_creates_the_schema_at_head(postgres_url: str):
    with open_database(postgres_url) as db:
        assert set(inspect(db.engine).get_table_names()) == TABLES
        assert migrate.current_revision(db.engine) == migrate.head_revision()
    assert schema_differences(postgres_url) == []


@pytest.mark.parametrize("revision", REVISIONS)
def test_db_upgrade_migrates_from_every_earlier_revision(
    postgres_url: str, revision: str, monkeypatch: pytest.MonkeyPatch
):
    with monkeypatch.context() as patched:
        patched.setenv("NETMATRIX_DB", postgres_url)  # migrations/env.py reads it
        command.upgrade(Config(str(REPO_ROOT / "alembic.ini")), revision)
    with psycopg.connect(driver_url(postgres_url)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(revision,)]

    done = netmatrix(postgres_url, "db.upgrade")

    assert done.returncode == 0, done.stderr
    assert f"schema at revision {migrate.head_revision()}" in done.stdout
    assert MARKER_TEXT not in done.stdout + done.stderr
    assert "***" in done.stdout
    assert schema_differences(postgres_url) == []


def test_downgrade_to_base_and_up_again_and_alembic_check(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NETMATRIX_DB", postgres_url)
    config = Config(str(REPO_ROOT / "alembic.ini"))
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    with open_database(postgres_url) as db:  # migrates again
        assert set(inspect(db.engine).get_table_names()) == TABLES
    command.check(config)  # raises when the models hold changes no revision has


def test_netmatrix_started_eight_times_on_an_empty_database_migrates_and_creates_once(
    postgres_url: str,
):
    ids, errors = campaigns_made_at_once(postgres_url)

    assert errors == []
    assert len(set(ids)) == 1
    with psycopg.connect(driver_url(postgres_url)) as conn:
        assert conn.execute("SELECT count(*) FROM campaign").fetchone() == (1,)


# -- read-only, statement timeout -----------------------------------------------------------


@pytest.fixture
def demo_url(postgres_url: str) -> str:
    """A database with a campaign and one ok run."""
    with open_database(postgres_url) as db:
        campaign = repository.get_or_create_campaign(
            db, "demo", "name: demo\n", "a" * 64, "0", None
        )
        snapshot = repository.record_host_snapshot(db, "lab1", FACTS)
        finished_run(
            db, add_cell(db, campaign), 0, snapshot, metrics={"mbps/plain": (1.5, "Mbit/s")}
        )
    return postgres_url


WRITES = [
    "INSERT INTO campaign (name, spec_text, spec_hash, version, created_at) "
    "VALUES ('x', '', 'b', '0', now())",
    "UPDATE campaign SET name = 'renamed'",
    "DELETE FROM metric",
    "CREATE TABLE notes (text TEXT)",
    "CREATE TEMP TABLE notes (text TEXT)",
    "DROP TABLE metric",
    "TRUNCATE run CASCADE",
    "SELECT nextval('campaign_id_seq')",
    "DO $$ BEGIN DELETE FROM metric; END $$",
    "WITH gone AS (DELETE FROM metric RETURNING 1) SELECT count(*) FROM gone",
    # Lifting read-only needs a statement before the write: only one is taken.
    "SET TRANSACTION READ WRITE; DELETE FROM metric",
    "COMMIT; SET default_transaction_read_only = off; DELETE FROM metric",
    "SELECT set_config('transaction_read_only', 'off', false)",
]


@pytest.mark.parametrize("statement", WRITES)
def test_results_sql_refuses_every_write(demo_url: str, statement: str):
    with (
        open_database(demo_url, read_only=True) as db,
        pytest.raises(NetmatrixError, match=r"^(database is read-only|SQL error): "),
    ):
        repository.execute_read_only(db, statement)

    with psycopg.connect(driver_url(demo_url)) as conn:
        assert conn.execute("SELECT name FROM campaign").fetchall() == [("demo",)]
        assert conn.execute("SELECT count(*) FROM metric").fetchone() == (1,)
        assert conn.execute("SELECT to_regclass('notes')").fetchone() == (None,)


def test_results_sql_reads_and_refuses_writes_through_the_cli(demo_url: str):
    read = netmatrix(
        demo_url, "results.sql", "SELECT name, spec_hash LIKE 'a%' AS a FROM campaign", "-f", "json"
    )
    assert read.returncode == 0, read.stderr
    assert '"name": "demo"' in read.stdout and '"a": true' in read.stdout

    refused = netmatrix(demo_url, "results.sql", "DELETE FROM metric")
    assert one_line_error(refused) == "error: database is read-only: DELETE FROM metric"
    with psycopg.connect(driver_url(demo_url)) as conn:
        assert conn.execute("SELECT count(*) FROM metric").fetchone() == (1,)


def test_a_runaway_query_is_cancelled_by_the_statement_timeout(demo_url: str):
    started = time.monotonic()
    done = netmatrix(demo_url, "results.sql", "SELECT pg_sleep(60)", NETMATRIX_DB_TIMEOUT="1")

    assert one_line_error(done) == "error: SQL error: canceling statement due to statement timeout"
    assert time.monotonic() - started < 45  # the interpreter's start, then one second


# -- credentials ----------------------------------------------------------------------------


def test_connection_failures_are_one_line_with_the_password_masked(
    postgres_cluster: Cluster, demo_url: str
):
    down = postgres_cluster.url().replace(f":{postgres_cluster.port}/", ":1/")
    cases = {
        "server down": (down, "Connection refused"),
        "wrong password": (postgres_cluster.url(password="wrong"), "password authentication"),
        "unknown database": (postgres_cluster.url("no_such_db"), 'database "no_such_db" does'),
    }
    for what, (url, reason) in cases.items():
        for task in ("results.runs", "db.upgrade", "db.check"):
            line = one_line_error(netmatrix(url, task))
            assert line.startswith("error: cannot open the results database postgresql"), what
            assert ":***@127.0.0.1:" in line and reason in line, (what, line)


def test_a_password_from_pgpassfile_works_and_its_absence_is_one_line(
    postgres_cluster: Cluster, demo_url: str, tmp_path: Path
):
    """The password file is the one file that holds the password on purpose: it is removed
    before the test ends, so the session's search for the password finds it nowhere."""
    database = make_url(demo_url).database
    no_password = postgres_cluster.url(database, password=None)
    assert MARKER_TEXT not in no_password
    passfile = tmp_path / "pgpass"
    passfile.write_text(
        f"127.0.0.1:{postgres_cluster.port}:{database}:netmatrix:{postgres_cluster.password}\n"
    )
    passfile.chmod(0o600)
    try:
        done = netmatrix(no_password, "results.runs", "-f", "csv", PGPASSFILE=str(passfile))
    finally:
        passfile.unlink()
    assert done.returncode == 0, done.stderr
    assert ",demo," in done.stdout and MARKER_TEXT not in done.stdout + done.stderr

    missing = netmatrix(no_password, "results.runs", PGPASSFILE=str(tmp_path / "none"))
    assert "no password supplied" in one_line_error(missing)


# -- db.check ---------------------------------------------------------------------------------


def test_db_check_passes_a_sound_database_and_names_what_breaks_one(
    postgres_cluster: Cluster, demo_url: str
):
    sound = netmatrix(demo_url, "db.check")
    assert sound.returncode == 0, sound.stderr
    assert sound.stdout.strip() == "results database ok"

    database = make_url(demo_url).database
    with postgres_cluster.admin(database) as conn:
        # What a careless restore or hand repair leaves: enforcement off, an orphan row,
        # a constraint taken on trust, an index gone, a run ok without its files.
        conn.execute("ALTER TABLE metric DISABLE TRIGGER ALL")
        conn.execute("INSERT INTO metric VALUES (424242, 'mbps/plain', 1.0, 'Mbit/s')")
        conn.execute("ALTER TABLE cell DROP CONSTRAINT fk_cell_campaign_id_campaign")
        conn.execute(
            "ALTER TABLE cell ADD CONSTRAINT fk_cell_campaign_id_campaign FOREIGN KEY "
            "(campaign_id) REFERENCES campaign (id) NOT VALID"
        )
        conn.execute("DROP INDEX ix_run_status")
        conn.execute("DELETE FROM artifact")
    broken = netmatrix(demo_url, "db.check")

    assert broken.returncode == 2
    problems = broken.stdout
    assert problems.count("table metric: trigger RI_ConstraintTrigger_c_") == 2  # insert, update
    assert "1 metric row(s) refer to a missing run row (run_id)" in problems
    assert "constraint fk_cell_campaign_id_campaign of table cell is not validated" in problems
    assert "schema differs from the models" in problems and "ix_run_status" in problems
    assert "is ok but has no artifacts" in problems
    assert broken.stderr.strip() == "error: the results database has 6 problem(s), listed above"


# -- several writers --------------------------------------------------------------------------

# One matrix as the repository sees it: take the campaign's lock for a host, mark that host's
# stale runs, then write runs one transaction each, as `invoke matrix` does.
WRITER = textwrap.dedent(
    """\
    import sys, time
    from orchestrator.db import repository
    from orchestrator.db.models import RunStatus
    from orchestrator.db.session import open_database
    from orchestrator.experiment.lock import campaign_guard
    from tests.unit.db.builders import FACTS, add_cell, finished_run

    url, host, start_at, hold = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    with open_database(url) as db:
        time.sleep(max(0.0, start_at - time.time()))
        with campaign_guard(db, None, "shared", "c" * 64, [host]):
            campaign = repository.get_or_create_campaign(db, "shared", "", "c" * 64, "0", None)
            repository.mark_stale_runs_interrupted(db, campaign, [host])
            print("holding", flush=True)
            snapshot = repository.record_host_snapshot(db, host, FACTS)
            done = repository.completed_runs(db, campaign)
            for repetition in range(5):
                for mode in ("loopback", "bridge", "macvlan"):
                    for size in (64, 1400):
                        cell = add_cell(db, campaign, mode, size, host)
                        if (cell.key, repetition) not in done:
                            finished_run(db, cell, repetition, snapshot)
            if hold == "hold":
                time.sleep(600)
    """
)


def writer(url: str, host: str, start_at: float, hold: str = "") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, url, host, str(start_at), hold],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_writers_in_two_processes_lose_and_duplicate_nothing_and_resume(postgres_url: str):
    open_database(postgres_url).close()  # both find the schema; the campaign they race for
    start_at = time.time() + 3
    processes = [writer(postgres_url, host, start_at) for host in ("lab1", "lab2")]
    for process in processes:
        _, err = process.communicate(timeout=300)  # a deadlock would end in an error here
        assert process.returncode == 0, err

    with psycopg.connect(driver_url(postgres_url)) as conn:
        assert conn.execute("SELECT count(*) FROM campaign").fetchone() == (1,)
        rows = conn.execute(
            "SELECT cell.key, run.repetition, run.status, count(*) FROM run "
            "JOIN cell ON cell.id = run.cell_id WHERE NOT run.superseded "
            "GROUP BY cell.key, run.repetition, run.status"
        ).fetchall()
        assert len(rows) == 2 * 6 * 5
        assert {(status, count) for *_, status, count in rows} == {("ok", 1)}
        assert conn.execute("SELECT count(*) FROM run").fetchone() == (60,)
        assert conn.execute("SELECT count(DISTINCT run_id) FROM artifact").fetchone() == (60,)

    again = writer(postgres_url, "lab1", 0)
    again.communicate(timeout=120)
    with psycopg.connect(driver_url(postgres_url)) as conn:
        assert conn.execute("SELECT count(*) FROM run").fetchone() == (60,)  # resumed: nothing


def test_a_second_matrix_on_a_campaigns_host_is_refused_naming_the_holder(postgres_url: str):
    open_database(postgres_url).close()
    holder = writer(postgres_url, "lab1", 0, "hold")
    try:
        assert holder.stdout.readline() == "holding\n"
        with open_database(postgres_url) as db:
            with (
                pytest.raises(NetmatrixError) as refused,
                campaign_guard(db, Path("unused"), "shared", "c" * 64, ["lab2", "lab1"]),
            ):
                pass
            message = str(refused.value)
            assert message.startswith(
                f"another matrix (netmatrix matrix pid {holder.pid} on {os.uname().nodename}"
            )
            assert "is running campaign shared on lab1 in postgresql+psycopg://netmatrix:***@" in (
                message
            )
            with campaign_guard(db, Path("unused"), "shared", "c" * 64, ["lab2"]):
                pass  # the other host of the campaign is free
            with campaign_guard(db, Path("unused"), "other", "c" * 64, ["lab1"]):
                pass  # and so is the same host in another campaign
            with campaign_guard(db, Path("unused"), "shared", "c" * 64, ["lab2"]):
                pass  # a refused matrix kept none of the locks it had taken

            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=30)
            for _ in range(100):  # the server notices the closed connection at once
                try:
                    with campaign_guard(db, Path("unused"), "shared", "c" * 64, ["lab1"]):
                        break
                except NetmatrixError:
                    time.sleep(0.1)
            else:
                raise AssertionError("the lock outlived its holder")
    finally:
        holder.kill()
        holder.wait()
