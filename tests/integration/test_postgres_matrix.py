"""`invoke matrix` on the provisioned Docker lab into a real PostgreSQL server, as a lab
pointed at a shared results server runs it: measured, resumed, rerun, reported, exported,
merged back and forth with SQLite, and two matrices at once.

The spec is the demo's, cut to what the checks need (loopback and bridge, one size). Stored
rows are read with psycopg directly, so these tests do not trust the code that writes them.
The server's password is a planted marker: the last test looks for it in everything the
tests made (outputs, result files, exports, report, figure, the server's log, a dump of the
database) and must not find it.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from tests.integration.lab_fixture import ProvisionedLab, invoke_in_background, run_invoke
from tests.integration.postgres import (
    MARKER_TEXT,
    Cluster,
    binaries,
    postgres_cluster_fixture,  # noqa: F401  (fixture)
)

SPEC = """\
name: pg-demo
baseline: loopback
axes: {mode: [loopback, bridge], size: [1400], proto: [tcp]}
repetitions: %d
duration: 500ms
warmup: 100ms
phases: [plain, traced]
trace: {perf: {events: ["net:*", "skb:*"], call_graph: fp, period: 101}}
"""
RUNS = 2 * 2  # modes × hosts, one repetition


@dataclass
class Shared:
    """One database on the server and a results directory, as one controller sees them;
    every output of every `invoke` the tests ran, for the password search."""

    lab: ProvisionedLab
    cluster: Cluster
    url: str
    results: Path
    spec: Path
    outputs: list[str] = field(default_factory=list)

    def invoke(self, *args: str, url: str | None = None, results: Path | None = None):
        done = run_invoke(
            {
                **self.lab.environ,
                "NETMATRIX_DB": url or self.url,
                "NETMATRIX_RESULTS": str(results or self.results),
            },
            *args,
            timeout=900,
        )
        self.outputs += [done.stdout, done.stderr]
        return done

    def matrix(self, *flags: str, hosts: str = "lab1,lab2", spec: Path | None = None):
        return (
            "matrix", "--hosts", hosts, "--spec", str(spec or self.spec),
            "--inventory", str(self.lab.inventory), *flags,
        )  # fmt: skip

    def query(self, sql: str, *params: object, url: str | None = None) -> list[tuple]:
        libpq = make_url(url or self.url).set(drivername="postgresql")
        with psycopg.connect(libpq.render_as_string(hide_password=False)) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def shared(
    provisioned_lab: ProvisionedLab, postgres_cluster: Cluster, tmp_path_factory
) -> Iterator[Shared]:
    root = tmp_path_factory.mktemp("pg-matrix")
    spec = root / "pg-demo.yml"
    spec.write_text(SPEC % 1)
    state = Shared(
        provisioned_lab, postgres_cluster, postgres_cluster.create_database("matrix"),
        root / "results", spec,
    )  # fmt: skip
    done = state.invoke(*state.matrix())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "MATRIX RECAP" in done.stdout
    yield state


def current_runs(shared: Shared, url: str | None = None) -> list[tuple]:
    return shared.query(
        "SELECT cell.mode, cell.host, run.repetition, run.status, run.error, run.id, run.kernel, "
        "cell.kernel, host_snapshot.kernel FROM run JOIN cell ON cell.id = run.cell_id "
        "JOIN host_snapshot ON host_snapshot.id = run.host_snapshot_id WHERE NOT run.superseded "
        "ORDER BY cell.mode, cell.host, run.repetition",
        url=url,
    )


def metric(shared: Shared, run_id: int, name: str) -> float | None:
    rows = shared.query("SELECT value FROM metric WHERE run_id = %s AND name = %s", run_id, name)
    return rows[0][0] if rows else None


def test_every_run_is_stored_ok_with_throughput_and_the_nodes_kernel(shared: Shared):
    kernels = {name: shared.lab.sudo(name, "uname -r").stdout.strip() for name in ("lab1", "lab2")}
    runs = current_runs(shared)
    assert len(runs) == RUNS
    for mode, host, repetition, status, error, run_id, kernel, cell_kernel, snapshot in runs:
        where = f"{mode}/{host}/rep{repetition}"
        assert status == "ok", f"{where}: {error}"
        assert metric(shared, run_id, "mbps/plain") > 0, where
        assert metric(shared, run_id, "mbps/traced") > 0, where
        assert metric(shared, run_id, "events") > 0, where
        assert kernel == cell_kernel == snapshot == kernels[host], where
    assert shared.query("SELECT count(*) FROM run") == [(RUNS,)]
    artifacts = shared.query("SELECT path FROM artifact")
    assert len(artifacts) >= RUNS * 4
    assert all((shared.results / path).is_file() for (path,) in artifacts)


def test_resume_does_nothing(shared: Shared):
    again = shared.invoke(*shared.matrix())
    assert again.returncode == 0, again.stderr
    assert f"0 runs to do, {RUNS} already done" in again.stdout
    assert shared.query("SELECT count(*) FROM run") == [(RUNS,)]


def test_rerun_adds_a_run_and_supersedes_the_earlier_one(shared: Shared):
    cell = "mode=bridge,size=1400,proto=tcp,host=lab1"
    before = shared.query(
        "SELECT run.id FROM run JOIN cell ON cell.id = run.cell_id WHERE cell.key = %s", cell
    )
    done = shared.invoke(
        "rerun", "--cell", "mode=bridge", "--hosts", "lab1", "--spec", str(shared.spec),
        "--inventory", str(shared.lab.inventory),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    rows = shared.query(
        "SELECT run.id, run.status, run.superseded, run.superseded_by FROM run "
        "JOIN cell ON cell.id = run.cell_id WHERE cell.key = %s ORDER BY run.id",
        cell,
    )
    old, new = rows
    assert [old[0]] == [run_id for (run_id,) in before]
    assert old[2] is True and new[1:3] == ("ok", False)
    assert len(current_runs(shared)) == RUNS


def test_results_tasks_on_postgresql(shared: Shared, tmp_path: Path):
    for args in [
        ("results.runs", "-f", "csv"),
        ("results.table", "--baseline", "loopback"),
        ("results.table", "-f", "latex"),
        ("results.diff", "--mode", "bridge"),
        ("results.functions", "--mode", "bridge"),
        ("results.plot", "--kind", "throughput", "--out", str(tmp_path / "throughput.png")),
        ("results.report", "--out", str(tmp_path / "report.html")),
        ("db.check",),
    ]:
        done = shared.invoke(*args)
        assert done.returncode == 0, (args, done.stderr)
    table = shared.invoke("results.table", "-f", "csv").stdout
    assert "bridge" in table and "loopback" in table
    counted = shared.invoke(
        "results.sql", "SELECT status, count(*) AS n FROM run GROUP BY status ORDER BY status",
        "-f", "csv",
    )  # fmt: skip
    assert counted.stdout.splitlines() == ["status,n", f"ok,{RUNS + 1}"]
    report = (tmp_path / "report.html").read_text()
    assert "pg-demo" in report and "br_handle_frame" in report
    assert (tmp_path / "throughput.png").stat().st_size > 10_000
    shared.outputs += [report, (tmp_path / "throughput.png").read_bytes().decode("latin-1")]


TABLES = ("runs.csv", "metrics.csv", "function_counts.csv", "event_counts.csv", "artifacts.csv")


def test_export_import_into_postgresql_and_back_into_sqlite_keeps_every_row(
    shared: Shared, tmp_path: Path
):
    first = tmp_path / "from-postgres"
    assert shared.invoke("results.export", "--out", str(first)).returncode == 0
    # That export is a SQLite database with its files: into a second database on the server…
    other = shared.cluster.create_database("merged")
    merged = tmp_path / "merged-results"
    imported = shared.invoke("results.import", str(first), url=other, results=merged)
    assert imported.returncode == 0, imported.stderr
    assert f"pg-demo: {RUNS + 1} run(s) added, 0 already here" in imported.stdout
    again = shared.invoke("results.import", str(first), url=other, results=merged)
    assert f"pg-demo: 0 run(s) added, {RUNS + 1} already here" in again.stdout
    second = tmp_path / "from-merged"
    assert shared.invoke("results.export", "--out", str(second), url=other).returncode == 0
    # …then out of it, into a SQLite database.
    sqlite = f"sqlite:///{tmp_path / 'back.db'}"
    back = tmp_path / "back-results"
    assert shared.invoke("results.import", str(second), url=sqlite, results=back).returncode == 0
    third = tmp_path / "from-sqlite"
    exported = shared.invoke("results.export", "--out", str(third), url=sqlite, results=back)
    assert exported.returncode == 0, exported.stderr

    for name in TABLES:
        assert (
            (first / name).read_text() == (second / name).read_text() == (third / name).read_text()
        ), name
    assert len((first / "runs.csv").read_text().splitlines()) == RUNS + 2
    for directory in (first, second, third):
        checked = subprocess.run(
            ["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=directory, capture_output=True
        )
        assert checked.returncode == 0, checked.stdout

    def stored(url: str | None) -> list[tuple]:  # without the row ids, which differ
        return [row[:5] + row[6:] for row in current_runs(shared, url=url)]

    assert stored(other) == stored(None)


def test_two_matrices_at_once_one_refused_on_a_busy_host_none_lost_resume_exact(
    shared: Shared, tmp_path: Path
):
    """Two controllers (own results directories) run one campaign into one database, one on
    lab1, one on lab2; a third that wants lab1 meanwhile is refused with the holder's name."""
    url = shared.cluster.create_database("two")
    spec = tmp_path / "pg-two.yml"
    spec.write_text((SPEC % 2).replace("pg-demo", "pg-two"))
    environ = {**shared.lab.environ, "NETMATRIX_DB": url}
    results = {host: tmp_path / f"results-{host}" for host in ("lab1", "lab2")}

    def start(host: str):
        return invoke_in_background(
            {**environ, "NETMATRIX_RESULTS": str(results[host])},
            *shared.matrix(hosts=host, spec=spec),
        )

    with start("lab1") as first, start("lab2") as second:
        first.read_until(lambda line: "runs to do" in line)
        busy = shared.invoke(*shared.matrix(hosts="lab1", spec=spec), url=url)
        first_output, second_output = first.finish(timeout=600), second.finish(timeout=600)
    shared.outputs += [first_output, second_output]
    assert first.returncode == 0, first_output[-3000:]
    assert second.returncode == 0, second_output[-3000:]
    assert busy.returncode == 2, busy.stdout + busy.stderr
    assert re.fullmatch(
        rf"error: another matrix \(netmatrix matrix pid {first.process.pid} on "
        rf"{re.escape(os.uname().nodename)}.*\) is running campaign pg-two on lab1 in "
        r"postgresql\+psycopg://netmatrix:\*\*\*@127\.0\.0\.1:\d+/two: wait for it to end or "
        r"stop it, then run this again",
        busy.stderr.strip(),
    ), busy.stderr

    runs = current_runs(shared, url=url)
    assert len(runs) == 2 * 2 * 2  # modes × hosts × repetitions
    assert {(mode, host, rep) for mode, host, rep, *_ in runs} == {
        (mode, host, rep) for mode in ("bridge", "loopback") for host in results for rep in (1, 2)
    }
    assert {status for _, _, _, status, *_ in runs} == {"ok"}
    assert shared.query("SELECT count(*) FROM run", url=url) == [(8,)]
    assert shared.query("SELECT count(*) FROM campaign", url=url) == [(1,)]

    started = time.monotonic()
    resumed = shared.invoke(*shared.matrix(spec=spec), url=url, results=results["lab1"])
    assert resumed.returncode == 0, resumed.stderr
    assert "0 runs to do, 8 already done" in resumed.stdout
    assert time.monotonic() - started < 120
    assert shared.query("SELECT count(*) FROM run", url=url) == [(8,)]


def test_the_password_is_nowhere(shared: Shared, tmp_path_factory):
    """Last in the module: every output so far, every file the tests wrote, the server's log
    and a dump of each database (the database's own tables)."""
    found = [index for index, text in enumerate(shared.outputs) if MARKER_TEXT in text]
    assert found == [], [shared.outputs[index][:500] for index in found]
    files = [
        path
        for path in Path(tmp_path_factory.getbasetemp()).rglob("*")
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 100_000_000
    ]
    assert len(files) > 50
    assert [path for path in files if MARKER_TEXT.encode() in path.read_bytes()] == []
    assert MARKER_TEXT not in shared.cluster.log.read_text()
    for database in ("matrix", "merged", "two"):
        dump = subprocess.run(
            [str(binaries() / "pg_dump"), "-h", str(shared.cluster.directory),
             "-p", str(shared.cluster.port), "-U", "postgres", database],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert "pg-demo" in dump or "pg-two" in dump
        assert MARKER_TEXT not in dump
