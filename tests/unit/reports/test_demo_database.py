"""Tables and figures on a database a real demo run filled (tests/fixtures/databases): every
cell recomputed here from the raw rows, and the figures' series and functions checked."""

from __future__ import annotations

import math
import sqlite3
import statistics
from pathlib import Path

import pytest
from matplotlib.container import ErrorbarContainer

from orchestrator.reports import queries
from orchestrator.reports.figures import make_figure
from orchestrator.reports.table_formats import render_table
from orchestrator.reports.tables import CellState, TableSpec, build_table
from tests.unit.reports.builders import demo_database

# scipy 1.17.1: stats.t.ppf(0.975, df) for the demo's 4 runs per cell (2 hosts × 2 repetitions)
T_975_DF3 = 3.182446305284263


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = demo_database(tmp_path)
    monkeypatch.setenv("NETMATRIX_DB", f"sqlite:///{path}")
    return path


def raw_values(path: Path, metric: str) -> dict[tuple[str, str], list[float]]:
    """Each cell's values straight from SQLite, without netmatrix's queries."""
    cells: dict[tuple[str, str], list[float]] = {}
    with sqlite3.connect(path) as connection:
        for mode, size, value in connection.execute(
            "SELECT c.mode, c.size, m.value FROM run r JOIN cell c ON c.id = r.cell_id "
            "JOIN metric m ON m.run_id = r.id AND m.name = ? "
            "WHERE r.status = 'ok' AND NOT r.superseded",
            (metric,),
        ):
            cells.setdefault((mode, str(size)), []).append(value)
    return cells


def test_every_cell_is_recomputed_from_the_raw_rows(demo: Path):
    data = queries.load_campaign("demo", functions=False)
    table = build_table("demo", data.runs, TableSpec("mbps"))
    (group,) = table.groups
    expected = raw_values(demo, "mbps/plain")

    assert len(expected) == 8
    for (mode, size), values in expected.items():
        cell = table.cell(group, mode, size)
        half = T_975_DF3 * statistics.stdev(values) / math.sqrt(len(values))
        assert cell.n == len(values) == 4
        assert cell.summary.mean == pytest.approx(statistics.fmean(values), rel=1e-12)
        assert cell.summary.interval.half_width == pytest.approx(half, rel=1e-9)
    assert dict(table.pooled) == {"host": ("lab1", "lab2")}


def test_ipvlan_is_unsupported_with_the_kernels_message(demo: Path):
    data = queries.load_campaign("demo", functions=False)
    table = build_table("demo", data.runs, TableSpec("mbps", by="host", baseline="loopback"))

    for group in table.groups:
        for size in table.cols:
            cell = table.cell(group, "ipvlan-l2", size)
            assert (cell.state, cell.note) == (
                CellState.UNSUPPORTED,
                "ipvlan-l2: Error: Unknown device type.",
            )
    assert "ipvlan-l2 & unsupported & unsupported" in render_table(table, "latex")


def test_bridge_is_slower_than_loopback_and_tracing_costs_throughput(demo: Path):
    data = queries.load_campaign("demo", functions=False)
    mbps = build_table("demo", data.runs, TableSpec("mbps", baseline="loopback"))
    probe = build_table("demo", data.runs, TableSpec("probe"))
    (group,), (probe_group,) = mbps.groups, probe.groups
    plain, traced = raw_values(demo, "mbps/plain"), raw_values(demo, "mbps/traced")

    for size in ("64", "1400"):
        bridge = group.cells[("bridge", size)]
        assert bridge.ratio.ratio == pytest.approx(
            statistics.fmean(plain[("bridge", size)]) / statistics.fmean(plain[("loopback", size)])
        )
        assert bridge.ratio.ratio < 1.0
        assert probe_group.cells[("bridge", size)].ratio.ratio == pytest.approx(
            statistics.fmean(traced[("bridge", size)]) / statistics.fmean(plain[("bridge", size)])
        )


def test_the_figures_draw_the_demos_modes_and_the_bridge_functions(demo: Path):
    data = queries.load_campaign("demo")

    (throughput,) = make_figure(data, "throughput").axes
    series = [c.get_label() for c in throughput.containers if isinstance(c, ErrorbarContainer)]
    assert series == [f"{mode} (n=4)" for mode in ("loopback", "host", "bridge", "macvlan")]

    heatmap = make_figure(data, "functions").axes[0]
    functions = {tick.get_text() for tick in heatmap.get_yticklabels()}
    assert {"br_forward_finish", "br_dev_queue_push_xmit", "macvlan_start_xmit"} <= functions
    assert [tick.get_text() for tick in heatmap.get_xticklabels()] == ["host", "bridge", "macvlan"]
