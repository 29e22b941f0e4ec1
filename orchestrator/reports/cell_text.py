"""The words and numbers of a table cell, shared by every output format.

Numbers are rounded to what their interval supports: the half-width keeps two significant
digits and the mean the same decimal places ("476 ± 12", "0.913 ± 0.021"). Without an
interval (n = 1) the mean keeps four significant digits and the text says there is no
interval, so a single run never passes for a precise one. Output formats differ only in
how they spell ± and × (`Symbols`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from orchestrator.analysis.stats import Ratio
from orchestrator.reports.tables import CellState, TableCell


@dataclass(frozen=True)
class Symbols:
    """How an output format writes the plus-minus and times signs and `n = `."""

    plus_minus: str = " ± "
    times: str = "×"
    n: str = "n="


PLAIN = Symbols()


def value_text(cell: TableCell, symbols: Symbols = PLAIN) -> str:
    """The cell's number with its interval and n, or why it has none.

    "476 ± 12 (n=5)", "476.4 (n=1, no CI)", "0.91× [0.88, 0.94] (n=5)" for a ratio metric,
    "unsupported", "failed", "not run", "no data", "pending".
    """
    if cell.state != CellState.MEASURED:
        return str(cell.state)
    failed = f", {cell.failed} failed" if cell.failed else ""
    if cell.summary is None:
        assert cell.ratio is not None or cell.note is not None
        shown = ratio_text(cell.ratio, symbols) if cell.ratio else str(cell.note)
        return f"{shown} ({symbols.n}{cell.n}{failed})"
    summary = cell.summary
    assert summary.mean is not None
    if summary.interval is None:
        return f"{_significant(summary.mean, 4)} ({symbols.n}{cell.n}, no CI{failed})"
    half = summary.interval.half_width
    decimals = _decimals(half)
    return (
        f"{_fixed(summary.mean, decimals)}{symbols.plus_minus}{_fixed(half, decimals)} "
        f"({symbols.n}{cell.n}{failed})"
    )


def baseline_text(cell: TableCell, baseline: str, symbols: Symbols = PLAIN) -> str | None:
    """The ratio line of a cell against `baseline`: "0.62× loopback [0.58, 0.66]".

    None for a cell without a number (its state already says why).
    """
    if cell.state != CellState.MEASURED:
        return None
    if cell.is_baseline:
        return "baseline"
    if cell.ratio is None:
        return str(cell.note)
    return ratio_text(cell.ratio, symbols, baseline)


def ratio_text(ratio: Ratio, symbols: Symbols = PLAIN, of: str | None = None) -> str:
    """ "0.62× loopback [0.58, 0.66]"; "[no CI]" with n = 1, "[unbounded]" when Fieller's
    interval is not finite."""
    label = f"{_ratio(ratio.ratio)}{symbols.times}" + (f" {of}" if of else "")
    if ratio.low is None or ratio.high is None:
        bounds = "no CI" if ratio.df is None else "unbounded"
        return f"{label} [{bounds}]"
    return f"{label} [{_ratio(ratio.low)}, {_ratio(ratio.high)}]"


def _ratio(value: float) -> str:
    return f"{value:.2f}" if abs(value) >= 0.1 else _significant(value, 2)


def _decimals(half_width: float) -> int:
    """Decimal places (negative: tens, hundreds, …) that keep two significant digits of the
    half-width."""
    if half_width <= 0 or not math.isfinite(half_width):
        return 2
    return 1 - math.floor(math.log10(half_width))


def _significant(value: float, digits: int) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return _fixed(value, digits - 1 - math.floor(math.log10(abs(value))))


def _fixed(value: float, decimals: int) -> str:
    """`value` rounded to `decimals` places; negative places round to tens, hundreds, …"""
    return f"{round(value, decimals) + 0.0:.{max(0, decimals)}f}"  # + 0.0: no "-0"
