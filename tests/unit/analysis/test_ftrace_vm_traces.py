"""The ftrace reduction from function_graph text recorded by netmatrix itself, in the libvirt
VM lab (Debian 12, kernel 6.1.0-50-amd64, under QEMU's emulation): the bridge run's
`br_dev_queue_push_xmit` and the macvlan run's `macvlan_start_xmit`, each the graph's root.

The expected figures are worked out here from the raw text, independently of the reducer: a
root called at the top of a graph is either a leaf line with its duration (`f();`) or a block
(`f() {`) whose duration is on the first top-level `}` of the same CPU after it. The traces
hold what a parser must survive in a real recording: module annotations (`[bridge]`),
`+`/`!` duration markers, timer interrupts inside the roots, and context-switch banners.
"""

from __future__ import annotations

import lzma
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.analysis.ftrace_reduce import reduce_function_graph
from tests.unit.analysis.test_ftrace_reduce import entry_lines

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ftrace"
TRACES = {
    "br_dev_queue_push_xmit": FIXTURES / "vm_bridge.ftrace.txt.xz",
    "macvlan_start_xmit": FIXTURES / "vm_macvlan.ftrace.txt.xz",
}
# CPU, duration (blank on a block's opening line), then the bar and the graph's indentation.
_PREFIX = r"^\s*(\d+)\)\s+(?:[+!#*@$]\s*)?(?:([\d.]+) us\s+)?\|"
_TOP = re.compile(_PREFIX + r"  (\S.*)$")
_DIRECT_CALL = re.compile(_PREFIX + r"    (\w+)(?: \[\w+\])?\(\)")


@dataclass(frozen=True)
class Counted:
    calls: int
    durations: list[float]


def count_top_level(text: str, function: str) -> Counted:
    """Calls of `function` at the top of a graph, and their durations, read off the text."""
    leaf = re.compile(rf"{function}(?: \[\w+\])?\(\);$")
    block = re.compile(rf"{function}(?: \[\w+\])?\(\) \{{$")
    calls, durations, open_on = 0, [], set()
    for line in text.splitlines():
        found = _TOP.match(line)  # two spaces after the bar: the top of a graph
        if not found:
            continue
        cpu, duration, body = found.groups()
        if leaf.match(body):
            calls += 1
            durations.append(float(duration))
        elif block.match(body):
            calls += 1
            open_on.add(cpu)
        elif body.startswith("}") and cpu in open_on:
            durations.append(float(duration))
            open_on.remove(cpu)
    return Counted(calls, durations)


@pytest.fixture(params=list(TRACES), ids=["bridge", "macvlan"])
def recorded(request, tmp_path: Path) -> tuple[str, Path, Path]:
    """(root, the .xz as fetched from the VM, its text unpacked here)."""
    packed = TRACES[request.param]
    text = tmp_path / "ftrace.txt"
    text.write_bytes(lzma.decompress(packed.read_bytes()))
    return request.param, packed, text


def test_the_roots_are_written_with_their_module(recorded) -> None:
    function, _, text = recorded
    lines = entry_lines(text, function)
    assert len(lines) > 500
    assert all("[bridge]()" in line or "[macvlan]()" in line for line in lines)


def test_calls_and_durations_are_what_the_raw_text_holds(recorded) -> None:
    function, packed, text = recorded
    counted = count_top_level(text.read_text(), function)
    [reduced] = reduce_function_graph(packed, [function])["functions"]  # read as .xz
    assert reduced["status"] == "ok"
    assert reduced["calls"] == counted.calls == len(entry_lines(text, function))
    assert reduced["timed_calls"] == len(counted.durations) > 0
    assert reduced["total_us"] == pytest.approx(sum(counted.durations), abs=1e-3)
    assert reduced["mean_us"] == pytest.approx(statistics.fmean(counted.durations), abs=1e-5)
    cuts = statistics.quantiles(counted.durations, n=100, method="inclusive")
    assert reduced["p50_us"] == pytest.approx(cuts[49], abs=1e-5)
    assert reduced["p90_us"] == pytest.approx(cuts[89], abs=1e-5)
    assert reduced["p99_us"] == pytest.approx(cuts[98], abs=1e-5)


def test_the_top_callees_are_the_roots_direct_calls_in_the_text(recorded) -> None:
    """Every line one level under the top is a direct call of the root (the graph filter
    holds only the root), timer interrupts that landed in it included."""
    function, packed, text = recorded
    counted: dict[str, int] = {}
    for line in text.read_text().splitlines():
        found = _DIRECT_CALL.match(line)
        if found:
            counted[found[3]] = counted.get(found[3], 0) + 1
    [reduced] = reduce_function_graph(packed, [function])["functions"]
    callees = {callee["function"]: callee["calls"] for callee in reduced["top_callees"]}
    assert callees == {name: counted[name] for name in callees}
    assert "__sysvec_apic_timer_interrupt" in callees
    assert 0 < reduced["children_share"] < 1
