"""What `make demo` shows at the end: the throughput table against the baseline and figures.

One call for the demo, made of the same pieces as `results.table` and `results.plot`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from orchestrator.reports.figures import make_figure
from orchestrator.reports.plots import save_figure
from orchestrator.reports.queries import load_campaign
from orchestrator.reports.table_formats import render_table
from orchestrator.reports.tables import TableSpec, build_table

FIGURES = ("throughput", "functions")


def demo_summary(campaign: str | None, out_dir: Path) -> list[Path]:
    """Print the throughput table (ratios to the spec's baseline); write the throughput
    figure and the functions heatmap as PNG into `out_dir`.

    Returns:
        The figures written.
    """
    data = load_campaign(campaign)
    spec = TableSpec("mbps", by="kernel", baseline=data.baseline())
    sys.stdout.write(render_table(build_table(data.info.name, data.runs, spec), "table"))
    return [save_figure(make_figure(data, kind), out_dir / f"{kind}.png") for kind in FIGURES]
