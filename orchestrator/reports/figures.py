"""`results.plot --kind …`: which table or function shares each kind of figure is drawn from.

Every kind has one panel per kernel (`--by kernel`), and pools the rest (hosts, protocols).
"""

from __future__ import annotations

from matplotlib.figure import Figure

from orchestrator.errors import NetmatrixError
from orchestrator.reports.functions import added_functions
from orchestrator.reports.plots import functions_figure, ratio_figure, throughput_figure
from orchestrator.reports.queries import CampaignData
from orchestrator.reports.tables import METRICS, TableSpec, build_table

KINDS = ("throughput", "overhead", "functions", "probe")
TOP_FUNCTIONS = 12


def make_figure(
    data: CampaignData,
    kind: str,
    *,
    metric: str = "mbps",
    baseline: str | None = None,
    top: int = TOP_FUNCTIONS,
) -> Figure:
    """The figure of `kind` for a campaign (baseline default: the spec's)."""
    if kind not in KINDS:
        raise NetmatrixError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind in ("throughput", "overhead") and METRICS.get(metric, METRICS["mbps"]).denominator:
        raise NetmatrixError(f"--metric {metric} is a ratio: use --kind probe")
    name = data.info.name
    if kind == "throughput":
        return throughput_figure(build_table(name, data.runs, TableSpec(metric, by="kernel")))
    if kind == "probe":
        table = build_table(name, data.runs, TableSpec("probe", by="kernel"))
        return ratio_figure(table, "throughput while tracing / without")
    reference = data.baseline(baseline)
    if kind == "overhead":
        table = build_table(name, data.runs, TableSpec(metric, by="kernel", baseline=reference))
        return ratio_figure(table, f"{table.metric.title.lower()} / {reference}")
    if top < 1:
        raise NetmatrixError(f"--top must be at least 1, not {top}")
    modes = list(dict.fromkeys(run.mode for run in data.runs))
    return functions_figure(added_functions(data.functions, reference, modes, top))
