"""`results.report`: one self-contained page with provenance, tables, figures and diffs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.analysis.ftrace_reduce import GraphedFunction
from orchestrator.db import repository
from orchestrator.reports import queries
from orchestrator.reports.html import render_report
from tests.unit.db.builders import add_ftrace
from tests.unit.db.test_ftrace_rows import NO_TRACER, reduced
from tests.unit.reports.builders import Lab

from .conftest import run_task


@pytest.fixture
def page(paper: Lab) -> str:
    return render_report(queries.load_campaign("paper"))


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_page_carries_the_provenance_of_the_numbers(page: str):
    text = text_of(page)

    assert "spec sha256 " + "b" * 64 in text
    assert "git commit abc1234" in text
    assert "lab1 6.1.0-13-amd64 Debian GNU/Linux 12 2 1987 20.10.24+dfsg1 6.1.55" in text
    assert "current runs 3 failed, 16 ok, 2 unsupported" in text
    assert "baseline: loopback" in text  # the spec, printed as run


def test_the_figures_are_embedded(page: str):
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)

    assert len(images) == 4
    assert all(len(image) > 10000 for image in images)
    assert "http" not in page.replace("http-equiv", "")


# What a reader looks for: the tables (missing cells named) and each mode's function diff.
PHRASES = (
    "101 ± 13 (n=4) baseline",
    "50.5 ± 6.7 (n=4) 0.50× loopback [0.43, 0.58]",
    "ipvlan-l2: unsupported: ipvlan-l2: Error: Unknown device type.",
    "Throughput while tracing / without",
    "bridge against loopback (4000 records against 4000)",
    "Only in bridge (4) function records veth_xmit 2800 br_handle_frame 2400",
    "Only in loopback (2) function records loopback_xmit 3600 ksys_read 16",
    "host against loopback (0 records against 4000) host: no ok traced runs",
    "ipvlan-l2: no ok traced runs (runs are unsupported)",
)


def test_the_page_has_the_tables_and_the_function_diffs(page: str):
    text = text_of(page)

    assert [phrase for phrase in PHRASES if phrase not in text] == []


def test_the_page_is_the_same_every_time_and_escapes_the_spec(lab: Lab):
    campaign = repository.get_or_create_campaign(
        lab.db, "odd", "name: odd\n# <script>alert(1)</script>\n", "d" * 64, "0.1.0", None
    )
    Lab(lab.db, campaign, lab.results).run("loopback", 64, mbps=1.0)

    first = render_report(queries.load_campaign("odd"), "loopback")

    assert first == render_report(queries.load_campaign("odd"), "loopback")
    assert "&lt;script&gt;" in first
    assert "<script>" not in first
    assert "Not drawn: no function that a mode adds over the baseline" in first


def test_the_task_writes_the_page(paper: Lab, tmp_path: Path, capsys):
    out = tmp_path / "site" / "report.html"

    assert run_task("results.report", "--out", str(out)) == 0

    assert capsys.readouterr().out == f"{out}\n"
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert run_task("results.report", "--out", str(tmp_path / "report.pdf")) == 2
    assert capsys.readouterr().err == "error: --out must end in .html, not 'report.pdf'\n"


def test_the_ftrace_section_tables_each_graphed_function_or_says_there_is_none(
    paper: Lab, page: str
):
    assert "No run of this campaign recorded ftrace" in text_of(page)
    campaign = repository.find_campaign(paper.db, "paper")
    runs = repository.current_run_values(paper.db, campaign)
    bridge = [run.run_id for run in runs if run.mode == "bridge" and run.status == "ok"]
    macvlan = [run.run_id for run in runs if run.mode == "macvlan" and run.status == "ok"]
    for run_id in bridge:
        add_ftrace(paper.db, run_id, reduced("br_dev_queue_push_xmit"))
    for run_id in macvlan:
        add_ftrace(
            paper.db, run_id, [GraphedFunction("br_dev_queue_push_xmit", "unsupported", NO_TRACER)]
        )
    text = text_of(render_report(queries.load_campaign("paper")))
    section = text[
        text.index("ftrace: graphed functions") : text.index("Kernel functions per mode")
    ]
    assert "br_dev_queue_push_xmit" in section
    [figures] = reduced("br_dev_queue_push_xmit")
    assert f"bridge {figures.mean_us:.2f} ± 0.00 (n={len(bridge)})" in section
    assert f"macvlan: unsupported: {NO_TRACER}" in section
