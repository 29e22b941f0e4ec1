"""The table formats against golden files, and what each format must never lose."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.reports import queries
from orchestrator.reports.table_formats import latex_escape, render_table
from orchestrator.reports.tables import TableSpec, build_table
from tests.unit.reports.builders import Lab

GOLDEN = Path(__file__).parent / "golden"


def render(fmt: str, **spec: str) -> str:
    data = queries.load_campaign("paper", functions=False)
    return render_table(build_table("paper", data.runs, TableSpec(**spec)), fmt)


@pytest.mark.parametrize(
    ("fmt", "golden"),
    [("markdown", "paper.md"), ("csv", "paper.csv"), ("latex", "paper.tex")],
)
def test_formats_match_their_golden_files(paper: Lab, fmt, golden):
    assert render(fmt, baseline="loopback") == (GOLDEN / golden).read_text()


def test_latex_groups_by_kernel_under_booktabs_rules(paper: Lab):
    assert render("latex", metric="probe", by="kernel") == (GOLDEN / "paper-probe.tex").read_text()


def test_csv_holds_the_raw_numbers_and_each_cells_state(paper: Lab):
    rows = list(csv.DictReader(io.StringIO(render("csv", baseline="loopback"))))
    by_cell = {(row["mode"], row["size"]): row for row in rows}

    assert len(rows) == 10
    assert float(by_cell[("loopback", "64")]["mean"]) == 101.0
    assert by_cell[("ipvlan-l2", "64")]["state"] == "unsupported"
    assert by_cell[("ipvlan-l2", "64")]["mean"] == ""
    assert by_cell[("host", "1400")]["state"] == "not run"
    assert by_cell[("bridge", "64")]["ratio_to"] == "loopback"


def test_the_terminal_table_keeps_brackets_and_lists_the_messages(paper: Lab):
    text = render("table", baseline="loopback")

    assert "0.50× loopback [no CI]" in text
    assert "ipvlan-l2: unsupported: ipvlan-l2: Error: Unknown device type." in text
    assert "macvlan: failed: client exited 1" in text
    assert "pooled" not in text


def test_latex_escapes_what_it_prints():
    assert latex_escape("5.15.0-1_amd64 & 100% #1 {x} ~ ^ \\ ± × µs") == (
        r"5.15.0-1\_amd64 \& 100\% \#1 \{x\} \textasciitilde{} \textasciicircum{} "
        r"\textbackslash{} $\pm$ $\times$ $\mu$s"
    )


def test_an_unknown_format_is_a_user_error(paper: Lab):
    with pytest.raises(NetmatrixError, match="--format must be one of table, markdown, csv, latex"):
        render("html")
