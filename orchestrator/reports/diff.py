"""A function diff (what one mode's stacks add over a baseline's) as JSON or tables.

Shared by `trace.diff` (two trace files) and `results.diff` (stored counts), which print the
same shape: `{"extra": [...], "missing": [...], "changed": [...]}`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from orchestrator.reports.rows import check_format


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def print_diff(
    data: dict[str, list[dict[str, Any]]], base_records: int, target_records: int, fmt: str
) -> None:
    """Print a diff's dict as JSON, or as three tables with the record counts above them."""
    check_format(fmt, ("table", "json"))
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=True) + "\n")
        return
    console = Console(file=sys.stdout, highlight=False, soft_wrap=False)
    console.print(f"baseline: {base_records} records, target: {target_records} records")
    for key, title in (("extra", "Only in the target"), ("missing", "Only in the baseline")):
        table = Table(title=f"{title} ({len(data[key])})")
        table.add_column("function")
        table.add_column("records", justify="right")
        for item in data[key]:
            table.add_row(_printable(item["function"]), str(item["samples"]))
        console.print(table)
    table = Table(title=f"Share of records changed ({len(data['changed'])})")
    table.add_column("function")
    table.add_column("baseline", justify="right")
    table.add_column("target", justify="right")
    table.add_column("ratio", justify="right")
    for item in data["changed"]:
        table.add_row(
            _printable(item["function"]),
            f"{item['baseline_share']:.2%}",
            f"{item['target_share']:.2%}",
            f"{item['ratio']:.2f}x",
        )
    console.print(table)
