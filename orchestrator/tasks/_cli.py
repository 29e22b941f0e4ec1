"""What every task shares: one-line errors with exit code 2 (flags: `orchestrator.flags`)."""

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
