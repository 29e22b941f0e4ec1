"""The figures of a paper, drawn with matplotlib from result tables and function shares.

* throughput: a metric against message size, one line per mode with 95 % error bars, one
  panel per kernel;
* ratio bars (overhead against the baseline, or traced over plain for the probe): one group
  of bars per mode, one bar per size, with Fieller's intervals, one panel per kernel;
* functions: a heatmap of the functions each mode's stacks add over the baseline's.

Figures are for print: modes differ by marker and line style, sizes by hatch, the heatmap is
grey with its numbers written in, so nothing depends on colour. A cell without a number is
written on the figure ("ipvlan-l2: unsupported"), never drawn as zero. Output is
byte-for-byte reproducible: no dates or versions in the files' metadata and a fixed salt for
SVG ids. Figures are made without pyplot, so no global figure registry or GUI backend is
involved and nothing needs closing.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from orchestrator.errors import NetmatrixError
from orchestrator.reports.functions import AddedFunctions
from orchestrator.reports.tables import CellState, ResultTable, TableCell

FORMATS = ("png", "pdf", "svg")
# Dates and software versions would make every file differ; None removes the key.
METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
    "svg": {"Creator": None, "Date": None},
}
STYLE = {
    "svg.hashsalt": "netmatrix",
    "font.size": 9,
    "axes.grid": True,
    "grid.color": "0.85",
    "grid.linewidth": 0.6,
    "hatch.linewidth": 0.8,
    "legend.fontsize": 8,
}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINES = ("-", "--", "-.", ":")
HATCHES = ("", "///", "...", "xxx", "\\\\\\", "ooo", "---", "+++")
GREYS = ("0.35", "0.6", "0.85", "1.0")
DPI = 150


def save_figure(figure: Figure, path: Path) -> Path:
    """Write the figure as PNG, PDF or SVG (by the file's suffix), reproducibly."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise NetmatrixError(f"--out must end in .png, .pdf or .svg, not {path.name!r}")
    data = figure_bytes(figure, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The figure as a PNG, PDF or SVG file's bytes, the same on every call."""
    buffer = io.BytesIO()
    with rc_context(STYLE):
        figure.savefig(buffer, format=fmt, metadata=METADATA[fmt], dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def throughput_figure(table: ResultTable) -> Figure:
    """The table's metric against message size (the table's columns), a line per mode."""
    if table.spec.cols != "size":
        raise ValueError("a throughput figure needs the sizes as columns")
    sizes = [int(size) for size in table.cols]
    with rc_context(STYLE):
        figure, panels = _panels(len(table.groups), share_y=True)
        for axes, group in zip(panels, table.groups, strict=True):
            missing = []
            for index, mode in enumerate(table.rows):
                cells = [table.cell(group, mode, col) for col in table.cols]
                points = [
                    (size, cell)
                    for size, cell in zip(sizes, cells, strict=True)
                    if cell.state == CellState.MEASURED and cell.summary is not None
                ]
                if not points:
                    missing.append(f"{mode}: {_state(cells)}, not shown")
                    continue
                means = [cell.summary.mean for _, cell in points]  # type: ignore[union-attr]
                axes.errorbar(
                    [size for size, _ in points],
                    means,
                    yerr=_error_bars([cell for _, cell in points], means),
                    label=f"{mode} (n={_n_text([cell for _, cell in points])})",
                    marker=MARKERS[index % len(MARKERS)],
                    linestyle=LINES[index % len(LINES)],
                    color=GREYS[0] if index % 2 else "black",
                    markerfacecolor="white" if index % 2 else "black",
                    capsize=3,
                    linewidth=1.2,
                )
            axes.set_xscale("log", base=2)
            axes.set_xticks(sizes, [str(size) for size in sizes])
            axes.minorticks_off()
            axes.set_xlabel("message size (bytes)")
            axes.set_ylabel(f"{table.metric.title.lower()} ({table.metric.unit})")
            axes.set_ylim(bottom=0)
            for text in missing:
                axes.plot([], [], linestyle="none", label=text)
            _finish_panel(axes, table, group.value)
        return figure


def ratio_figure(table: ResultTable, ylabel: str) -> Figure:
    """Ratios as bars: to the baseline (a table with --baseline) or traced/plain (probe)."""
    modes = [mode for mode in table.rows if mode != table.spec.baseline]
    width = 0.8 / max(1, len(table.cols))
    with rc_context(STYLE):
        figure, panels = _panels(len(table.groups), share_y=True)
        for axes, group in zip(panels, table.groups, strict=True):
            for index, col in enumerate(table.cols):
                offset = (index - (len(table.cols) - 1) / 2) * width
                cells = [table.cell(group, mode, col) for mode in modes]
                drawn = [
                    (position, cell)
                    for position, cell in enumerate(cells)
                    if cell.ratio is not None
                ]
                axes.bar(
                    [position + offset for position, _ in drawn],
                    [cell.ratio.ratio for _, cell in drawn],  # type: ignore[union-attr]
                    width=width,
                    yerr=_ratio_bars([cell for _, cell in drawn]),
                    label=f"{table.spec.cols} {col}",
                    color=GREYS[index % len(GREYS)],
                    edgecolor="black",
                    hatch=HATCHES[index % len(HATCHES)],
                    capsize=3,
                    linewidth=0.8,
                )
                for position, cell in enumerate(cells):
                    if cell.ratio is None:
                        axes.text(
                            position + offset,
                            0.02,
                            _why_no_ratio(cell),
                            rotation=90,
                            ha="center",
                            va="bottom",
                            fontsize=7,
                            transform=axes.get_xaxis_transform(),
                        )
                    elif cell.ratio.low is None:
                        axes.annotate(
                            "no CI" if cell.ratio.df is None else "CI unbounded",
                            (position + offset, cell.ratio.ratio),
                            xytext=(0, 2),
                            textcoords="offset points",
                            rotation=90,
                            ha="center",
                            va="bottom",
                            fontsize=7,
                        )
            axes.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
            axes.set_xticks(range(len(modes)), modes)
            axes.set_ylabel(ylabel)
            axes.set_ylim(bottom=0)
            _finish_panel(axes, table, group.value)
        return figure


def functions_figure(panels: Sequence[AddedFunctions]) -> Figure:
    """A heatmap per kernel: functions (rows) each mode (columns) adds over the baseline."""
    drawn = [panel for panel in panels if panel.functions and panel.modes]
    if not drawn:
        raise NetmatrixError(
            "no function that a mode adds over the baseline: are the modes traced?"
        )
    heights = [len(panel.functions) + 3 for panel in drawn]
    width = 2.5 + 1.1 * max(len(panel.modes) for panel in drawn)
    with rc_context(STYLE):
        figure = Figure(figsize=(width, 0.28 * sum(heights) + 0.5), layout="constrained")
        axes_list = figure.subplots(
            len(drawn), 1, squeeze=False, gridspec_kw={"height_ratios": heights}
        )
        top = max(max(panel.percent.values(), default=0.0) for panel in drawn) or 1.0
        for axes, panel in zip(axes_list[:, 0], drawn, strict=True):
            _heatmap(axes, panel, top)
        return figure


def _heatmap(axes: Axes, panel: AddedFunctions, top: float) -> None:
    grid = [
        [panel.percent.get((mode, function), math.nan) for mode in panel.modes]
        for function in panel.functions
    ]
    image = axes.imshow(grid, cmap="Greys", vmin=0.0, vmax=top, aspect="auto")
    for row, function in enumerate(panel.functions):
        for col, mode in enumerate(panel.modes):
            value = panel.percent.get((mode, function))
            axes.text(
                col,
                row,
                "–" if value is None else _percent_text(value),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value is not None and value > 0.55 * top else "black",
            )
    axes.set_xticks(range(len(panel.modes)), panel.modes)
    axes.set_yticks(range(len(panel.functions)), panel.functions, fontfamily="monospace")
    axes.tick_params(top=True, labeltop=True, bottom=False, labelbottom=False)
    axes.grid(False)
    title = f"kernel {panel.kernel}: functions each mode adds over {panel.baseline}"
    if panel.untraced:
        title += f"\n(no traces: {', '.join(panel.untraced)})"
    axes.set_title(title, fontsize=9)
    axes.figure.colorbar(image, ax=axes, label="% of the mode's trace records", shrink=0.8)


def _panels(count: int, *, share_y: bool) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(5.0 * count, 3.6), layout="constrained")
    return figure, list(figure.subplots(1, count, squeeze=False, sharey=share_y)[0])


def _finish_panel(axes: Axes, table: ResultTable, group: str | None) -> None:
    if group is not None:
        axes.set_title(f"{table.spec.by} {group}")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="best", frameon=True)


def _error_bars(cells: Sequence[TableCell], means: Sequence[float]) -> list[list[float]]:
    """Distances from the mean to the interval's ends (NaN, no bar, for n = 1)."""
    below, above = [], []
    for cell, mean in zip(cells, means, strict=True):
        interval = cell.summary.interval if cell.summary else None
        below.append(mean - interval.low if interval else math.nan)
        above.append(interval.high - mean if interval else math.nan)
    return [below, above]


def _ratio_bars(cells: Sequence[TableCell]) -> list[list[float]]:
    below, above = [], []
    for cell in cells:
        ratio = cell.ratio
        assert ratio is not None
        bounded = ratio.low is not None and ratio.high is not None
        below.append(ratio.ratio - ratio.low if bounded else math.nan)  # type: ignore[operator]
        above.append(ratio.high - ratio.ratio if bounded else math.nan)  # type: ignore[operator]
    return [below, above]


def _why_no_ratio(cell: TableCell) -> str:
    return str(cell.state) if cell.state != CellState.MEASURED else "no baseline"


def _state(cells: Sequence[TableCell]) -> str:
    return "/".join(dict.fromkeys(str(cell.state) for cell in cells))


def _n_text(cells: Sequence[TableCell]) -> str:
    counts = sorted({cell.n for cell in cells})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def _percent_text(value: float) -> str:
    return "<1" if 0 < value < 1 else f"{value:.0f}"
