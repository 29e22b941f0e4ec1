"""The `results.runs` table at the width it is read in: whole values, the columns that fit.

A run has sixteen fields. Squeezed into 80 columns they became `mo… la… 6.…`, which says
nothing. So the table never shortens a value: it takes columns in the order a researcher reads
them (what ran where, how it went, what it measured), keeps each one that still fits, leaves
the others out and names them under the table. `--wide` shows every column at full width.
Only the error, free text, wraps rather than being left out.

The width is the terminal's, or `COLUMNS`, else 80 (`make demo` writes to a pipe), as
`shutil.get_terminal_size` decides. JSON and CSV are for programs: they carry every field.
"""

from __future__ import annotations

import io
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from shutil import get_terminal_size
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestrator.reports.queries import RUN_COLUMNS
from orchestrator.reports.rows import check_format, field_text, render_rows

if TYPE_CHECKING:
    from orchestrator.db.repository import RunRow

# Which columns stay when not all fit, first kept first. The table shows them in RUN_COLUMNS
# order, as --wide, JSON and CSV do. `cell` repeats mode, size, proto and host in one key.
PRIORITY = (
    "mode",
    "host",
    "kernel",
    "size",
    "repetition",
    "status",
    "mbps",
    "mbps_traced",
    "error",
    "proto",
    "netem",
    "events",
    "lost_events",
    "messages",
    "ftrace",
    "campaign",
    "cell",
    "run_id",
)
WRAPPED = "error"
WRAP_WIDTH = 24  # narrower than this, an error message is more breaks than words
GAP = 2  # between two columns of the SIMPLE_HEAD box with collapsed padding


@dataclass(frozen=True)
class Column:
    """One field of the runs, the width its longest value or header needs and its narrowest."""

    name: str
    width: int
    least: int
    numeric: bool


def terminal_width() -> int:
    """The width to fit: the terminal's, `COLUMNS` if set, else 80."""
    return get_terminal_size((80, 24)).columns


def measure(rows: Sequence[RunRow]) -> list[Column]:
    """Every runs column, in RUN_COLUMNS order, measured on the rows' text."""
    columns = []
    for name in RUN_COLUMNS:
        values = [getattr(row, name) for row in rows]
        width = max(
            cell_len(line)
            for text in (name, *map(field_text, values))
            for line in text.splitlines() or [""]
        )
        numeric = any(v is not None for v in values) and all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values
        )
        least = min(width, max(WRAP_WIDTH, cell_len(name))) if name == WRAPPED else width
        columns.append(Column(name, width, least, numeric))
    return columns


def fit(columns: Sequence[Column], width: int) -> dict[str, int]:
    """Each column kept at `width`, by priority, with the width it gets.

    A column is kept when it fits beside the ones kept before it, so a narrow column of lower
    priority can fill the room a wide one left. The wrapped column takes what it needs of the
    room left, if that is at least its narrowest. The first column always stays, even alone
    too wide.
    """
    kept: dict[str, int] = {}
    used = -GAP
    by_name = {column.name: column for column in columns}
    for name in PRIORITY:
        column = by_name[name]
        room = width - used - GAP
        if not kept or column.least <= room:
            kept[name] = max(column.least, min(column.width, room))
            used += GAP + kept[name]
    return kept


def render_runs(rows: Sequence[RunRow], fmt: str, *, wide: bool = False) -> str:
    """The runs in `fmt` (table, json or csv); the table fits `terminal_width()` unless `wide`."""
    check_format(fmt)
    if fmt != "table":
        return render_rows(rows, fmt, columns=RUN_COLUMNS)
    columns = measure(rows)
    width = terminal_width()
    widths = {c.name: c.width for c in columns} if wide else fit(columns, width)
    table = Table(
        title="runs", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True
    )
    shown = [column for column in columns if column.name in widths]
    for column in shown:
        table.add_column(
            column.name,
            width=widths[column.name],
            justify="right" if column.numeric else "left",
            no_wrap=column.name != WRAPPED,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(Text(field_text(getattr(row, column.name))) for column in shown))
    needed = sum(widths.values()) + GAP * (len(widths) - 1)
    buffer = io.StringIO()
    console = Console(file=buffer, width=max(width, needed), highlight=False)
    console.print(table)
    left_out = [column.name for column in columns if column.name not in widths]
    if left_out:
        note = f"left out: {', '.join(left_out)} (--wide shows all)"
        buffer.write(textwrap.fill(note, width, break_on_hyphens=False) + "\n")
    return buffer.getvalue()


def print_runs(rows: Sequence[RunRow], fmt: str, *, wide: bool = False) -> None:
    """`render_runs` to standard output."""
    sys.stdout.write(render_runs(rows, fmt, wide=wide))
