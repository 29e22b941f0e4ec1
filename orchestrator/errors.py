"""Errors that reach the user as one clear line and exit code 2, never a traceback."""

import errno


class NetmatrixError(Exception):
    """A problem the user can fix: bad input, a missing tool, a host that refuses.

    The message is the whole story: it names where (file, line, key, host) and what to do.
    """

    exit_code = 2


class DiskFull(NetmatrixError):
    """The controller ran out of space (or quota) while storing results.

    Not the user's input, so exit code 1; and not one run's problem: every later run would
    fail the same way, so a matrix stops at the first one (what is stored stays consistent,
    and the same command resumes once space is freed).
    """

    exit_code = 1


FULL_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def disk_full(error: OSError, what: str) -> DiskFull | None:
    """`DiskFull` naming `what` when `error` is a full disk or quota, else None."""
    if error.errno in FULL_DISK_ERRNOS:
        return DiskFull(f"{what}: {error.strerror}")
    return None
