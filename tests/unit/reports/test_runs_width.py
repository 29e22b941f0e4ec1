"""`results.runs` on the real demo database at the width it is read in: whole values, the
columns a researcher reads first, the others named under the table, `--wide` for all."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.reports import queries
from orchestrator.reports.rows import field_text
from orchestrator.reports.runs_table import PRIORITY, Column, fit
from tests.unit.reports.test_demo_database import demo  # noqa: F401 - the fixture

from .conftest import run_task

ROOT = Path(__file__).resolve().parents[3]
KEY_COLUMNS = ("mode", "host", "kernel", "size", "repetition", "status", "mbps")
DEMO_RUNS = 40


def runs_at(width: int, monkeypatch: pytest.MonkeyPatch, capsys, *flags: str) -> list[str]:
    """The lines `results.runs` prints with COLUMNS=width."""
    monkeypatch.setenv("COLUMNS", str(width))
    assert run_task("results.runs", *flags) == 0
    return capsys.readouterr().out.splitlines()


def parts(lines: list[str]) -> tuple[str, list[str], str]:
    """The header line, the lines of the rows and the footer (empty when there is none)."""
    rule = next(i for i, line in enumerate(lines) if set(line) == {"─"})
    end = next((i for i, line in enumerate(lines) if line.startswith("left out: ")), len(lines))
    return lines[rule - 1], lines[rule + 1 : end], " ".join(lines[end:])


def header(lines: list[str]) -> list[str]:
    return parts(lines)[0].split()


def rows(lines: list[str]) -> list[list[str]]:
    return [line.split() for line in parts(lines)[1]]


def expected(columns: list[str]) -> list[list[str]]:
    """Each demo run's values as the table shows them, straight from the query."""
    return [[field_text(getattr(run, name)) for name in columns] for run in queries.runs(None)]


@pytest.mark.usefixtures("demo")
def test_at_80_columns_the_key_columns_show_whole_values_and_the_rest_are_named(
    monkeypatch, capsys
):
    lines = runs_at(80, monkeypatch, capsys)

    assert max(len(line) for line in lines) <= 80
    assert not any("…" in line for line in lines)
    shown = header(lines)
    assert set(KEY_COLUMNS) <= set(shown)
    assert shown == [name for name in queries.RUN_COLUMNS if name in shown]
    assert rows(lines) == expected(shown)
    assert len(rows(lines)) == DEMO_RUNS
    left_out = [name for name in queries.RUN_COLUMNS if name not in shown]
    assert parts(lines)[2] == f"left out: {', '.join(left_out)} (--wide shows all)"


@pytest.mark.usefixtures("demo")
def test_at_200_columns_more_columns_fit_and_the_error_is_whole_on_its_line(monkeypatch, capsys):
    narrow = header(runs_at(80, monkeypatch, capsys))
    lines = runs_at(200, monkeypatch, capsys)

    assert max(len(line) for line in lines) <= 200
    assert not any("…" in line for line in lines)
    shown = header(lines)
    assert set(narrow) < set(shown)
    assert {"mbps_traced", "events", "lost_events", "error"} <= set(shown)
    assert shown[-1] == "error"
    before = shown[:-1]
    assert [row[: len(before)] for row in rows(lines)] == expected(before)
    errors = [" ".join(row[len(before) :]) for row in rows(lines)]
    assert errors == [field_text(run.error) for run in queries.runs(None)]
    assert "ipvlan-l2: Error: Unknown device type." in errors


@pytest.mark.usefixtures("demo")
def test_wide_shows_every_column_at_full_width_whatever_the_terminal(monkeypatch, capsys):
    lines = runs_at(80, monkeypatch, capsys, "--wide")

    assert header(lines) == list(queries.RUN_COLUMNS)
    assert not any("…" in line or line.startswith("left out:") for line in lines)
    columns = list(queries.RUN_COLUMNS[:-1])
    assert [row[: len(columns)] for row in rows(lines)] == expected(columns)


@pytest.mark.usefixtures("demo")
def test_an_error_narrower_than_its_text_wraps_into_whole_words(monkeypatch, capsys):
    lines = runs_at(120, monkeypatch, capsys)

    assert max(len(line) for line in lines) <= 120
    head, body, _ = parts(lines)
    assert head.split()[-1] == "error"
    at = head.index("error")
    errors: list[str] = []
    for line in body:
        if line[:at].strip():
            errors.append(line[at:].strip())
        else:  # a wrapped error's next line
            errors[-1] += " " + line[at:].strip()
    assert len(body) > len(errors) == DEMO_RUNS
    assert errors == [field_text(run.error) for run in queries.runs(None)]


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.usefixtures("demo")
def test_csv_and_json_have_every_column_at_any_width(monkeypatch, capsys, fmt):
    out = "\n".join(runs_at(40, monkeypatch, capsys, "--format", fmt))

    records = list(csv.DictReader(io.StringIO(out))) if fmt == "csv" else json.loads(out)
    assert len(records) == DEMO_RUNS
    assert all(list(record) == list(queries.RUN_COLUMNS) for record in records)


@pytest.mark.usefixtures("demo")
def test_output_that_is_not_a_terminal_fits_80_columns():
    """What `make demo` sees: stdout a pipe, no COLUMNS."""
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    command = [sys.executable, "-m", "invoke", "results.runs"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)

    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert set(KEY_COLUMNS) <= set(header(lines))
    assert parts(lines)[2].endswith("(--wide shows all)")


def column(name: str, width: int, least: int | None = None) -> Column:
    return Column(name, width, width if least is None else least, numeric=False)


def widths(**overrides: int) -> list[Column]:
    """Every runs column 5 wide, the error wrappable down to 3, except the ones given."""
    return [
        column(name, overrides.get(name, 5), 3 if name == "error" else None)
        for name in queries.RUN_COLUMNS
    ]


def test_the_priority_names_every_runs_column_once():
    assert sorted(PRIORITY) == sorted(queries.RUN_COLUMNS)


def test_a_narrow_column_of_lower_priority_fills_the_room_a_wide_one_left():
    kept = fit(widths(kernel=30, host=30), 5 + 2 + 30 + 2 + 5)

    assert kept == {"mode": 5, "host": 30, "size": 5}


def test_the_first_column_stays_even_alone_too_wide():
    assert fit(widths(mode=50), 20) == {"mode": 50}


def test_the_error_takes_the_room_it_needs_down_to_its_narrowest():
    first_eight = 8 * 5 + 7 * 2
    assert fit(widths(error=40), first_eight + 2 + 30)["error"] == 30
    assert fit(widths(error=40), first_eight + 2 + 60)["error"] == 40
    assert "error" not in fit(widths(error=40), first_eight + 2 + 2)
