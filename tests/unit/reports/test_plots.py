"""Figures from the synthetic campaign: the series drawn, what is written instead of missing
numbers, and files that are the same bytes every time."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure

from orchestrator.analysis.stats import ratio_of_means
from orchestrator.errors import NetmatrixError
from orchestrator.reports import queries
from orchestrator.reports.figures import make_figure
from orchestrator.reports.plots import figure_bytes, save_figure
from tests.unit.reports.builders import (
    BRIDGE_64,
    BRIDGE_64_TRACED,
    LOOPBACK_64,
    LOOPBACK_64_TRACED,
    LOOPBACK_1400,
    MACVLAN_1400,
    Lab,
)


def figure(kind: str, **options: object) -> Figure:
    return make_figure(queries.load_campaign("paper"), kind, **options)  # type: ignore[arg-type]


def texts(fig: Figure) -> list[str]:
    return [text.get_text() for axes in fig.axes for text in axes.texts]


def test_throughput_has_one_line_per_measured_mode_with_error_bars(paper: Lab):
    (axes,) = figure("throughput").axes
    lines = {
        container.get_label(): container
        for container in axes.containers
        if isinstance(container, ErrorbarContainer)
    }

    assert list(lines) == ["loopback (n=3–4)", "host (n=2)", "bridge (n=1–4)", "macvlan (n=2)"]
    loopback = lines["loopback (n=3–4)"].lines[0]
    assert list(loopback.get_xdata()) == [64, 1400]
    assert list(loopback.get_ydata()) == [
        pytest.approx(statistics.fmean(LOOPBACK_64)),
        pytest.approx(statistics.fmean(LOOPBACK_1400)),
    ]
    macvlan = lines["macvlan (n=2)"].lines[0]
    assert (list(macvlan.get_xdata()), list(macvlan.get_ydata())) == (
        [1400],
        [pytest.approx(statistics.fmean(MACVLAN_1400))],
    )
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert "ipvlan-l2: unsupported, not shown" in legend
    assert axes.get_title() == "kernel 6.1.0-13-amd64"


def test_overhead_bars_are_ratios_to_the_baseline_and_gaps_are_labelled(paper: Lab):
    fig = figure("overhead")
    (axes,) = fig.axes
    bars = [c for c in axes.containers if isinstance(c, BarContainer)]

    assert [bar.get_label() for bar in bars] == ["size 64", "size 1400"]
    assert [patch.get_height() for patch in bars[0].patches] == [
        pytest.approx(ratio_of_means((95.0, 99.0), LOOPBACK_64).ratio),
        pytest.approx(ratio_of_means(BRIDGE_64, LOOPBACK_64).ratio),
    ]
    assert [tick.get_text() for tick in axes.get_xticklabels()] == [
        "host",
        "bridge",
        "macvlan",
        "ipvlan-l2",
    ]
    assert sorted(texts(fig)) == sorted(
        ["failed", "unsupported", "not run", "no CI", "unsupported"]
    )


def test_probe_bars_are_traced_over_plain(paper: Lab):
    (axes,) = figure("probe").axes
    bars = [c for c in axes.containers if isinstance(c, BarContainer)]

    assert [patch.get_height() for patch in bars[0].patches] == [
        pytest.approx(ratio_of_means(LOOPBACK_64_TRACED, LOOPBACK_64).ratio),
        pytest.approx(ratio_of_means(BRIDGE_64_TRACED, BRIDGE_64).ratio),
    ]
    assert [patch.get_height() for patch in bars[1].patches] == []


def test_the_functions_heatmap_shows_what_each_mode_adds_over_the_baseline(paper: Lab):
    fig = figure("functions")
    heatmap = fig.axes[0]
    (image,) = heatmap.get_images()

    modes = [tick.get_text() for tick in heatmap.get_xticklabels()]
    functions = [tick.get_text() for tick in heatmap.get_yticklabels()]
    assert modes == ["bridge", "macvlan"]
    assert functions == ["veth_xmit", "br_handle_frame", "br_forward_finish", "macvlan_start_xmit"]
    grid = image.get_array()
    assert grid.shape == (4, 2)
    assert grid[0, 0] == pytest.approx(70.0)  # veth_xmit in 700 of bridge's 1000 records
    assert grid[3, 1] == pytest.approx(80.0)
    assert grid.mask[3, 0]  # bridge's stacks lack macvlan_start_xmit: no number
    assert "(no traces: host, ipvlan-l2)" in heatmap.get_title()
    assert "–" in texts(fig)


def test_the_functions_heatmap_needs_traced_modes(lab: Lab):
    lab.run("loopback", 64, mbps=10.0)
    lab.run("bridge", 64, mbps=5.0)

    with pytest.raises(NetmatrixError, match="no function that a mode adds over the baseline"):
        figure("functions")


@pytest.mark.parametrize("kind", ["throughput", "overhead", "functions", "probe"])
@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_figures_are_the_same_bytes_every_time(paper: Lab, kind, fmt):
    first = figure_bytes(figure(kind), fmt)
    second = figure_bytes(figure(kind), fmt)

    assert first == second
    assert len(first) > 5000
    for dated in (b"CreationDate", b"<dc:date>", b"Software", b"Matplotlib v"):
        assert dated not in first


def test_save_figure_picks_the_format_from_the_suffix(paper: Lab, tmp_path: Path):
    written = save_figure(figure("throughput"), tmp_path / "fig" / "throughput.PDF")

    assert written.read_bytes().startswith(b"%PDF-")
    with pytest.raises(NetmatrixError, match=r"--out must end in .png, .pdf or .svg"):
        save_figure(figure("throughput"), tmp_path / "throughput.jpg")


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("pie", {}, "--kind must be one of throughput, overhead, functions, probe"),
        ("throughput", {"metric": "probe"}, "--metric probe is a ratio: use --kind probe"),
        ("functions", {"top": 0}, "--top must be at least 1"),
    ],
)
def test_bad_figure_requests_are_user_errors(paper: Lab, kind, options, message):
    with pytest.raises(NetmatrixError, match=message):
        figure(kind, **options)
