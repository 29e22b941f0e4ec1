"""Looking after the database: its integrity (`db.check`) and the user's own read-only SQL."""

from __future__ import annotations

from sqlalchemy import exists, select, text
from sqlalchemy.exc import DBAPIError

from orchestrator.db import postgres
from orchestrator.db.models import (
    Artifact,
    Run,
    RunStatus,
)
from orchestrator.db.repository.values import (
    QueryResult,
)
from orchestrator.db.session import Database, driver_message
from orchestrator.errors import NetmatrixError


def integrity_check(db: Database) -> list[str]:
    """What is wrong with the database: SQLite's own checks (PostgreSQL: its catalog's, see
    `postgres.catalog_problems`), then ok runs without artifacts."""
    problems = []
    with db.transaction() as session:
        if db.engine.dialect.name == "sqlite":
            problems += [
                f"integrity: {message}"
                for (message,) in session.execute(text("PRAGMA integrity_check"))
                if message != "ok"
            ]
            problems += [
                f"{table} row {rowid} refers to a missing {parent} row"
                for table, rowid, parent, _ in session.execute(text("PRAGMA foreign_key_check"))
            ]
        elif db.engine.dialect.name == "postgresql":
            problems += postgres.catalog_problems(session)
        problems += [
            f"run {run_id} is ok but has no artifacts"
            for run_id in session.scalars(
                select(Run.global_id).where(
                    Run.status == RunStatus.OK, ~exists().where(Artifact.run_id == Run.id)
                )
            )
        ]
    return problems


def execute_read_only(db: Database, statement: str) -> QueryResult:
    """Run the user's own SQL (`results.sql`) as written, on a database opened read-only."""
    if not db.read_only:
        raise ValueError("the user's SQL runs only on a database opened with read_only=True")
    try:
        with db.transaction() as session:
            result = session.connection().exec_driver_sql(
                statement, execution_options=postgres.USER_SQL
            )
            if not result.returns_rows:
                return QueryResult((), ())
            return QueryResult(tuple(result.keys()), tuple(tuple(row) for row in result))
    except DBAPIError as error:
        raise NetmatrixError(f"SQL error: {driver_message(error)}") from None
