"""Progress of a matrix: a rich live view on a terminal, plain log lines elsewhere.

The live view has an overall bar with ETA, one line per host (current cell and phase) and the
counts of ok/failed/unsupported runs. Off a terminal (CI, `| tee`), each event is one line,
so a log of an overnight matrix reads like Ansible's output.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table


class MatrixProgress:
    """Thread-safe progress reporting for the lanes of a matrix."""

    def __init__(self, total: int, console: Console | None = None, stream: TextIO | None = None):
        self.console = console or Console(file=stream)
        self.live_view = self.console.is_terminal
        if not self.live_view:
            # One event, one line: rich would break it at 80 columns off a terminal, which
            # splits a run's line from its error in a log read with grep.
            self.console.soft_wrap = True
        self.total = total
        self.counts: Counter[str] = Counter()
        self.hosts: dict[str, str] = {}
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._bar = Progress(
            TextColumn("[bold]matrix"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self._task = self._bar.add_task("runs", total=total)
        self._live: Live | None = None

    def __enter__(self) -> MatrixProgress:
        if self.live_view:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(None, None, None)

    def _render(self) -> Group:
        table = Table.grid(padding=(0, 2))
        for host, state in sorted(self.hosts.items()):
            table.add_row(f"[cyan]{host}", state)
        counts = "  ".join(f"{status}={count}" for status, count in sorted(self.counts.items()))
        return Group(self._bar, table, counts or "no run finished yet")

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def log(self, message: str) -> None:
        """A line in the log (above the live view on a terminal)."""
        with self._lock:
            self.console.print(message, highlight=False, markup=False)

    def phase(self, host: str, cell_key: str, repetition: int, phase: str) -> None:
        """A host's run entered a phase (set-up, plain, traced, perf script, teardown…)."""
        with self._lock:
            self.hosts[host] = f"{cell_key} rep {repetition}: {phase}"
            if not self.live_view:
                self.console.print(
                    f"[{host}] {cell_key} rep={repetition} {phase}", highlight=False, markup=False
                )
            self._refresh()

    def finished(
        self, host: str, cell_key: str, repetition: int, status: str, error: str | None = None
    ) -> None:
        """A run ended with `status`."""
        with self._lock:
            self.counts[status] += 1
            self._bar.advance(self._task)
            self.hosts[host] = f"{cell_key} rep {repetition}: {status}"
            line = f"{status}: [{host}] {cell_key} rep={repetition}"
            if error:
                line += f" => {error}"
            self.console.print(line, highlight=False, markup=False)
            self._refresh()

    def recap(self) -> str:
        """One closing line, Ansible-recap style."""
        elapsed = time.monotonic() - self._started
        parts = " ".join(
            f"{status}={self.counts[status]}"
            for status in ("ok", "failed", "unsupported", "interrupted")
        )
        return (
            f"MATRIX RECAP: runs={sum(self.counts.values())}/{self.total} {parts} "
            f"elapsed={elapsed:.0f}s"
        )
