"""What every task shares: turning a NetmatrixError into one line on stderr and exit code 2."""

import functools
from collections.abc import Callable
from typing import Any

from invoke import Exit

from orchestrator.errors import NetmatrixError


def user_errors(task_body: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a task body so that a NetmatrixError ends the program with its message, exit 2."""

    @functools.wraps(task_body)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return task_body(*args, **kwargs)
        except NetmatrixError as error:
            raise Exit(f"error: {error}", code=error.exit_code) from None

    return wrapper


def count_flag(flag: str, value: object, default: int, most: int = 1_000_000) -> int:
    """A whole-number flag, parsed here rather than by invoke.

    A task whose default is an int makes invoke convert the flag while parsing, and a bad
    value then ends in invoke's traceback; tasks default such flags to None and call this.
    """
    if value is None:
        return default
    try:
        number = int(str(value))
    except ValueError:
        raise NetmatrixError(f"{flag} must be a whole number, not {value!r}") from None
    if not 1 <= number <= most:
        raise NetmatrixError(f"{flag}: {number} is out of range (1..{most})")
    return number
