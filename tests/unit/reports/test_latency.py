"""results.latency: a graphed function's figure per cell, mean ± 95% CI over repetitions, from
runs whose ftrace pass the real reducer summarised; unsupported cells in the kernel's words."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.analysis.ftrace_reduce import GraphedFunction, reduce_function_graph
from orchestrator.analysis.stats import describe
from orchestrator.db.models import RunStatus
from orchestrator.reports import queries
from orchestrator.reports.latency import latency_table, load_latency, spec_for
from orchestrator.reports.latency_plot import latency_figure
from orchestrator.reports.tables import CellState
from tests.unit.db.builders import add_ftrace
from tests.unit.reports.builders import Lab

from .conftest import run_task
from .test_sql import documented_queries

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ftrace"
PUSH = "br_dev_queue_push_xmit"
NO_TRACER = "the kernel has no function_graph tracer (available_tracers: blk function nop)"
# Each bridge run's pass: the first lines of the write-up's bridge log (a pass cut short by
# the client's end), so that the runs' figures differ as real repetitions do.
CUTS = (120, 250, 363)


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[int, GraphedFunction]:
    """The real reducer's figures of PUSH in each cut of the log."""
    lines = (FIXTURES / "ftrace_bridge.log").read_text().splitlines(keepends=True)
    found = {}
    for cut in CUTS:
        trace = tmp_path_factory.mktemp("ftrace") / f"bridge-{cut}.log"
        trace.write_text("".join(lines[:cut]))
        [item] = reduce_function_graph(trace, [PUSH])["functions"]
        found[cut] = GraphedFunction.from_dict(item)
    return found


@pytest.fixture
def traced(lab: Lab, figures: dict[int, GraphedFunction]) -> Lab:
    """bridge: three runs graphed; macvlan: two runs whose kernel had no function_graph;
    host: one run without ftrace rows; ipvlan-l2: unsupported as a mode."""
    for cut in CUTS:
        run_id = lab.run("bridge", 64, mbps=50.0)
        add_ftrace(lab.db, run_id, [figures[cut]])
    for _ in range(2):
        run_id = lab.run("macvlan", 64, mbps=40.0)
        add_ftrace(lab.db, run_id, [GraphedFunction(PUSH, "unsupported", NO_TRACER)])
    lab.run("host", 64, mbps=90.0)
    lab.run("ipvlan-l2", 64, RunStatus.UNSUPPORTED, error="Error: Unknown device type.")
    return lab


def test_a_cell_is_the_mean_and_interval_of_the_runs_own_figures(traced: Lab, figures) -> None:
    table = latency_table(load_latency(PUSH), spec_for("mode", "size", None))
    [group] = table.groups
    bridge = table.cell(group, "bridge", "64")
    means = [figures[cut].mean_us for cut in CUTS]
    assert len(set(means)) == 3  # repetitions that differ
    assert bridge.state == CellState.MEASURED
    assert (bridge.n, bridge.values) == (3, tuple(means))
    assert bridge.summary == describe(means, 0.95)
    assert table.metric.title == f"ftrace: mean duration of {PUSH}"
    assert table.metric.unit == "µs"


def test_unsupported_ftrace_and_unsupported_modes_say_so(traced: Lab) -> None:
    table = latency_table(load_latency(PUSH), spec_for("mode", "size", None))
    [group] = table.groups
    macvlan, ipvlan = table.cell(group, "macvlan", "64"), table.cell(group, "ipvlan-l2", "64")
    assert (macvlan.state, macvlan.note) == (CellState.UNSUPPORTED, NO_TRACER)
    assert (ipvlan.state, ipvlan.note) == (CellState.UNSUPPORTED, "Error: Unknown device type.")
    assert table.cell(group, "host", "64").state == CellState.NO_DATA


def test_calls_and_percentiles_are_each_runs_figure(traced: Lab, figures) -> None:
    [group] = latency_table(load_latency(PUSH), spec_for("mode", "size", None), "calls").groups
    assert group.cells[("bridge", "64")].values == tuple(float(figures[cut].calls) for cut in CUTS)
    [group] = latency_table(load_latency(PUSH), spec_for("mode", "size", None), "p99").groups
    assert group.cells[("bridge", "64")].values == tuple(figures[cut].p99_us for cut in CUTS)


def test_the_task_prints_rows_by_mode_and_columns_by_kernel(traced: Lab, figures, capsys) -> None:
    assert run_task("results.latency", "--function", PUSH, "--format", "csv") == 0
    out = capsys.readouterr().out
    assert "kernel" in out.splitlines()[0]
    lines = {line.split(",")[0]: line for line in out.splitlines()[1:]}
    assert lines["macvlan"].count("unsupported") >= 1
    mean = describe([figures[cut].mean_us for cut in CUTS], 0.95).mean
    assert f"{mean:.3f}"[:4] in lines["bridge"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--function", PUSH, "--stat", "max"), "--stat must be one of mean, p50, p90, p99"),
        (("--function", PUSH, "--rows", "colour"), "--rows must be one of mode, size"),
        (
            ("--function", "veth_xmit"),
            f"campaign paper has no ftrace figures of veth_xmit: it has {PUSH}",
        ),
    ],
)
def test_bad_requests_are_one_line(traced: Lab, capsys, argv, message) -> None:
    assert run_task("results.latency", *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}")
    assert err.count("\n") == 1


def test_a_campaign_without_ftrace_says_so(lab: Lab, capsys) -> None:
    lab.run("bridge", 64, mbps=50.0)
    assert run_task("results.latency", "--function", PUSH) == 2
    assert "its runs recorded no ftrace" in capsys.readouterr().err


def test_the_documented_ftrace_query_reads_the_table(traced: Lab, figures) -> None:
    """Query 6 of docs/results.md: one row per run and function, unsupported ones with why."""
    rows = queries.sql(documented_queries()[5]).rows
    bridge = [row for row in rows if row["mode"] == "bridge"]
    assert [row["calls"] for row in bridge] == [figures[cut].calls for cut in CUTS]
    assert [row["mean_us"] for row in bridge] == [round(figures[cut].mean_us, 3) for cut in CUTS]
    assert {row["error"] for row in rows if row["mode"] == "macvlan"} == {NO_TRACER}


def test_the_plot_draws_each_runs_spread_and_names_what_is_missing(traced: Lab, figures) -> None:
    figure = latency_figure(load_latency(PUSH))
    [axes] = figure.axes
    segments = [segment for collection in axes.collections for segment in collection.get_segments()]
    assert sorted((low, high) for (_, low), (_, high) in segments) == sorted(
        (figures[cut].p50_us, figures[cut].p99_us) for cut in CUTS
    )
    assert [tick.get_text() for tick in axes.get_xticklabels()] == [
        "bridge",
        "macvlan",
        "host",
        "ipvlan-l2",
    ]
    [note] = [text.get_text() for text in axes.texts]
    assert note.splitlines() == [
        "macvlan: ftrace unsupported",
        "host: no calls",
        "ipvlan-l2: unsupported",
    ]


def test_the_plot_is_the_same_bytes_every_time(traced: Lab, tmp_path: Path, capsys) -> None:
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    for out in (first, second):
        assert run_task("results.latency", "--function", PUSH, "--plot", str(out)) == 0
    assert first.read_bytes() == second.read_bytes()
    assert str(second) in capsys.readouterr().out


def test_a_plot_of_an_unknown_format_is_refused_before_the_database(lab: Lab, capsys) -> None:
    assert run_task("results.latency", "--function", PUSH, "--plot", "figure.txt") == 2
    assert "must be one of png, pdf, svg, not 'txt'" in capsys.readouterr().err
