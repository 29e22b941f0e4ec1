"""One matrix at a time per results directory (SQLite) or per campaign and host (PostgreSQL).

A starting matrix marks the runs it finds `running` as interrupted (a crash left them so);
a second matrix on the same database would do that to the first one's live runs. So the
second refuses, naming the holder, instead. On SQLite the lock is an flock on a file in the
results directory: the kernel releases it when the holder exits, however it exits. A shared
PostgreSQL database is written by matrices on other controllers, which no file reaches: there
an advisory lock per campaign and host, held by the matrix's own session on the server, guards
a campaign's runs on that host (`orchestrator.db.postgres.campaign_lock`); the server releases
it when the session ends.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from orchestrator.db import postgres
from orchestrator.db.session import Database
from orchestrator.errors import NetmatrixError


@contextmanager
def campaign_guard(
    db: Database, results: Path, campaign: str, spec_hash: str, hosts: Sequence[str]
) -> Iterator[None]:
    """Hold what keeps a second matrix off this one's runs, or refuse naming the holder."""
    if db.engine.dialect.name == "postgresql":
        with postgres.campaign_lock(db.engine, campaign, spec_hash, hosts):
            yield
    else:
        with matrix_lock(results):
            yield


@contextmanager
def matrix_lock(results: Path) -> Iterator[None]:
    """Hold the results directory's matrix lock, or refuse with the holder's pid."""
    results.mkdir(parents=True, exist_ok=True)
    path = results / ".matrix.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise NetmatrixError(
                f"another matrix (pid {holder}) is running on {results}: wait for it to end "
                "or stop it, then run this again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
