"""ftrace function_graph on the libvirt VM lab, whose Debian kernels have the tracer: one
bridge run and one macvlan run (and loopback, the spec's baseline), each run's stored figures
checked against the raw trace it kept (the calls counted in the text here), and the tracer
left as the VM had it; a root the kernel lacks stops the matrix before any run, naming it.
One repetition each keeps the suite lean under TCG; ftrace's cost with
intervals is measured by `bench/ftrace_cost.py` on its own spec.

Uses the session's `vm_lab` (tests/integration/vm_lab.py), so no second lab boots.
"""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from tests.integration.lab_fixture import ProvisionedLab
from tests.integration.test_matrix import Results
from tests.integration.test_vm_lab import matrix, write_spec
from tests.unit.analysis.test_ftrace_reduce import entry_lines

pytestmark = pytest.mark.integration

TRACEFS = "/sys/kernel/tracing"
ROOTS = {"bridge": "br_dev_queue_push_xmit", "macvlan": "macvlan_start_xmit"}


def tracer_state(lab: ProvisionedLab) -> str:
    state = lab.sudo(
        "lab1", f"cat {TRACEFS}/current_tracer {TRACEFS}/tracing_on {TRACEFS}/set_graph_function"
    )
    assert state.ok, state.stderr
    return state.stdout


@pytest.fixture(scope="module")
def traced(vm_lab: ProvisionedLab, tmp_path_factory) -> tuple[Results, str, str]:
    """loopback, bridge and macvlan, one repetition each with ftrace, raw traces kept."""
    root = tmp_path_factory.mktemp("vm-ftrace")
    results = Results(root / "results")
    spec = write_spec(
        root / "ftrace.yml",
        f"""
axes: {{mode: [loopback, bridge, macvlan], size: [1400], proto: [tcp]}}
repetitions: 1
phases: [plain, traced]
trace:
  perf: {{period: 101}}
  ftrace: {{graph_functions: [{", ".join(ROOTS.values())}], buffer_size_kb: 8192}}
""",
    )
    before = tracer_state(vm_lab)
    done = matrix(vm_lab, results, spec, "lab1", "--keep-script")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return results, before, tracer_state(vm_lab)


def stored(results: Results, mode: str) -> dict[str, dict[str, tuple]]:
    """Run global id -> graphed function -> (status, error, calls, timed, mean, p99)."""
    rows = results.query(
        "SELECT run.global_id, f.function, f.status, f.error, f.calls, f.timed_calls, "
        "f.mean_us, f.p99_us FROM ftrace_function f JOIN run ON run.id = f.run_id "
        "JOIN cell ON cell.id = run.cell_id WHERE cell.mode = ? AND run.status = 'ok'",
        mode,
    )
    found: dict[str, dict[str, tuple]] = {}
    for run_id, function, *figures in rows:
        found.setdefault(run_id, {})[function] = tuple(figures)
    return found


def raw_trace(results: Results, mode: str, run_id: str, tmp_path: Path) -> Path:
    [kept] = (results.directory / "artifacts").glob(
        f"vm/mode={mode},*/rep-*/{run_id}/ftrace.txt.xz"
    )
    text = tmp_path / f"{run_id}.ftrace.txt"
    text.write_bytes(lzma.decompress(kept.read_bytes()))
    return text


@pytest.mark.parametrize("mode", list(ROOTS))
def test_the_stored_calls_are_the_raw_traces(traced, mode: str, tmp_path: Path) -> None:
    results, _, _ = traced
    function = ROOTS[mode]
    runs = stored(results, mode)
    assert len(runs) == 1
    for run_id, functions in runs.items():
        status, error, calls, timed, mean_us, p99_us = functions[function]
        assert (status, error) == ("ok", None)
        raw = raw_trace(results, mode, run_id, tmp_path)
        assert calls == len(entry_lines(raw, function)) > 0
        assert 0 < timed <= calls
        assert 0 < mean_us <= p99_us


def test_a_root_the_mode_does_not_call_is_traced_and_empty(traced) -> None:
    """In the bridge run macvlan_start_xmit is never called. The matrix loaded the macvlan
    module before any run (to check the roots), so the kernel took the root all the same."""
    results, _, _ = traced
    for functions in stored(results, "bridge").values():
        assert functions["macvlan_start_xmit"][:3] == ("ok", None, 0)


def test_a_root_the_kernel_lacks_is_one_line_before_any_run(vm_lab, tmp_path: Path) -> None:
    results = Results(tmp_path / "results")
    spec = write_spec(
        tmp_path / "typo.yml",
        """
axes: {mode: [loopback, macvlan], size: [1400], proto: [tcp]}
repetitions: 1
phases: [plain, traced]
trace: {ftrace: {graph_functions: [macvlan_start_xmit, br_dev_queue_push_xmt]}}
""",
    )
    done = matrix(vm_lab, results, spec, "lab1")
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    [line] = done.stderr.strip().splitlines()
    kernel = vm_lab.sudo("lab1", ["uname", "-r"]).stdout.strip()
    assert line == (
        f"error: lab1: trace.ftrace.graph_functions: br_dev_queue_push_xmt not traceable on "
        f"kernel {kernel} (not in available_filter_functions with macvlan, veth modules loaded)"
    )
    assert not results.database.exists()  # refused before the database was opened


def test_the_ftrace_pass_has_its_own_throughput_next_to_perfs(traced) -> None:
    results, _, _ = traced
    rows = results.query(
        "SELECT cell.mode, metric.name, metric.value FROM metric "
        "JOIN run ON run.id = metric.run_id JOIN cell ON cell.id = run.cell_id "
        "WHERE metric.name IN ('mbps/plain', 'mbps/traced', 'mbps/ftrace')"
    )
    assert len(rows) == 3 * 1 * 3  # modes × repetitions × passes
    assert all(value > 0 for _, _, value in rows)


def test_the_tracer_is_left_as_the_vm_had_it(traced) -> None:
    _, before, after = traced
    assert after == before
    assert after.splitlines()[0] == "nop"
