"""Result tables from a synthetic campaign: every number recomputed here, intervals against
SciPy's, and every cell without a number saying why."""

from __future__ import annotations

import statistics

import pytest

from orchestrator.analysis.stats import ratio_of_means
from orchestrator.db import repository
from orchestrator.db.models import RunStatus
from orchestrator.errors import NetmatrixError
from orchestrator.reports import queries
from orchestrator.reports.cell_text import baseline_text, value_text
from orchestrator.reports.tables import CellState, ResultTable, TableSpec, build_table
from tests.unit.reports.builders import (
    BRIDGE_64,
    BRIDGE_64_TRACED,
    BRIDGE_1400,
    HOST_64,
    LOOPBACK_64,
    LOOPBACK_64_TRACED,
    LOOPBACK_1400,
    MACVLAN_1400,
    UNKNOWN_DEVICE,
    Lab,
)

MEASURED = {
    ("loopback", "64"): LOOPBACK_64,
    ("loopback", "1400"): LOOPBACK_1400,
    ("host", "64"): HOST_64,
    ("bridge", "64"): BRIDGE_64,
    ("bridge", "1400"): BRIDGE_1400,
    ("macvlan", "1400"): MACVLAN_1400,
}
# scipy 1.17.1: stats.t.interval(0.95, n - 1, loc=mean(values), scale=stats.sem(values))
SCIPY_INTERVALS = {
    ("loopback", "64"): (87.62362632899911, 114.37637367100089),
    ("loopback", "1400"): (751.586228824967, 1248.413771175033),
    ("bridge", "64"): (43.811813164499554, 57.188186835500446),
    ("host", "64"): (71.5875905276506, 122.4124094723494),
    ("macvlan", "1400"): (282.937952638253, 537.062047361747),
}


def paper_table(**spec: str) -> ResultTable:
    data = queries.load_campaign("paper", functions=False)
    return build_table("paper", data.runs, TableSpec(**spec))


def only_group(table: ResultTable):
    (group,) = table.groups
    return group


def test_each_cell_is_the_mean_and_n_of_its_latest_ok_runs(paper: Lab):
    table = paper_table()
    group = only_group(table)

    assert table.rows == ("loopback", "host", "bridge", "macvlan", "ipvlan-l2")
    assert table.cols == ("64", "1400")
    for (mode, size), values in MEASURED.items():
        cell = table.cell(group, mode, size)
        assert cell.state == CellState.MEASURED
        assert cell.n == len(values)
        assert cell.summary is not None
        assert cell.summary.mean == pytest.approx(statistics.fmean(values), rel=1e-12)
        if len(values) > 1:
            assert cell.summary.stdev == pytest.approx(statistics.stdev(values), rel=1e-12)


@pytest.mark.parametrize(("cell_key", "expected"), sorted(SCIPY_INTERVALS.items()))
def test_intervals_are_scipys_student_t_intervals(paper: Lab, cell_key, expected):
    table = paper_table()
    interval = table.cell(only_group(table), *cell_key).summary.interval

    assert (interval.low, interval.high) == pytest.approx(expected, rel=1e-9)
    assert interval.level == 0.95


def test_cell_text_rounds_to_the_interval_and_names_n(paper: Lab):
    table = paper_table()
    group = only_group(table)

    # loopback 64: mean 101, half-width 13.376… -> two significant digits
    assert value_text(table.cell(group, "loopback", "64")) == "101 ± 13 (n=4)"
    assert value_text(table.cell(group, "loopback", "1400")) == "1000 ± 250 (n=3)"


def test_a_single_run_has_a_mean_but_no_interval(paper: Lab):
    table = paper_table(baseline="loopback")
    cell = table.cell(only_group(table), "bridge", "1400")

    assert cell.n == 1
    assert cell.summary.interval is None
    assert value_text(cell) == "500.0 (n=1, no CI)"
    assert baseline_text(cell, "loopback") == "0.50× loopback [no CI]"


def test_cells_without_a_number_say_why_and_never_zero(paper: Lab):
    table = paper_table(baseline="loopback")
    group = only_group(table)

    unsupported = table.cell(group, "ipvlan-l2", "64")
    failed = table.cell(group, "macvlan", "64")
    not_run = table.cell(group, "host", "1400")
    assert (unsupported.state, unsupported.note) == (CellState.UNSUPPORTED, UNKNOWN_DEVICE)
    assert (failed.state, failed.failed, failed.note) == (CellState.FAILED, 2, "client exited 1")
    assert not_run.state == CellState.NOT_RUN
    texts = [value_text(cell) for cell in (unsupported, failed, not_run)]
    assert texts == ["unsupported", "failed", "not run"]
    assert [baseline_text(cell, "loopback") for cell in (unsupported, failed, not_run)] == [
        None,
        None,
        None,
    ]


def test_a_cell_with_some_failed_runs_counts_only_the_ok_ones_and_says_so(paper: Lab):
    table = paper_table()
    cell = table.cell(only_group(table), "macvlan", "1400")

    assert (cell.n, cell.failed) == (2, 1)
    assert value_text(cell) == "410 ± 130 (n=2, 1 failed)"


def test_ok_runs_without_the_metric_are_no_data(paper: Lab):
    table = paper_table(metric="p99")

    assert {
        str(table.cell(only_group(table), "loopback", size).state) for size in ("64", "1400")
    } == {"no data"}


def test_a_run_still_going_is_pending(lab: Lab):
    cell_ref = repository.get_or_create_cell(
        lab.db,
        lab.campaign,
        "mode=bridge,size=64,proto=tcp,host=lab1",
        "bridge",
        64,
        "tcp",
        "lab1",
        "6.1.0-13-amd64",
    )
    snapshot = repository.record_host_snapshot(lab.db, "lab1", {"kernel_release": "6.1.0-13-amd64"})
    repository.start_run(lab.db, cell_ref, 1, snapshot)

    table = paper_table()

    assert value_text(table.cell(only_group(table), "bridge", "64")) == "pending"


def test_ratio_to_the_baseline_uses_the_cells_runs(paper: Lab):
    table = paper_table(baseline="loopback")
    group = only_group(table)
    bridge = table.cell(group, "bridge", "64")
    expected = ratio_of_means(BRIDGE_64, LOOPBACK_64)

    assert bridge.ratio == expected
    assert bridge.ratio.ratio == pytest.approx(statistics.fmean(BRIDGE_64) / 101.0)
    assert baseline_text(bridge, "loopback") == (
        f"0.50× loopback [{expected.low:.2f}, {expected.high:.2f}]"
    )
    assert table.cell(group, "loopback", "64").is_baseline
    assert baseline_text(table.cell(group, "loopback", "64"), "loopback") == "baseline"


def test_a_baseline_that_failed_gives_no_ratio_and_says_so(lab: Lab):
    lab.run("loopback", 64, RunStatus.FAILED, error="server did not start")
    lab.run("bridge", 64, mbps=50.0)
    lab.run("bridge", 64, mbps=52.0)

    table = paper_table(baseline="loopback")
    bridge = table.cell(only_group(table), "bridge", "64")

    assert bridge.ratio is None
    assert baseline_text(bridge, "loopback") == "no baseline: loopback failed"


def test_probe_is_traced_over_plain_throughput_per_cell(paper: Lab):
    table = paper_table(metric="probe")
    group = only_group(table)
    loopback = table.cell(group, "loopback", "64")

    assert loopback.ratio.ratio == pytest.approx(
        statistics.fmean(LOOPBACK_64_TRACED) / statistics.fmean(LOOPBACK_64)
    )
    assert loopback.ratio == ratio_of_means(LOOPBACK_64_TRACED, LOOPBACK_64)
    assert table.cell(group, "bridge", "64").ratio == ratio_of_means(BRIDGE_64_TRACED, BRIDGE_64)
    assert value_text(table.cell(group, "loopback", "1400")) == "no data"
    assert value_text(loopback).endswith("(n=4)")


def test_by_host_splits_and_otherwise_the_title_says_what_was_pooled(lab: Lab):
    for host, values in (("lab1", (10.0, 12.0)), ("lab2", (20.0, 22.0))):
        for value in values:
            lab.run("bridge", 64, host=host, mbps=value)

    pooled = paper_table()
    split = paper_table(by="host")

    assert dict(pooled.pooled) == {"host": ("lab1", "lab2")}
    assert only_group(pooled).cells[("bridge", "64")].n == 4
    assert [group.value for group in split.groups] == ["lab1", "lab2"]
    assert [group.cells[("bridge", "64")].summary.mean for group in split.groups] == [11.0, 21.0]
    assert split.pooled == {}


def test_a_campaign_where_everything_failed_shows_failed_everywhere(lab: Lab):
    for mode in ("loopback", "bridge"):
        for size in (64, 1400):
            lab.run(mode, size, RunStatus.FAILED, error="no route to host")

    table = paper_table(baseline="loopback")

    assert {
        value_text(table.cell(only_group(table), row, col))
        for row in table.rows
        for col in table.cols
    } == {"failed"}


def test_an_empty_campaign_is_a_user_error(lab: Lab):
    with pytest.raises(NetmatrixError, match="campaign paper has no runs yet"):
        paper_table()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"metric": "gbps"}, "--metric must be one of mbps, mbps_traced, msgs, p50, p99, probe"),
        ({"rows": "colour"}, "--rows must be one of mode, size, proto, host, kernel"),
        ({"rows": "size", "cols": "size"}, "must name different axes"),
        ({"metric": "probe", "baseline": "loopback"}, "--baseline does not apply"),
        ({"rows": "host", "baseline": "loopback"}, "put mode on --rows, --cols or --by"),
        ({"baseline": "bridge-user"}, "bridge-user is not a mode of campaign paper: it has"),
    ],
)
def test_senseless_tables_are_refused(paper: Lab, spec, message):
    with pytest.raises(NetmatrixError, match=message):
        paper_table(**spec)


def test_mode_may_sit_on_the_columns_with_the_baseline_there(paper: Lab):
    table = paper_table(rows="size", cols="mode", baseline="loopback")
    bridge = table.cell(only_group(table), "64", "bridge")

    assert bridge.ratio == ratio_of_means(BRIDGE_64, LOOPBACK_64)


def test_ftrace_probe_is_the_ftrace_pass_over_the_plain_throughput(lab: Lab):
    for plain, traced, ftraced in ((100.0, 90.0, 25.0), (110.0, 99.0, 30.0), (90.0, 80.0, 20.0)):
        lab.run("bridge", 1400, mbps=plain, traced=traced, ftraced=ftraced)
    lab.run("loopback", 1400, mbps=900.0, traced=850.0)  # a spec without ftrace: no ratio

    table = paper_table(metric="ftrace_probe")

    bridge = only_group(table).cells[("bridge", "1400")]
    expected = ratio_of_means([25.0, 30.0, 20.0], [100.0, 110.0, 90.0])
    assert bridge.ratio == expected and bridge.ratio.ratio == pytest.approx(0.25)
    assert only_group(table).cells[("loopback", "1400")].state == CellState.NO_DATA
