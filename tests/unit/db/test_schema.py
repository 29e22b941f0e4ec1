"""The schema the migration builds: the models' own, with its constraints enforced."""

from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, Executable, create_engine, select, update
from sqlalchemy.exc import IntegrityError, StatementError

from orchestrator.db import repository
from orchestrator.db.models import UTC, Base, Campaign, Run
from orchestrator.db.repository import CampaignRef, SnapshotRef
from orchestrator.db.session import Database
from tests.unit.db.builders import add_cell


def write(db: Database, statement: Executable) -> None:
    with db.transaction() as session:
        session.execute(statement)


def test_the_migrated_database_is_what_the_models_declare(db: Database):
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_the_migrated_database_has_the_models_constraints_too(db: Database):
    """compare_metadata passes over CHECK constraints and DEFERRABLE: compare SQLite's DDL."""
    models = create_engine("sqlite://")
    Base.metadata.create_all(models)

    assert schema(db.engine) == schema(models)
    assert "CONSTRAINT ck_run_status CHECK (status IN ('pending', 'running'," in str(schema(models))


def schema(engine: Engine) -> dict[str, list[str]]:
    """Each table's and index's DDL as sorted items: constraint order does not matter, nor
    that SQLite writes a column `ALTER TABLE … ADD COLUMN` added on its predecessor's line."""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE sql NOTNULL AND name != 'alembic_version'"
        )
        return {name: sorted(definitions(sql)) for name, sql in rows}


def definitions(sql: str) -> list[str]:
    """The lines of a DDL statement, a table's also split at the commas between its columns."""
    if sql.startswith("CREATE TABLE"):
        depth, pieces = 0, [""]
        for char in sql:
            depth += {"(": 1, ")": -1}.get(char, 0)
            pieces[-1] += char
            if char == "\n" or (char == "," and depth == 1):
                pieces.append("")
    else:
        pieces = sql.splitlines()
    return [piece.strip(" \t\n,") for piece in pieces if piece.strip(" \t\n,")]


def test_run_status_is_checked(db: Database, campaign: CampaignRef, snapshot: SnapshotRef):
    repository.start_run(db, add_cell(db, campaign), 1, snapshot)

    with pytest.raises(IntegrityError, match="CHECK constraint failed: ck_run_status"):
        write(db, update(Run).values(status="done"))


def test_superseded_by_must_name_a_run(db: Database, campaign: CampaignRef, snapshot: SnapshotRef):
    repository.start_run(db, add_cell(db, campaign), 1, snapshot)

    with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
        write(db, update(Run).values(superseded=True, superseded_by="no-such-run"))


def test_times_are_stored_as_utc(db: Database, campaign: CampaignRef):
    paris = datetime(2026, 11, 22, 17, 0, tzinfo=timezone(timedelta(hours=1)))
    write(db, update(Campaign).values(created_at=paris))

    with db.transaction() as session:
        stored = session.scalars(select(Campaign.created_at)).one()
    assert stored == paris
    assert stored.tzinfo is UTC and stored.hour == 16


def test_naive_times_are_refused(db: Database, campaign: CampaignRef):
    with pytest.raises(StatementError, match="naive datetime"):
        write(db, update(Campaign).values(created_at=datetime(2026, 11, 22)))
