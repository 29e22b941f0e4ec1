"""The one error type of the inventory layer, and how it names a place in a file."""

from __future__ import annotations

from orchestrator.errors import NetmatrixError


class InventoryError(NetmatrixError):
    """A problem in an inventory file or a host pattern, worded `file:line:col: what is wrong`.

    Messages never quote variable values: a malformed line may carry a password.
    """


def where(source: str, line: int | None = None, column: int | None = None) -> str:
    """`source:line:col`, or as much of it as is known."""
    if line is None:
        return source
    return f"{source}:{line}:{column or 1}"
