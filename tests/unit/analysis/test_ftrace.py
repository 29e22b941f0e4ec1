"""The function_graph parser on two real logs from someone else's machine; every expected
number is computed here from the text with plain string handling."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from orchestrator.analysis.ftrace import MARKERS, marker_for, parse_function_graph, parse_lines

from .conftest import FTRACE

LOGS = ("ftrace_bridge.log", "ftrace_ipvlan.log")
LINE = re.compile(r"^ (\d)\)([^|]*)\|\s+(.*)$")


def independent(name: str):
    """Calls per function and per CPU, markers and switches, by reading the columns."""
    calls: Counter[str] = Counter()
    cpus: Counter[int] = Counter()
    markers: Counter[str] = Counter()
    switches = 0
    for line in (FTRACE / name).read_text().splitlines():
        if "=>" in line:
            switches += 1
            continue
        match = LINE.match(line)
        if not match:
            continue
        body = match.group(3)
        if body.endswith("();") or body.endswith("() {"):
            calls[body.split()[0].removesuffix("();").removesuffix("()")] += 1
            cpus[int(match.group(1))] += 1
        duration = match.group(2).strip()
        if duration[:1] in MARKERS:
            markers[duration[0]] += 1
    return calls, cpus, markers, switches


@pytest.mark.parametrize("name", LOGS)
def test_counts_match_the_text(name):
    graph = parse_function_graph(FTRACE / name)
    calls, cpus, markers, switches = independent(name)
    table = graph.functions()
    assert {f: s.calls for f, s in table.items()} == dict(calls)
    assert Counter(c.cpu for c in graph.calls()) == cpus
    assert Counter(c.marker for c in graph.calls() if c.marker) == markers
    assert len(graph.switches) == switches
    assert graph.unreadable == 0 and graph.unmatched_closes == 0 and graph.unclosed == 0
    assert graph.comments == 4


def test_bridge_log_known_values():
    graph = parse_function_graph(FTRACE / "ftrace_bridge.log")
    first = graph.roots[0][0]
    assert (first.name, first.module, first.duration, first.marker) == (
        "br_handle_frame",
        "bridge",
        69.734,
        "+",
    )
    pre_routing = first.children[0]
    assert pre_routing.name == "br_nf_pre_routing" and pre_routing.module == "br_netfilter"
    assert pre_routing.duration == 65.097
    assert [c.name for c in pre_routing.children] == [
        "br_validate_ipv4.isra.0",
        "br_nf_pre_routing_finish",
    ]
    assert pre_routing.self_time == pytest.approx(65.097 - 0.274 - 46.374)
    push = next(c for c in first.walk() if c.name == "br_dev_queue_push_xmit")
    assert push.duration == 2.520 and push.self_time == pytest.approx(2.520 - 0.248)
    assert push.children[0].leaf and push.children[0].duration == 0.248
    assert push.depth == 11  # 24 blanks of indent after the column bar: (24 - 2) / 2
    table = graph.functions()
    assert table["br_handle_frame"].calls == 10
    assert table["br_handle_frame"].max == 84.932
    assert graph.cpus == [0, 2, 3]


def test_ipvlan_log():
    bridge = parse_function_graph(FTRACE / "ftrace_bridge.log")
    ipvlan = parse_function_graph(FTRACE / "ftrace_ipvlan.log")
    assert ipvlan.cpus == [0, 1, 2, 3]
    # the bridge log is a byte-exact prefix of the ipvlan log
    head = parse_lines((FTRACE / "ftrace_ipvlan.log").read_text().splitlines()[:363])
    assert {k: v.as_dict() for k, v in head.functions().items()} == {
        k: v.as_dict() for k, v in bridge.functions().items()
    }
    # the switch at line 365 in the ipvlan part
    switch = next(s for s in ipvlan.switches if s.line == 365)
    assert (switch.cpu, switch.previous, switch.next) == (3, "<idle>-0", "kworker-21975")
    after = next(c for c in ipvlan.calls() if c.line == 368)
    assert (after.name, after.duration, after.marker, after.task) == (
        "net_rx_action",
        24.548,
        "+",
        "kworker-21975",
    )
    # a parser reports what is there: no ipvlan function was traced
    assert not any(name.startswith("ipvlan") for name in ipvlan.functions())


@pytest.mark.parametrize(("name", "seen"), [(LOGS[0], {"+"}), (LOGS[1], {"+", "!"})])
def test_markers_agree_with_durations(name, seen):
    graph = parse_function_graph(FTRACE / name)
    timed = [c for c in graph.calls() if c.duration is not None]
    assert timed
    for call in timed:
        assert call.marker == marker_for(call.duration), (call.line, call.duration)
    assert {c.marker for c in timed} - {None} == seen


@pytest.mark.parametrize("name", LOGS)
def test_total_and_self_time(name):
    graph = parse_function_graph(FTRACE / name)
    table = graph.functions()
    for stats in table.values():
        assert stats.self_time <= stats.total + 1e-9
        assert stats.max is None or stats.max <= stats.total + 1e-9
    total = sum(c.duration for cpu in graph.roots.values() for c in cpu if c.duration)
    assert sum(s.self_time for s in table.values()) == pytest.approx(total)


def test_synthetic_variants():
    text = """\
# tracer: function_graph
 1)               |  outer() {
 0)               |  other [mod]() {
 1)   ==========> |
 1)               |    smp_apic_timer_interrupt() {
 1) ! 150.000 us  |    }
 1)   <========== |
 1)   1.000 us    |    /* trace_printk note */
 0) # 2000.000 us |  } /* other */
 1)               |    inner() {
 1)   2.000 us    |      leaf();
 1)   5.000 us    |    }
 1)   3.000 us    |  }
 2)   1.000 us    |  }
 3)               |  never_closed() {
 3)   4.000 us    |    child();
 0)    a-1    =>    b-2
 0)               |  b_call() {
 0)    b-2    =>    a-1
 0)   7.000 us    |  a_leaf();
 0)    a-1    =>    b-2
 0)   9.000 us    |  }
what is this
"""
    graph = parse_lines(text.splitlines())
    table = graph.functions()
    assert table["outer"].total == 3.0 and table["outer"].self_time == pytest.approx(3.0 - 150 - 5)
    assert table["other"].module == "mod" and table["other"].max == 2000.0
    assert table["inner"].self_time == 3.0
    assert table["b_call"].total == 9.0  # resumed after the switch back to b
    assert table["a_leaf"].calls == 1
    assert graph.interrupts == 2
    assert graph.unmatched_closes == 1
    assert graph.unclosed == 1
    assert graph.unreadable == 1
    assert len(graph.switches) == 3
    assert table["never_closed"].timed_calls == 0


def test_missing_file(tmp_path):
    from orchestrator.errors import NetmatrixError

    with pytest.raises(NetmatrixError):
        parse_function_graph(tmp_path / "none.log")
