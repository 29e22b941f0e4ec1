"""PostgreSQL, for a results database that several labs share.

What SQLite does with PRAGMAs and files, a shared server does with its own mechanisms:

- Read-only (`results.*`): every transaction is `BEGIN READ ONLY` and the session's
  `default_transaction_read_only` is on; the user's SQL goes through the extended protocol,
  one statement per call (as sqlite3 does), so `SET TRANSACTION READ WRITE; DELETE …` cannot
  lift read-only for the statement after it. A role with SELECT only is stronger still.
- A statement timeout (`NETMATRIX_DB_TIMEOUT` seconds, default 120, 0 for none) on every
  connection: a runaway query is cancelled by the server instead of holding it.
- One matrix per campaign and host (`campaign_lock`): a session-level advisory lock, held on
  a connection of its own for as long as the matrix runs. The server releases it when that
  connection ends, however the controller ends. Matrices of other campaigns, or of the same
  campaign on other hosts, run beside it into the same database.
- `db.check` (`catalog_problems`): constraints validated, their triggers enabled, indexes
  valid, no orphan rows, and the schema equal to the models.

The driver is psycopg 3: it speaks libpq, so `PGPASSFILE` and `~/.pgpass` work, and its binary
wheel needs no compiler or libpq on the controller.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import URL, Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session

from orchestrator.db.models import Base
from orchestrator.errors import NetmatrixError

DRIVER = "postgresql+psycopg"
TIMEOUT_VAR = "NETMATRIX_DB_TIMEOUT"
DEFAULT_TIMEOUT_S = 120.0
USER_SQL = MappingProxyType({"netmatrix_user_sql": True})
"""Execution options of the user's own statement (`results.sql`): one statement, as written."""
READ_ONLY_SQLSTATE = "25006"
LOCK_NAMESPACE = 0x6E6D  # "nm": first half of a lock key; the second is the campaign's


def make_engine(url: URL, *, read_only: bool) -> Engine:
    """An engine on psycopg 3 with the statement timeout, read-only when asked."""
    if url.drivername == "postgresql":
        url = url.set(drivername=DRIVER)
    if url.drivername != DRIVER:
        raise NetmatrixError(
            f"netmatrix talks to PostgreSQL through psycopg 3: use postgresql:// or "
            f"{DRIVER}://, not {url.drivername}://"
        )
    settings = [f"-c statement_timeout={int(timeout_s() * 1000)}"]
    if read_only:
        settings.append("-c default_transaction_read_only=on")
    engine = create_engine(
        url,
        pool_pre_ping=True,  # a long matrix outlives a server restart
        connect_args={"options": " ".join(settings), "application_name": "netmatrix"},
    )
    if read_only:
        _configure_read_only(engine)
    return engine


def timeout_s() -> float:
    """The statement timeout `NETMATRIX_DB_TIMEOUT` asks for, in seconds."""
    value = os.environ.get(TIMEOUT_VAR, "")
    if not value:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86400:
        raise NetmatrixError(f"{TIMEOUT_VAR}={value}: give seconds from 0 (no limit) to 86400")
    return seconds


def _configure_read_only(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def read_only(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.read_only = True  # psycopg then begins each one READ ONLY

    @event.listens_for(engine, "do_execute")
    def one_statement(cursor: Any, statement: str, _parameters: Any, context: Any) -> bool | None:
        if not context.execution_options.get("netmatrix_user_sql"):
            return None
        # Prepared, so: one statement only, and no `%` placeholders read into the user's SQL.
        cursor.execute(statement, prepare=True)
        return True


def refused_write(error: Exception) -> bool:
    """Whether a driver error is the server refusing a write in a read-only transaction."""
    return getattr(error, "sqlstate", None) == READ_ONLY_SQLSTATE


# -- one matrix per campaign and host --------------------------------------------------------


@contextmanager
def campaign_lock(
    engine: Engine, campaign: str, spec_hash: str, hosts: Sequence[str]
) -> Iterator[None]:
    """Hold the advisory lock of each (campaign, host), or refuse naming who holds one."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(
            text("SELECT set_config('application_name', :name, false)"), {"name": holder_name()}
        )
        try:
            for host in hosts:
                key = lock_key(campaign, spec_hash, host)
                taken = connection.execute(
                    text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": LOCK_NAMESPACE, "b": key}
                ).scalar()
                if not taken:
                    where = engine.url.render_as_string(hide_password=True)
                    raise NetmatrixError(
                        f"another matrix ({_holder(connection, key)}) is running campaign "
                        f"{campaign} on {host} in {where}: wait for it to end or stop it, "
                        "then run this again"
                    )
            yield
        finally:
            # The connection goes back to the pool: its locks must not go with it.
            connection.execute(text("SELECT pg_advisory_unlock_all()"))


def holder_name() -> str:
    """How a matrix names itself to the server (and to a matrix it refuses)."""
    return f"netmatrix matrix pid {os.getpid()} on {socket.gethostname()}"[:63]


def lock_key(campaign: str, spec_hash: str, host: str) -> int:
    """A signed 32-bit key for the campaign (name and spec) and host."""
    digest = hashlib.sha256(f"{campaign}\0{spec_hash}\0{host}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


def _holder(connection: Connection, key: int) -> str:
    row = connection.execute(
        text(
            "SELECT a.application_name, a.client_addr, a.backend_start, l.pid "
            "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid::int8 = :a AND l.objid::int8 = :b"
        ),
        {"a": LOCK_NAMESPACE, "b": key & 0xFFFFFFFF},
    ).first()
    if row is None:
        return "it has just ended"
    name, address, since, pid = row
    parts = [name or f"server pid {pid}"]
    if address is not None:
        parts.append(f"from {address}")
    if since is not None:
        parts.append(f"connected since {since:%Y-%m-%d %H:%M:%S %Z}")
    return ", ".join(parts)


# -- db.check ----------------------------------------------------------------------------------


def catalog_problems(session: Session) -> list[str]:
    """What the server's catalog says is unsound about the netmatrix tables.

    PostgreSQL enforces foreign keys, unless a constraint was added NOT VALID, its triggers
    were disabled (`ALTER TABLE … DISABLE TRIGGER ALL`, a restore with
    `--disable-triggers`) or rows came in under `session_replication_role = replica`: so the
    orphan rows themselves are looked for too.
    """
    tables = list(Base.metadata.tables)
    problems = [
        f"constraint {name} of table {table} is not validated"
        for table, name in session.execute(
            text(
                "SELECT conrelid::regclass::text, conname FROM pg_constraint "
                "WHERE NOT convalidated AND conrelid::regclass::text = ANY(:tables)"
            ),
            {"tables": tables},
        )
    ]
    problems += [
        f"table {table}: trigger {name} is disabled, its foreign keys are not enforced"
        for table, name in session.execute(
            text(
                "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
                "WHERE tgenabled = 'D' AND tgrelid::regclass::text = ANY(:tables)"
            ),
            {"tables": tables},
        )
    ]
    problems += [
        f"index {name} is not valid (an interrupted build?): rebuild it with REINDEX"
        for (name,) in session.execute(
            text(
                "SELECT indexrelid::regclass::text FROM pg_index "
                "WHERE NOT (indisvalid AND indisready) AND indrelid::regclass::text = ANY(:tables)"
            ),
            {"tables": tables},
        )
    ]
    problems += _orphans(session)
    problems += [
        f"schema differs from the models: {difference}"
        for difference in compare_metadata(
            MigrationContext.configure(session.connection()), Base.metadata
        )
    ]
    return problems


def _orphans(session: Session) -> list[str]:
    """Rows whose foreign key names a row that is not there, for every key of the models."""
    problems = []
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_key_constraints:
            ((column, parent),) = [(e.parent, e.column) for e in key.elements]
            count = session.scalar(
                text(
                    f"SELECT count(*) FROM {table.name} c WHERE c.{column.name} IS NOT NULL "
                    f"AND NOT EXISTS (SELECT 1 FROM {parent.table.name} p "
                    f"WHERE p.{parent.name} = c.{column.name})"
                )
            )
            if count:
                problems.append(
                    f"{count} {table.name} row(s) refer to a missing {parent.table.name} row "
                    f"({column.name})"
                )
    return problems
