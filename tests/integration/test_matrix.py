"""The demo matrix end to end on the provisioned Docker lab: measured, traced, stored.

One real run of `playbooks/demo.yml` (loopback, host, bridge, macvlan, ipvlan-l2 × 64/1400
bytes × 2 repetitions on lab1 and lab2) feeds most tests here; resume, rerun and Ctrl-C each
run the real `invoke` on top of it. The database is read with sqlite3 directly, so these
tests do not trust the code that writes it.
"""

from __future__ import annotations

import hashlib
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.experiment.run import leftovers
from tests.integration.lab_fixture import (
    REPO_ROOT,
    ProvisionedLab,
    invoke_in_background,
    run_invoke,
)

DEMO = "playbooks/demo.yml"
MEASURED_MODES = ("loopback", "host", "bridge", "macvlan")
BRIDGE_PATH = {"br_handle_frame", "br_forward_finish", "veth_xmit"}


@dataclass(frozen=True)
class Results:
    """Where one test's matrix keeps its database and artifacts."""

    directory: Path

    @property
    def database(self) -> Path:
        return self.directory / "netmatrix.db"

    @property
    def environ(self) -> dict[str, str]:
        return {
            "NETMATRIX_DB": f"sqlite:///{self.database}",
            "NETMATRIX_RESULTS": str(self.directory),
        }

    def query(self, sql: str, *params: object) -> list[tuple]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            return db.execute(sql, params).fetchall()


def invoke(lab: ProvisionedLab, results: Results, *args: str) -> subprocess.CompletedProcess:
    """`invoke <args>` against the lab, with this test's results directory."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO_ROOT,
        env={**lab.environ, **results.environ},
        capture_output=True,
        text=True,
        timeout=1200,
    )


def demo_matrix(lab: ProvisionedLab) -> tuple[str, ...]:
    return ("matrix", "--hosts", "lab1,lab2", "--spec", DEMO, "--inventory", str(lab.inventory))


@pytest.fixture(scope="module")
def demo(provisioned_lab: ProvisionedLab, tmp_path_factory) -> Iterator[Results]:
    results = Results(tmp_path_factory.mktemp("demo-results"))
    done = invoke(provisioned_lab, results, *demo_matrix(provisioned_lab))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "MATRIX RECAP" in done.stdout
    yield results


def kernel_has_ipvlan(lab: ProvisionedLab) -> bool:
    """Ask the node's kernel itself, so the expectation holds on any kernel."""
    probe = lab.sudo(
        "lab1", "ip link add nmtipv0 link eth0 type ipvlan mode l2 && ip link del nmtipv0"
    )
    return probe.ok


def current_runs(results: Results) -> list[tuple]:
    return results.query(
        "SELECT cell.mode, cell.size, cell.host, run.repetition, run.status, run.error, run.id "
        "FROM run JOIN cell ON cell.id = run.cell_id WHERE NOT run.superseded"
    )


def metric(results: Results, run_id: int, name: str) -> float | None:
    rows = results.query("SELECT value FROM metric WHERE run_id = ? AND name = ?", run_id, name)
    return rows[0][0] if rows else None


def functions(results: Results, mode: str) -> set[str]:
    rows = results.query(
        "SELECT DISTINCT f.function FROM function_count f JOIN run ON run.id = f.run_id "
        "JOIN cell ON cell.id = run.cell_id WHERE cell.mode = ? AND run.status = 'ok'",
        mode,
    )
    return {function for (function,) in rows}


def test_every_supported_cell_is_measured_with_throughput(demo: Results):
    runs = current_runs(demo)
    assert len(runs) == 5 * 2 * 2 * 2  # modes × sizes × hosts × repetitions
    for mode, size, host, repetition, status, error, run_id in runs:
        if mode not in MEASURED_MODES:
            continue
        where = f"{mode}/{size}/{host}/rep{repetition}"
        assert status == "ok", f"{where}: {error}"
        assert metric(demo, run_id, "mbps/plain") > 0, where
        assert metric(demo, run_id, "mbps/traced") > 0, where
        assert metric(demo, run_id, "events") > 0, where


def test_ipvlan_follows_what_the_kernel_answers(demo: Results, provisioned_lab):
    ipvlan = [run for run in current_runs(demo) if run[0] == "ipvlan-l2"]
    assert len(ipvlan) == 8
    if kernel_has_ipvlan(provisioned_lab):
        assert {run[4] for run in ipvlan} == {"ok"}
    else:
        for run in ipvlan:
            assert run[4] == "unsupported"
            assert run[5].startswith("ipvlan-l2: ")  # then the kernel's or Docker's words
            assert "Unknown device type" in run[5] or "not supported" in run[5]


def test_bridge_stacks_hold_the_bridge_path_and_loopback_stacks_do_not(demo: Results):
    assert functions(demo, "bridge") >= BRIDGE_PATH
    assert not BRIDGE_PATH & functions(demo, "loopback")
    assert "macvlan_start_xmit" in functions(demo, "macvlan")


def test_every_artifact_exists_with_its_recorded_checksum(demo: Results):
    ok_runs = {run[6] for run in current_runs(demo) if run[4] == "ok"}
    artifacts = demo.query("SELECT run_id, path, sha256, bytes, kind FROM artifact")
    assert ok_runs <= {run_id for run_id, *_ in artifacts}
    kinds = {kind for *_, kind in artifacts}
    assert {"client-plain", "client-traced", "server", "reduction", "folded"} <= kinds
    for _, path, sha256, size, _ in artifacts:
        data = (demo.directory / path).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (sha256, size), path


def test_database_passes_its_integrity_check(demo: Results, provisioned_lab):
    checked = invoke(provisioned_lab, demo, "db.check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "results database ok" in checked.stdout


def test_results_diff_names_the_bridge_path(demo: Results, provisioned_lab):
    done = invoke(provisioned_lab, demo, "results.diff", "--mode", "bridge", "--format", "json")
    assert done.returncode == 0, done.stderr
    diff = json.loads(done.stdout)
    extra = {item["function"] for item in diff["extra"]}
    assert extra >= BRIDGE_PATH
    assert "loopback_xmit" not in extra
    assert [item["samples"] for item in diff["extra"]] == sorted(
        (item["samples"] for item in diff["extra"]), reverse=True
    )


def test_resume_skips_every_run_already_done(demo: Results, provisioned_lab):
    started = time.monotonic()
    again = invoke(provisioned_lab, demo, *demo_matrix(provisioned_lab))
    assert again.returncode == 0, again.stderr
    assert "0 runs to do, 40 already done" in again.stdout
    assert time.monotonic() - started < 60


def test_rerun_adds_runs_and_supersedes_the_earlier_ones(demo: Results, provisioned_lab):
    cell = "mode=bridge,size=1400,proto=tcp,host=lab1"
    before = demo.query(
        "SELECT run.id FROM run JOIN cell ON cell.id = run.cell_id WHERE cell.key = ?", cell
    )
    done = invoke(
        provisioned_lab, demo, "rerun", "--cell", "mode=bridge,size=1400", "--hosts", "lab1",
        "--spec", DEMO, "--repetitions", "1", "--inventory", str(provisioned_lab.inventory),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    rows = demo.query(
        "SELECT run.id, run.status, run.superseded, run.repetition FROM run "
        "JOIN cell ON cell.id = run.cell_id WHERE cell.key = ? ORDER BY run.id",
        cell,
    )
    old = [row for row in rows if row[0] in {r for (r,) in before}]
    new = [row for row in rows if row[0] not in {r for (r,) in before}]
    assert len(old) == 2 and all(row[2] for row in old)  # both earlier runs superseded
    assert len(new) == 1 and new[0][1:] == ("ok", 0, 1)


INTERRUPTIBLE = """\
name: interrupt-me
baseline: bridge
axes: {mode: [bridge], size: [1400], proto: [tcp]}
repetitions: 3
duration: 4s
warmup: 0s
phases: [plain, traced]
trace: {perf: {events: ["net:*", "skb:*"], call_graph: fp, period: 100}}
"""


def test_ctrl_c_tears_down_marks_interrupted_and_resume_redoes_only_the_missing(
    provisioned_lab: ProvisionedLab, tmp_path: Path
):
    results = Results(tmp_path)
    spec = tmp_path / "interrupt.yml"
    spec.write_text(INTERRUPTIBLE)
    args = ("matrix", "--hosts", "lab1,lab2", "--spec", str(spec),
            "--inventory", str(provisioned_lab.inventory))  # fmt: skip
    environ = {**provisioned_lab.environ, **results.environ}
    with invoke_in_background(environ, *args) as matrix:
        # One run finished, the next one is recording: interrupt inside the traced phase.
        matrix.read_until(
            lambda line: (
                any(x.startswith("ok:") for x in matrix.seen)
                and re.search(r"rep=\d traced$", line) is not None
            )
        )
        time.sleep(1.0)
        matrix.process.send_signal(signal.SIGINT)
        output = matrix.finish(timeout=180)
    assert matrix.returncode == 130, output[-3000:]

    for name in provisioned_lab.names:
        conn = provisioned_lab.connect(name)
        try:
            left = leftovers(conn)
            processes = conn.run(["ps", "-eo", "pid,ppid,stat,etime,args"]).stdout if left else ""
            assert left == [], f"{name} kept {left} of the interrupted run:\n{processes}"
        finally:
            conn.close()
    statuses = [status for (status,) in results.query("SELECT status FROM run")]
    assert statuses.count("interrupted") == 1 and statuses.count("running") == 0
    ok_before = statuses.count("ok")
    with sqlite3.connect(results.database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    resumed = run_invoke(environ, *args, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert f"{6 - ok_before} runs to do, {ok_before} already done" in resumed.stdout
    current = results.query("SELECT status FROM run WHERE NOT superseded")
    assert sorted(status for (status,) in current) == ["ok"] * 6
