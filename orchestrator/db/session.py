"""Where the results database lives and how it is opened.

SQLite at `results/netmatrix.db` by default, in WAL mode so that reports read while a matrix
writes; a shared PostgreSQL server through `NETMATRIX_DB` (`postgresql://user@host/db`, see
`orchestrator.db.postgres`). On SQLite a writing transaction takes the write lock when it
begins (`BEGIN IMMEDIATE`): one that read first and wrote later would fail at once with
"database is locked" instead of waiting its turn behind another netmatrix.

A password in the URL is never shown: every message names the database with it masked.
"""

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.db import migrate, postgres
from orchestrator.errors import NetmatrixError

ENV_VAR = "NETMATRIX_DB"
DEFAULT_PATH = Path("results") / "netmatrix.db"
BUSY_TIMEOUT_S = 30.0
REFUSED_WRITES = frozenset({sqlite3.SQLITE_READONLY, sqlite3.SQLITE_AUTH})


def database_url() -> str:
    """`NETMATRIX_DB` when set, else `results/netmatrix.db` under the current directory."""
    return os.environ.get(ENV_VAR) or f"sqlite:///{Path.cwd() / DEFAULT_PATH}"


@dataclass(frozen=True)
class Database:
    """An open results database: the engine and the sessions bound to it."""

    engine: Engine
    sessions: sessionmaker[Session]
    read_only: bool

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back when it raises.

        On a read-only database a write ends in a NetmatrixError naming the statement.
        """
        try:
            with self.sessions.begin() as session:
                yield session
        except DBAPIError as error:
            if self.read_only and _refused_write(error.orig):
                statement = " ".join(str(error.statement).split())
                raise NetmatrixError(f"database is read-only: {statement}") from None
            raise

    def close(self) -> None:
        """Close every pooled connection (SQLite then folds its WAL back into the file)."""
        self.engine.dispose()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_database(url: str | None = None, *, read_only: bool = False) -> Database:
    """Open the database at `url` (default: `database_url()`), migrated to the newest schema.

    Args:
        url: a SQLite or PostgreSQL SQLAlchemy URL (others are opened as they come).
        read_only: every write is refused (SQLite: `mode=ro`, `query_only`; PostgreSQL:
            read-only transactions). Such a database is not migrated; an old schema is
            refused with what to run.
    """
    engine = make_engine(url or database_url(), read_only=read_only)
    try:
        if read_only:
            migrate.require_current(engine)
        else:
            migrate.upgrade(engine)
    except DBAPIError as error:
        engine.dispose()
        name = engine.url.render_as_string(hide_password=True)
        raise NetmatrixError(
            f"cannot open the results database {name}: {driver_message(error)}"
        ) from None
    return Database(engine, sessionmaker(engine, expire_on_commit=False), read_only)


def driver_message(error: DBAPIError) -> str:
    """The driver's words on one line (PostgreSQL's go on over hint and context lines)."""
    lines = str(error.orig).strip().splitlines()
    return lines[0] if lines else type(error.orig).__name__


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine for `url`; for SQLite, with the file, pragmas and locking set up."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise NetmatrixError(
            f"the database URL is not a SQLAlchemy URL such as sqlite:///{DEFAULT_PATH}"
        ) from None
    if parsed.get_backend_name() == "postgresql":
        return postgres.make_engine(parsed, read_only=read_only)
    if parsed.get_backend_name() != "sqlite":
        if read_only:
            raise NetmatrixError(
                f"read-only access needs SQLite or PostgreSQL, not {parsed.drivername}"
            )
        return create_engine(parsed)
    if read_only:
        parsed = _read_only_url(_sqlite_file(parsed))
    else:
        _create_private(_sqlite_file(parsed))
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S})
    _configure_sqlite(engine, read_only=read_only)
    return engine


def _refused_write(error: BaseException | None) -> bool:
    """Whether the driver's error is a read-only database refusing a write."""
    sqlite_code = getattr(error, "sqlite_errorcode", None)
    return sqlite_code in REFUSED_WRITES or postgres.refused_write(error)


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise NetmatrixError(f"{ENV_VAR} must name a SQLite file, not an in-memory database")
    return Path(url.database)


def _read_only_url(path: Path) -> URL:
    if not path.is_file():
        raise NetmatrixError(
            f"no results database at {path}: run `invoke matrix` first (or point NETMATRIX_DB "
            "at one)"
        )
    return make_url("sqlite://").set(
        database=path.resolve().as_uri(), query={"mode": "ro", "uri": "true"}
    )


def _create_private(path: Path) -> None:
    """Create the file before SQLite does, so that it and its WAL files are not world-readable."""
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o640))


def _configure_sqlite(engine: Engine, *, read_only: bool) -> None:
    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        if read_only:
            dbapi_connection.execute("PRAGMA query_only = ON")
            dbapi_connection.set_authorizer(_refuse_escapes)
        else:
            dbapi_connection.execute("PRAGMA journal_mode = WAL")

    @event.listens_for(engine, "begin")
    def begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _refuse_escapes(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
    """Read-only connections may not create other files (ATTACH) or lift query_only."""
    lifts_query_only = (
        action == sqlite3.SQLITE_PRAGMA
        and (arg1 or "").lower() == "query_only"
        and arg2 is not None
    )
    if action == sqlite3.SQLITE_ATTACH or lifts_query_only:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK
