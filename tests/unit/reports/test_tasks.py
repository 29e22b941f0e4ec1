"""The results tasks through invoke's Program: output, files, and one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.db import repository
from orchestrator.reports.summary import demo_summary
from tests.unit.reports.builders import Lab

from .conftest import run_task

GOLDEN = Path(__file__).parent / "golden"


def test_table_prints_the_format_asked_for(paper: Lab, capsys):
    assert run_task("results.table", "--baseline", "loopback", "--format", "markdown") == 0
    assert capsys.readouterr().out == (GOLDEN / "paper.md").read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--metric", "gbps"), "--metric must be one of mbps, mbps_traced, msgs, p50, p99, probe"),
        (("--format", "html"), "--format must be one of table, markdown, csv, latex"),
        (("--campaign", "nope"), "no campaign named nope; the database has: paper"),
        (("--baseline", "ipvlan-l3"), "--baseline ipvlan-l3 is not a mode of campaign paper"),
    ],
)
def test_table_refuses_bad_requests_in_one_line(paper: Lab, capsys, argv, message):
    assert run_task("results.table", *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}")
    assert err.count("\n") == 1


def test_table_of_an_empty_campaign_is_a_user_error(lab: Lab, capsys):
    assert run_task("results.table") == 2
    assert capsys.readouterr().err == "error: campaign paper has no runs yet\n"


def test_plot_writes_the_file_it_names(paper: Lab, tmp_path: Path, capsys):
    out = tmp_path / "figures" / "overhead.svg"

    assert run_task("results.plot", "--kind", "overhead", "--out", str(out)) == 0

    assert capsys.readouterr().out == f"{out}\n"
    assert out.read_text().startswith("<?xml")


def test_functions_ranks_a_modes_functions_per_kernel(paper: Lab, capsys):
    assert run_task("results.functions", "--mode", "bridge", "--top", "3", "--format", "json") == 0

    assert json.loads(capsys.readouterr().out) == [
        {
            "kernel": "6.1.0-13-amd64",
            "rank": 1,
            "function": "tcp_sendmsg",
            "samples": 4000,
            "percent": 100.0,
        },
        {
            "kernel": "6.1.0-13-amd64",
            "rank": 2,
            "function": "veth_xmit",
            "samples": 2800,
            "percent": 70.0,
        },
        {
            "kernel": "6.1.0-13-amd64",
            "rank": 3,
            "function": "br_handle_frame",
            "samples": 2400,
            "percent": 60.0,
        },
    ]


def test_functions_of_an_untraced_mode_name_the_traced_ones(paper: Lab, capsys):
    assert run_task("results.functions", "--mode", "host") == 2
    assert capsys.readouterr().err == (
        "error: no ok traced runs of mode host; modes with traces: bridge, loopback, macvlan\n"
    )


def test_demo_summary_prints_the_table_and_writes_the_figures(paper: Lab, tmp_path: Path, capsys):
    written = demo_summary("paper", tmp_path / "figures")

    assert written == [
        tmp_path / "figures" / "throughput.png",
        tmp_path / "figures" / "functions.png",
    ]
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in written)
    out = capsys.readouterr().out
    assert "0.50× loopback [0.43, 0.58]" in out
    assert "kernel 6.1.0-13-amd64" in out


def test_the_baseline_comes_from_the_spec_unless_it_cannot_be_read(lab: Lab, tmp_path, capsys):
    broken = repository.get_or_create_campaign(lab.db, "broken", "name: [", "e" * 64, "0.1", None)
    Lab(lab.db, broken, lab.results).run("bridge", 64, mbps=1.0)

    assert run_task("results.plot", "--kind", "overhead", "--out", str(tmp_path / "o.png")) == 2
    assert capsys.readouterr().err.startswith("error: pass --baseline: spec of campaign broken")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("results.runs", "--format", "xml"), "--format must be one of table, json, csv, not"),
        (("results.diff", "--mode", "bridge", "--factor", "big"), "--factor must be a number"),
        (("results.diff", "--mode", "bridge", "--factor", "nan"), "--factor must be at least 1"),
        (("results.diff", "--mode", "bridge", "--format", "csv"), "--format must be one of table"),
        (("results.table", "--format", "html"), "--format must be one of table, markdown, csv"),
        (("results.plot", "--kind", "pie", "--out", "x.png"), "--kind must be one of throughput"),
        (("results.plot", "--kind", "probe", "--out", "x.png", "--metric", "gbps"), "--metric"),
        (("results.plot", "--kind", "functions", "--out", "x.png", "--top", "x"), "--top must be"),
        (("results.functions", "--mode", "bridge", "--top", "0"), "--top: 0 is out of range"),
        (("results.functions", "--mode", "bridge", "--format", "svg"), "--format must be one of"),
        (("results.sql", "SELECT 1", "--format", "xml"), "--format must be one of table, json"),
    ],
)
def test_flags_are_checked_before_the_database_is_opened(
    tmp_path: Path, monkeypatch, capsys, argv, message
):
    missing = tmp_path / "none" / "netmatrix.db"
    monkeypatch.setenv("NETMATRIX_DB", f"sqlite:///{missing}")

    assert run_task(*argv) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert not missing.parent.exists()


def test_the_default_flags_still_work(paper: Lab, tmp_path: Path, capsys):
    assert run_task("results.diff", "--mode", "bridge", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["extra"]
    assert run_task("results.functions", "--mode", "bridge", "--format", "csv") == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 5  # all five, under the default 20
    assert run_task("results.functions", "--mode", "bridge", "--format", "csv", "--top", "2") == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 2
    out = tmp_path / "functions.png"
    assert run_task("results.plot", "--kind", "functions", "--out", str(out)) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
