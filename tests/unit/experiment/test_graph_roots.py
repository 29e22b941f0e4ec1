"""The graph roots checked before any run: the real check script reads a listing shaped like
the kernel's `available_filter_functions`, and the matrix stops with one line naming the
roots a host's kernel cannot trace."""

from __future__ import annotations

import dataclasses
import shlex
import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.experiment.context import LabHost
from orchestrator.experiment.graph_roots import check_argv, check_graph_roots, modules_for
from orchestrator.host import Host
from tests.fakes import FakeConnection
from tests.unit.experiment.test_run_ftrace import SPEC_FTRACE

LISTING = "br_dev_queue_push_xmit\nmacvlan_start_xmit [macvlan]\ntcp_sendmsg\n"
KERNEL = "6.1.0-28-amd64"
WITH_GRAPH = {"tracers": ["function_graph", "function", "nop"]}


def run_check(argv: list[str], listing: Path) -> tuple[int, str, str]:
    """The check script itself, with no modules to load, reading `listing` for the kernel's."""
    _, _, script, name, _, roots, _ = argv
    done = subprocess.run(
        ["sh", "-c", script, name, "", roots, str(listing)], capture_output=True, text=True
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def listing(tmp_path: Path) -> Path:
    path = tmp_path / "available_filter_functions"
    path.write_text(LISTING)
    return path


def test_the_script_prints_only_the_absent_names_with_module_lines_counted(listing: Path):
    argv = check_argv(["macvlan"], ["br_dev_queue_push_xmit", "macvlan_start_xmit", "no_such"])
    assert run_check(argv, listing) == (0, "no_such\n", "")


def test_a_kernel_without_the_listing_is_left_to_its_runs(tmp_path: Path):
    argv = check_argv([], ["anything"])
    assert run_check(argv, tmp_path / "absent") == (0, "netmatrix-no-filter-list\n", "")


def test_the_modes_modules_are_loaded_first():
    assert modules_for(["loopback", "bridge", "macvlan"]) == ("bridge", "macvlan", "veth")
    assert modules_for(["loopback"]) == ()


def fake_host(name: str, listing: Path, calls: list[str]) -> FakeConnection:
    def answer(text: str) -> tuple[int, str, str]:
        calls.append(text)
        return run_check(shlex.split(text), listing)

    conn = FakeConnection(Host(name)).on(r"^sh -c 'set -f", answer)
    return conn


def spec_with(roots: tuple[str, ...], mode: tuple[str, ...] = ("loopback", "macvlan")):
    ftrace = dataclasses.replace(SPEC_FTRACE.trace.ftrace, graph_functions=roots)
    trace = dataclasses.replace(SPEC_FTRACE.trace, ftrace=ftrace)
    axes = dataclasses.replace(SPEC_FTRACE.axes, mode=mode)
    return dataclasses.replace(SPEC_FTRACE, trace=trace, axes=axes, phases=("plain", "traced"))


def test_an_unknown_root_stops_the_matrix_naming_it_the_host_and_the_kernel(listing: Path):
    calls: list[str] = []
    lab = [LabHost(Host(name), WITH_GRAPH, KERNEL) for name in ("lab1", "lab2")]
    spec = spec_with(("macvlan_start_xmit", "br_dev_xmit_typo"))
    with pytest.raises(NetmatrixError) as refused:
        check_graph_roots(lab, spec, lambda host, **_: fake_host(host.name, listing, calls))
    message = str(refused.value)
    assert "\n" not in message
    assert message == "; ".join(
        f"{name}: trace.ftrace.graph_functions: br_dev_xmit_typo not traceable on kernel "
        f"{KERNEL} (not in available_filter_functions with macvlan, veth modules loaded)"
        for name in ("lab1", "lab2")
    )
    assert [shlex.split(call)[4] for call in calls] == ["macvlan veth"] * 2


def test_known_roots_pass_and_kernels_without_function_graph_are_not_asked(listing: Path):
    calls: list[str] = []
    lab = [
        LabHost(Host("vm"), WITH_GRAPH, KERNEL),
        LabHost(Host("container"), {"tracers": ["function", "nop"]}, KERNEL),
    ]
    spec = spec_with(("br_dev_queue_push_xmit", "macvlan_start_xmit"))
    check_graph_roots(lab, spec, lambda host, **_: fake_host(host.name, listing, calls))
    assert len(calls) == 1


def test_a_spec_without_a_traced_phase_asks_nothing(listing: Path):
    calls: list[str] = []
    spec = dataclasses.replace(spec_with(("no_such",)), phases=("plain",))
    lab = [LabHost(Host("vm"), WITH_GRAPH, KERNEL)]
    check_graph_roots(lab, spec, lambda host, **_: fake_host(host.name, listing, calls))
    assert calls == []
