"""Alembic from inside netmatrix: a database is brought to the newest schema when opened.

The migrations live next to the package (`migrations/` in the repository), so `invoke` and
the `netmatrix` script find them wherever they are started from.
"""

from pathlib import Path
from urllib.parse import unquote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, text

import orchestrator
from orchestrator.errors import NetmatrixError

MIGRATIONS = Path(orchestrator.__file__).parent.parent / "migrations"
MIGRATION_LOCK = 0x6E6D5F6D  # "nm_m": the advisory lock a PostgreSQL migration holds


def alembic_config(connection: Connection) -> Config:
    """An Alembic configuration that migrates through `connection` (see `migrations/env.py`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision this netmatrix knows."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None when it has no schema yet."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision, doing nothing when it is there already.

    The upgrade runs in one transaction: two netmatrix started at once on a new database
    migrate it once, the second waiting for the first. SQLite's `BEGIN IMMEDIATE` orders
    them; on PostgreSQL, whose DDL takes no lock until a table exists, a transaction-level
    advisory lock does, and the second then finds the schema at head.
    """
    if current_revision(engine) == head_revision():
        return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        command.upgrade(alembic_config(connection), "head")


def require_current(engine: Engine) -> None:
    """Refuse a database whose schema is not the newest: it cannot be migrated read-only."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    where = _shown(engine.url)
    if current is None:  # every netmatrix database has a revision, even an empty one
        raise NetmatrixError(f"{where} is not a netmatrix results database (no schema revision)")
    raise NetmatrixError(
        f"database {where} is at schema revision {current}, this netmatrix needs {head}: "
        "run `invoke db.upgrade`"
    )


def _shown(url: URL) -> str:
    """A database as users name it: a SQLite file's path (not the read-only URI built from
    it), any other URL without its password."""
    if url.get_backend_name() == "sqlite" and url.database:
        return unquote(url.database.removeprefix("file://"))
    return url.render_as_string(hide_password=True)
