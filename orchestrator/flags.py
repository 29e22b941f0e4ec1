"""Command-line flags parsed by netmatrix, before any work, into one-line errors.

A task whose default is an int or a float makes invoke convert the flag while parsing, and a
bad value then ends in invoke's traceback: tasks default such flags to None and parse them
with the helpers here, before they open a file, a database or a connection.
"""

from collections.abc import Collection

from orchestrator.errors import NetmatrixError


def count_flag(flag: str, value: object, default: int, most: int = 1_000_000) -> int:
    """A whole-number flag from 1 to `most`; `default` when not given."""
    if value is None:
        return default
    try:
        number = int(str(value))
    except ValueError:
        raise NetmatrixError(f"{flag} must be a whole number, not {value!r}") from None
    if not 1 <= number <= most:
        raise NetmatrixError(f"{flag}: {number} is out of range (1..{most})")
    return number


def factor_flag(flag: str, value: object, default: float) -> float:
    """A factor flag: a number of at least 1 (nan refused); `default` when not given."""
    if value is None:
        return default
    number = _number(flag, value)
    if not number >= 1.0:  # also refuses nan
        raise NetmatrixError(f"{flag} must be at least 1, not {number}")
    return number


def choice_flag(flag: str, value: object, allowed: Collection[str]) -> str:
    """A flag that must be one of `allowed`."""
    if value not in allowed:
        raise NetmatrixError(f"{flag} must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


def share_flag(flag: str, value: object, default: float) -> float:
    """A share flag: a number above 0 and at most 1 (nan refused); `default` when not given."""
    if value is None:
        return default
    number = _number(flag, value)
    if not 0.0 < number <= 1.0:  # also refuses nan
        raise NetmatrixError(f"{flag} must be above 0 and at most 1, not {number}")
    return number


def _number(flag: str, value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        raise NetmatrixError(f"{flag} must be a number, not {value!r}") from None
