"""The figure of `results.latency --plot`: how a graphed function's durations spread, per mode.

Each run stored its own p50, p90 and p99 (the calls themselves stay in its raw trace), so a
mode's distribution is drawn run by run: a vertical bar from p50 to p99 with a tick at p90
and its mean as a white dot, repetitions side by side, one panel per kernel. Black and white
like the other figures; a mode without figures is written on the panel with its state
("macvlan: unsupported"), never drawn as zero.
"""

from __future__ import annotations

from matplotlib import rc_context
from matplotlib.figure import Figure

from orchestrator.db.models import RunStatus
from orchestrator.reports.latency import LatencyData
from orchestrator.reports.plots import STYLE

_SPREAD = 0.6  # of a mode's slot on the axis, shared by its repetitions


def latency_figure(data: LatencyData) -> Figure:
    """p50–p99 bars, p90 ticks and means of each run, grouped by mode, a panel per kernel."""
    kernels = list(dict.fromkeys(run.kernel for run in data.runs))
    modes = list(dict.fromkeys(run.mode for run in data.runs))
    with rc_context(STYLE):
        figure = Figure(figsize=(max(4.0, 1.2 * len(modes)), 3.0 * len(kernels)))
        panels = figure.subplots(len(kernels), 1, squeeze=False, sharey=True)[:, 0]
        for axes, kernel in zip(panels, kernels, strict=True):
            missing: list[str] = []
            for slot, mode in enumerate(modes):
                runs = [run for run in data.runs if (run.mode, run.kernel) == (mode, kernel)]
                timed = [
                    item
                    for run in runs
                    if run.status == RunStatus.OK
                    and (item := data.figures(run)) is not None
                    and item.status == "ok"
                    and item.p50_us is not None
                ]
                if not timed:
                    missing.append(f"{mode}: {_why_not(data, runs)}")
                    continue
                step = _SPREAD / len(timed)
                for index, item in enumerate(timed):
                    x = slot - _SPREAD / 2 + step * (index + 0.5)
                    axes.vlines(x, item.p50_us, item.p99_us, colors="0.2", linewidth=2.0)
                    axes.plot([x], [item.p90_us], marker="_", color="0.2", markersize=9)
                    axes.plot([x], [item.mean_us], marker="o", color="0.2", markerfacecolor="white")
            axes.set_xticks(range(len(modes)), modes)
            axes.set_xlim(-0.6, len(modes) - 0.4)
            axes.set_ylim(bottom=0)
            axes.set_ylabel("duration (µs)")
            axes.set_title(f"{data.function}, kernel {kernel}")
            if missing:
                axes.text(
                    0.99,
                    0.03,
                    "\n".join(missing),
                    transform=axes.transAxes,
                    ha="right",
                    va="bottom",
                    fontsize=7,
                )
        figure.suptitle(
            f"{data.campaign}: per run p50–p99 (bar), p90 (tick), mean (dot)", fontsize=9
        )
    return figure


def _why_not(data: LatencyData, runs: list) -> str:
    """Why a mode has nothing to draw: the ftrace part's state or the runs' own."""
    for run in runs:
        item = data.figures(run)
        if run.status != RunStatus.OK:
            return str(run.status)
        if item is not None and item.status != "ok":
            return "ftrace unsupported"
    return "no calls" if runs else "not run"
