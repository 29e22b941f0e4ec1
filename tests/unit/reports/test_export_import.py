"""`results.export` and `results.import`: a published campaign checks out, merges into a fresh
database with the same tables, and merging is idempotent and refuses to mix specs."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from orchestrator.analysis.ftrace_reduce import GraphedFunction
from orchestrator.db import repository
from orchestrator.db.models import Artifact, Base, Run, RunStatus
from orchestrator.db.session import Database, open_database
from tests.unit.db.builders import add_ftrace
from tests.unit.db.test_ftrace_rows import NO_TRACER, reduced
from tests.unit.reports.builders import SPEC, Lab

from .conftest import run_task

TABLES = (
    ("results.table", "--baseline", "loopback", "--format", "latex"),
    ("results.table", "--metric", "probe", "--by", "kernel", "--format", "csv"),
    ("results.table", "--rows", "size", "--cols", "mode", "--format", "markdown"),
)


def row_counts(url: str) -> dict[str, int]:
    with open_database(url) as db, db.transaction() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }


def outputs(capsys: pytest.CaptureFixture[str]) -> list[str]:
    printed = []
    for argv in TABLES:
        assert run_task(*argv) == 0
        printed.append(capsys.readouterr().out)
    return printed


@pytest.fixture
def exported(paper: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "published"
    assert run_task("results.export", "--out", str(out), "--results", str(paper.results)) == 0
    files = [path for path in out.rglob("*") if path.is_file()]
    assert capsys.readouterr().out == f"{out}: {len(files)} files, checksums in SHA256SUMS\n"
    return out


def test_export_writes_data_spec_hosts_artifacts_and_a_checked_manifest(exported: Path):
    listed = {}
    for line in (exported / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    files = {
        path.relative_to(exported).as_posix()
        for path in exported.rglob("*")
        if path.is_file() and path.name != "SHA256SUMS"
    }

    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((exported / name).read_bytes()).hexdigest() == digest
    assert {
        "campaign.json",
        "spec.yml",
        "hosts.json",
        "runs.csv",
        "metrics.csv",
        "function_counts.csv",
        "event_counts.csv",
        "device_counts.csv",
        "artifacts.csv",
        "netmatrix.db",
    } <= files
    assert (exported / "spec.yml").read_text() == SPEC
    assert json.loads((exported / "campaign.json").read_text())["git_commit"] == "abc1234"
    (host,) = json.loads((exported / "hosts.json").read_text())
    assert host["facts"]["tracers"] == ["function_graph", "nop"]
    runs = list(csv.DictReader((exported / "runs.csv").open()))
    assert len(runs) == 21
    assert {run["status"] for run in runs} == {"ok", "failed", "unsupported"}
    artifacts = list(csv.DictReader((exported / "artifacts.csv").open()))
    assert len(artifacts) == sum(run["status"] == "ok" for run in runs)
    assert all(artifact["path"] in files for artifact in artifacts)


def test_export_then_import_into_a_fresh_database_gives_the_same_tables(
    exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    before = outputs(capsys)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("NETMATRIX_DB", fresh)

    code = run_task("results.import", str(exported), "--results", str(tmp_path / "fresh-results"))

    assert code == 0
    assert capsys.readouterr().out == (
        "paper: 21 run(s) added, 0 already here, 0 newly superseded\n"
        "artifacts: 16 copied, 0 already here, 0 not copied\n"
    )
    assert outputs(capsys) == before
    assert len(list((tmp_path / "fresh-results" / "artifacts").rglob("client.json"))) == 16


def test_importing_twice_adds_nothing(
    exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("NETMATRIX_DB", fresh)
    target = str(tmp_path / "fresh-results")
    assert run_task("results.import", str(exported), "--results", target) == 0
    once = row_counts(fresh)
    capsys.readouterr()

    assert run_task("results.import", str(exported / "netmatrix.db"), "--results", target) == 0

    assert row_counts(fresh) == once
    assert capsys.readouterr().out == (
        "paper: 0 run(s) added, 21 already here, 0 newly superseded\n"
        "artifacts: 0 copied, 0 already here, 0 not copied\n"
    )


def test_a_run_superseded_on_the_other_side_becomes_superseded_here(
    paper: Lab, tmp_path: Path, url: str
):
    copy = tmp_path / "other.db"
    with sqlite3.connect(url.removeprefix("sqlite:///")) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with open_database(f"sqlite:///{copy}") as other:
        with other.transaction() as session:
            session.execute(update(Run).where(Run.id == 1).values(superseded=True))
        dump = repository.dump_campaign(other, repository.find_campaign(other, "paper"))

    result = repository.import_campaign(paper.db, dump)
    again = repository.import_campaign(paper.db, dump)

    assert (result.added, result.known, result.superseded) == ((), 21, 1)
    assert again.superseded == 0
    with paper.db.transaction() as session:
        assert session.scalar(select(Run.superseded).where(Run.id == 1))


def test_a_campaign_with_the_same_name_and_another_spec_is_reported_not_merged(
    exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    with open_database(fresh) as db:
        repository.get_or_create_campaign(db, "paper", "name: paper\n", "c" * 64, "0.1.0", None)
    monkeypatch.setenv("NETMATRIX_DB", fresh)
    target = str(tmp_path / "fresh-results")

    assert run_task("results.import", str(exported), "--results", target) == 2

    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "paper: not imported (conflicting spec)",
        "artifacts: 0 copied, 0 already here, 0 not copied",
        f"conflict: campaign paper: spec {'b' * 12} to import, spec {'c' * 12} here",
    ]
    assert err == "error: 1 conflict(s), listed above, kept out of this database\n"
    assert row_counts(fresh)["run"] == 0

    assert run_task("results.import", str(exported), "--results", target, "--keep-both") == 0
    assert row_counts(fresh)["run"] == 21
    assert row_counts(fresh)["campaign"] == 2


def test_a_cell_measured_on_another_kernel_keeps_its_runs_out(paper: Lab, tmp_path: Path):
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    with open_database(other_url) as other:
        campaign = repository.get_or_create_campaign(
            other, "paper", SPEC, paper.campaign.spec_hash, "0.1.0", None
        )
        snapshot = repository.record_host_snapshot(other, "lab1", {"kernel_release": "5.10.0"})
        key = "mode=bridge,size=64,proto=tcp,host=lab1"
        cell = repository.get_or_create_cell(
            other, campaign, key, "bridge", 64, "tcp", "lab1", "5.10.0"
        )
        run_id = repository.start_run(other, cell, 9, snapshot)
        repository.finish_run(other, run_id, RunStatus.FAILED, error="x")
        dump = repository.dump_campaign(other, campaign)

    result = repository.import_campaign(paper.db, dump)

    assert result.added == ()
    assert result.conflicts == (
        f"cell {key} of campaign paper: kernel 5.10.0 to import, 6.1.0-13-amd64 here "
        f"(run {run_id} not imported)",
    )


def test_export_refuses_a_used_directory_and_a_changed_artifact(
    paper: Lab, tmp_path: Path, db: Database, capsys
):
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("x")
    assert run_task("results.export", "--out", str(used), "--results", str(paper.results)) == 2
    assert "exists and is not an empty directory" in capsys.readouterr().err

    with db.transaction() as session:
        path = session.scalars(select(Artifact.path)).first()
    (paper.results / path).write_text("tampered\n")
    out = tmp_path / "new"
    assert run_task("results.export", "--out", str(out), "--results", str(paper.results)) == 2
    assert capsys.readouterr().err == (
        "error: 1 artifact(s) of campaign paper cannot be exported, "
        f"first: {path}: its sha256 differs from the database's\n"
    )
    assert not out.exists()


def test_import_refuses_paths_that_leave_the_results_directory(
    lab: Lab, tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, capsys
):
    run_id = lab.run("bridge", 64, mbps=1.0)
    with lab.db.transaction() as session:
        session.execute(update(Artifact).values(path="../../outside.json"))
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("NETMATRIX_DB", fresh)

    assert (
        run_task(
            "results.import", url.removeprefix("sqlite:///"), "--results", str(tmp_path / "in")
        )
        == 0
    )

    assert capsys.readouterr().out.splitlines()[1:] == [
        "artifacts: 0 copied, 0 already here, 1 not copied",
        "artifact not copied: ../../outside.json: refused, the path leaves the results directory",
    ]
    assert not (tmp_path / "outside.json").exists()
    assert row_counts(fresh)["run"] == 1
    assert run_id


def test_import_refuses_nothing_to_read_and_the_database_itself(
    paper: Lab, url: str, tmp_path: Path, capsys
):
    assert run_task("results.import", str(tmp_path / "nowhere")) == 2
    assert capsys.readouterr().err == f"error: no netmatrix database at {tmp_path / 'nowhere'}\n"
    database = url.removeprefix("sqlite:///")
    assert run_task("results.import", database) == 2
    assert capsys.readouterr().err == (
        f"error: {database} is this very database: nothing to import\n"
    )


def test_ftrace_figures_travel_with_their_runs(
    paper: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    campaign = repository.find_campaign(paper.db, "paper")
    [first, second, *_] = [run.run_id for run in repository.current_run_values(paper.db, campaign)]
    add_ftrace(paper.db, first, reduced("br_dev_queue_push_xmit", "br_forward"))
    add_ftrace(
        paper.db, second, [GraphedFunction("br_dev_queue_push_xmit", "unsupported", NO_TRACER)]
    )
    stored = repository.campaign_ftrace(paper.db, campaign)
    out = tmp_path / "published"
    assert run_task("results.export", "--out", str(out), "--results", str(paper.results)) == 0
    rows = list(csv.DictReader((out / "ftrace_functions.csv").open()))
    assert [(row["run_id"], row["function"], row["status"]) for row in rows] == [
        (first, "br_dev_queue_push_xmit", "ok"),
        (first, "br_forward", "ok"),
        (second, "br_dev_queue_push_xmit", "unsupported"),
    ]
    assert int(rows[0]["calls"]) == stored[first]["br_dev_queue_push_xmit"].calls > 0
    monkeypatch.setenv("NETMATRIX_DB", f"sqlite:///{tmp_path / 'fresh.db'}")
    capsys.readouterr()
    assert run_task("results.import", str(out), "--results", str(tmp_path / "in")) == 0
    with open_database() as fresh:
        imported = repository.campaign_ftrace(fresh, repository.find_campaign(fresh, "paper"))
    assert imported == stored
