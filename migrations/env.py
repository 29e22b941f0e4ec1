"""Alembic environment for the results database.

netmatrix hands over an open connection (`config.attributes["connection"]`, see
`orchestrator/db/migrate.py`); the `alembic` command line migrates the database `NETMATRIX_DB`
names (default `results/netmatrix.db`, or a PostgreSQL server). `render_as_batch=True` because
SQLite cannot alter most of a table in place: revisions then copy the table and swap it in; on
PostgreSQL the same revisions alter the table in place (batch mode recreates only on SQLite).
Revisions run in one transaction on either, since PostgreSQL's DDL is transactional too.
"""

from alembic import context
from sqlalchemy import Connection

from orchestrator.db.models import Base
from orchestrator.db.session import database_url, make_engine


def run_migrations(connection: Connection) -> None:
    """Run the pending revisions, all in the transaction `connection` is in."""
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


handed_over = context.config.attributes.get("connection")
if handed_over is not None:
    run_migrations(handed_over)
else:
    engine = make_engine(database_url())
    with engine.begin() as connection:
        run_migrations(connection)
    engine.dispose()
