"""ftrace on a Docker-provider node, through `invoke matrix`: the node shares this machine's
kernel, whose tracers the node itself is asked for. Where function_graph is missing (this
machine's cloud kernel: `blk function nop`) the ftrace part is `unsupported` with the
kernel's words in every row while the run and its perf part stay ok; where the kernel has it,
the bridge run's figures are stored. Either way the tracer is left as it was found."""

from __future__ import annotations

import json

import pytest

from orchestrator.experiment.run import leftovers
from tests.integration.lab_fixture import ProvisionedLab
from tests.integration.test_matrix import Results, invoke

TRACEFS = "/sys/kernel/tracing"
GRAPHED = ("br_dev_queue_push_xmit", "macvlan_start_xmit")
SPEC = f"""name: ftrace-docker
baseline: loopback
axes: {{mode: [loopback, bridge], size: [1400], proto: [tcp]}}
repetitions: 1
duration: 1s
warmup: 0.2s
trace:
  perf: {{period: 101}}
  ftrace: {{graph_functions: [{", ".join(GRAPHED)}], buffer_size_kb: 1024}}
"""


def tracer_state(lab: ProvisionedLab) -> str:
    """What the node's kernel says about its tracer (tracefs mounted first, as a run does)."""
    done = lab.sudo(
        "lab1",
        f"mountpoint -q {TRACEFS} || mount -t tracefs nodev {TRACEFS}; "
        f"cat {TRACEFS}/available_tracers {TRACEFS}/current_tracer {TRACEFS}/tracing_on",
    )
    assert done.ok, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def matrix(provisioned_lab: ProvisionedLab, tmp_path_factory) -> tuple[Results, str, str]:
    """The spec run once on lab1; returns the results and the tracer state before and after."""
    results = Results(tmp_path_factory.mktemp("ftrace-docker"))
    spec = results.directory / "spec.yml"
    spec.write_text(SPEC)
    before = tracer_state(provisioned_lab)
    done = invoke(
        provisioned_lab,
        results,
        *("matrix", "--hosts", "lab1", "--spec", str(spec)),
        *("--inventory", str(provisioned_lab.inventory)),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return results, before, tracer_state(provisioned_lab)


def test_ftrace_follows_what_the_nodes_kernel_offers(matrix) -> None:
    results, before, _ = matrix
    rows = results.query(
        "SELECT cell.mode, run.status, f.function, f.status, f.error, f.calls FROM run "
        "JOIN cell ON cell.id = run.cell_id JOIN ftrace_function f ON f.run_id = run.id "
        "ORDER BY cell.id, f.function",
    )
    assert [(mode, function) for mode, _, function, *_ in rows] == [
        (mode, function) for mode in ("loopback", "bridge") for function in sorted(GRAPHED)
    ]
    assert {run_status for _, run_status, *_ in rows} == {"ok"}
    tracers = before.splitlines()[0]
    if "function_graph" in tracers.split():
        calls = {(mode, function): calls for mode, _, function, _, _, calls in rows}
        assert calls[("bridge", "br_dev_queue_push_xmit")] > 0
    else:
        for _, _, _, status, error, calls in rows:
            assert status == "unsupported"
            assert error == (
                f"the kernel has no function_graph tracer (available_tracers: {tracers})"
            )
            assert calls == 0


def test_the_perf_part_is_measured_all_the_same(matrix) -> None:
    results, _, _ = matrix
    metrics = results.query(
        "SELECT cell.mode, metric.name, metric.value FROM metric "
        "JOIN run ON run.id = metric.run_id JOIN cell ON cell.id = run.cell_id "
        "WHERE metric.name IN ('mbps/plain', 'mbps/traced', 'events')",
    )
    assert len(metrics) == 2 * 3
    assert all(value > 0 for _, _, value in metrics)


def test_the_tracer_is_left_as_it_was_found(matrix, provisioned_lab: ProvisionedLab) -> None:
    _, before, after = matrix
    assert after == before
    conn = provisioned_lab.connect("lab1")
    try:
        assert list(leftovers(conn)) == []
    finally:
        conn.close()


def test_the_runs_and_latency_tables_show_the_ftrace_part(
    matrix, provisioned_lab: ProvisionedLab
) -> None:
    results, before, _ = matrix
    expected = "ok" if "function_graph" in before.splitlines()[0].split() else "unsupported"
    listed = invoke(provisioned_lab, results, "results.runs", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert {(row["status"], row["ftrace"]) for row in json.loads(listed.stdout)} == {
        ("ok", expected)
    }
    latency = invoke(
        provisioned_lab, results, "results.latency", "--function", "br_dev_queue_push_xmit"
    )
    assert latency.returncode == 0, latency.stderr
    if expected == "unsupported":
        assert "no function_graph tracer" in latency.stdout
