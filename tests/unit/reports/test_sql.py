"""`results.sql`: the user's SQL on a database that refuses writes, and the five queries of
docs/results.md, run on the synthetic campaign."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

from orchestrator.db.session import Database
from orchestrator.reports import queries
from tests.unit.reports.builders import BRIDGE_64, LOOPBACK_64, LOOPBACK_1400, Lab

from .conftest import run_task

DOCS = Path(__file__).resolve().parents[3] / "docs" / "results.md"


def documented_queries() -> list[str]:
    return [
        query.replace("'demo'", "'paper'")
        for query in re.findall(r"```sql\n(.*?)```", DOCS.read_text(), re.DOTALL)
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM run",
        "UPDATE run SET status = 'ok'",
        "DROP TABLE metric",
        "PRAGMA query_only = 0",
    ],
)
def test_writes_are_refused_with_one_line_and_exit_2(
    paper: Lab, capsys: pytest.CaptureFixture[str], statement
):
    assert run_task("results.sql", statement) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert queries.sql("SELECT count(*) AS runs FROM run").rows == ({"runs": 21},)


def test_rows_come_out_as_json_with_repeated_column_names_kept(
    paper: Lab, capsys: pytest.CaptureFixture[str]
):
    statement = "SELECT c.mode, c.id, r.id FROM run r JOIN cell c ON c.id = r.cell_id LIMIT 1"

    assert run_task("results.sql", statement, "--format", "json") == 0

    (row,) = json.loads(capsys.readouterr().out)
    assert list(row) == ["mode", "id", "id_2"]


def test_a_query_without_rows_still_names_its_columns(paper: Lab, capsys):
    assert run_task("results.sql", "SELECT mode FROM cell WHERE 0", "--format", "csv") == 0
    assert capsys.readouterr().out == "mode\n"


def test_the_docs_have_six_queries():
    """Five on the runs, the sixth on ftrace (its test is in test_latency)."""
    assert len(documented_queries()) == 6


def test_query_1_throughput_per_mode_and_size(paper: Lab):
    rows = queries.sql(documented_queries()[0]).rows
    found = {(row["mode"], row["size"]): (row["n"], row["mbps"]) for row in rows}

    assert found[("loopback", 64)] == (4, round(statistics.fmean(LOOPBACK_64), 1))
    assert found[("loopback", 1400)] == (3, round(statistics.fmean(LOOPBACK_1400), 1))
    assert ("ipvlan-l2", 64) not in found


def test_query_2_overhead_against_the_baseline(paper: Lab):
    rows = queries.sql(documented_queries()[1]).rows
    found = {(row["mode"], row["size"]): row["ratio_to_loopback"] for row in rows}

    assert found[("bridge", 64)] == round(statistics.fmean(BRIDGE_64) / 101.0, 3)
    assert found[("loopback", 64)] == 1.0


def test_query_3_functions_unique_to_a_mode(paper: Lab):
    rows = queries.sql(documented_queries()[2]).rows

    assert [row["function"] for row in rows] == [
        "veth_xmit",
        "br_handle_frame",
        "br_forward_finish",
        "unix_stream_read_generic",
    ]
    assert rows[0]["samples"] == 4 * 700


def test_query_4_runs_with_lost_trace_events(paper: Lab):
    rows = queries.sql(documented_queries()[3]).rows

    assert [(row["cell"], row["lost_events"], row["lost_percent"]) for row in rows] == [
        ("mode=bridge,size=64,proto=tcp,host=lab1", 36, round(100 * 36 / 1036, 2)),
        ("mode=bridge,size=64,proto=tcp,host=lab1", 24, round(100 * 24 / 1024, 2)),
        ("mode=bridge,size=64,proto=tcp,host=lab1", 12, round(100 * 12 / 1012, 2)),
    ]


def test_query_5_provenance_of_every_number(paper: Lab, db: Database):
    rows = queries.sql(documented_queries()[4]).rows
    first = rows[0]

    assert first["campaign"] == "paper"
    assert first["git_commit"] == "abc1234"
    assert first["kernel"] == "6.1.0-13-amd64"
    assert first["docker_version"] == "20.10.24+dfsg1"
    assert first["artifacts"] == 1
    ok_metrics = queries.sql(
        "SELECT count(*) AS n FROM metric m JOIN run r ON r.id = m.run_id WHERE r.status = 'ok'"
    ).rows[0]["n"]
    assert len(rows) == ok_metrics
