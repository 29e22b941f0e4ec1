"""The results database: `db.upgrade` (create or migrate it), `db.check` (is it sound)."""

from invoke import Context, task

from orchestrator.errors import NetmatrixError
from orchestrator.tasks._cli import user_errors

# SQLAlchemy and Alembic are imported inside the tasks: they take a second to load, which
# every other task (`trace.collapse` on a big file included) would otherwise pay.


@task
@user_errors
def upgrade(c: Context) -> None:
    """Create the results database (NETMATRIX_DB) or bring it to the newest schema."""
    from orchestrator.db import migrate
    from orchestrator.db.session import open_database

    with open_database() as db:
        url = db.engine.url.render_as_string(hide_password=True)
        print(f"{url}: schema at revision {migrate.current_revision(db.engine)}")


@task
@user_errors
def check(c: Context) -> None:
    """Check the results database: SQLite integrity, foreign keys, artifacts of ok runs."""
    from orchestrator.db import repository
    from orchestrator.db.session import open_database

    with open_database(read_only=True) as db:
        problems = repository.integrity_check(db)
    for problem in problems:
        print(problem)
    if problems:
        raise NetmatrixError(f"the results database has {len(problems)} problem(s), listed above")
    print("results database ok")
