"""One matrix at a time per results directory.

A starting matrix marks the runs it finds `running` as interrupted (a crash left them so);
a second matrix on the same database would do that to the first one's live runs. So the
second refuses, naming the holder, instead. The lock is an flock on a file in the results
directory: the kernel releases it when the holder exits, however it exits.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.errors import NetmatrixError


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
