"""Errors that reach the user as one clear line and exit code 2, never a traceback."""


class NetmatrixError(Exception):
    """A problem the user can fix: bad input, a missing tool, a host that refuses.

    The message is the whole story: it names where (file, line, key, host) and what to do.
    """

    exit_code = 2
