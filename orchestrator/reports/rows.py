"""Rows of frozen values rendered as a rich table, JSON or CSV: one renderer for every task.

JSON is a list of objects with the fields' names; CSV has a header line; the table is for a
human and marks missing values as `-`, never as zero.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from orchestrator.flags import choice_flag

FORMATS = ("table", "json", "csv")


def check_format(value: str, allowed: Sequence[str] = FORMATS) -> str:
    """The format if allowed, else a user error listing the allowed ones."""
    return choice_flag("--format", value, allowed)


def _as_dict(row: Any) -> dict[str, Any]:
    return dataclasses.asdict(row) if dataclasses.is_dataclass(row) else dict(row)


def render_rows(
    rows: Sequence[Any], fmt: str, *, title: str | None = None, columns: Sequence[str] | None = None
) -> str:
    """Rows (dataclasses or dicts) as text in `fmt` (table, json or csv)."""
    check_format(fmt)
    records = [_as_dict(row) for row in rows]
    names = list(columns or (records[0].keys() if records else ()))
    if fmt == "json":
        return json.dumps(records, indent=2, default=str) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=names, extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(records)
        return buffer.getvalue()
    table = Table(title=title)
    for name in names:
        table.add_column(name)
    for record in records:
        table.add_row(*(field_text(record.get(name)) for name in names))
    buffer = io.StringIO()
    Console(file=buffer, width=max(80, Console().width), highlight=False).print(table)
    return buffer.getvalue()


def field_text(value: Any) -> str:
    """A value as the tables show it: `-` for missing, floats to two decimals."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def print_rows(rows: Sequence[Any], fmt: str, **kwargs: Any) -> None:
    """`render_rows` to standard output."""
    sys.stdout.write(render_rows(rows, fmt, **kwargs))
