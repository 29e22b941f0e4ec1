"""The ftrace reduction from the real function_graph logs of the published write-up: per
graphed function, the figures a reader could count and add up from the raw text."""

import re
from pathlib import Path

import pytest

from orchestrator.analysis.ftrace_reduce import (
    GraphedFunction,
    pass_counts,
    percentile,
    reduce_function_graph,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ftrace"
BRIDGE = FIXTURES / "ftrace_bridge.log"
IPVLAN = FIXTURES / "ftrace_ipvlan.log"


def entry_lines(log: Path, function: str) -> list[str]:
    """The raw lines where `function` is called (leaf `f();` or block `f() {`)."""
    entry = re.compile(rf"\|\s+{re.escape(function)}(?: \[[^\]]+\])?\(\)")
    return [line for line in log.read_text().splitlines() if entry.search(line)]


@pytest.mark.parametrize("log", [BRIDGE, IPVLAN], ids=["bridge", "ipvlan"])
@pytest.mark.parametrize(
    "function",
    [
        "br_dev_queue_push_xmit",
        "br_forward",
        "br_handle_frame",
        "br_fdb_find_rcu",
        "netif_receive_skb",
    ],
)
def test_calls_are_the_raw_entry_lines(log: Path, function: str) -> None:
    [reduced] = reduce_function_graph(log, [function])["functions"]
    assert reduced["calls"] == len(entry_lines(log, function)) > 0


def test_br_dev_queue_push_xmit_in_the_bridge_log() -> None:
    """Its first call in the log: 2.520 us, of which its one callee took 0.248 us."""
    [raw] = reduce_function_graph(BRIDGE, ["br_dev_queue_push_xmit"])["functions"]
    push = GraphedFunction.from_dict(raw)
    assert (push.status, push.calls, push.timed_calls) == ("ok", 8, 8)
    assert push.total_us == pytest.approx(push.mean_us * 8)
    assert push.p50_us <= push.p90_us <= push.p99_us
    [callee] = push.top_callees
    assert (callee.function, callee.calls) == ("br_switchdev_frame_set_offload_fwd_mark", 8)
    assert push.children_share == pytest.approx(callee.total_us / push.total_us, abs=1e-6)
    assert GraphedFunction.from_dict(push.as_dict()) == push


def test_a_function_not_in_the_trace_has_no_durations() -> None:
    """The write-up's ipvlan log holds no ipvlan_* function (its filter missed them)."""
    [ipvlan] = reduce_function_graph(IPVLAN, ["ipvlan_queue_xmit"])["functions"]
    assert (ipvlan["status"], ipvlan["calls"], ipvlan["mean_us"], ipvlan["top_callees"]) == (
        "ok",
        0,
        None,
        [],
    )


def test_percentiles_interpolate_between_ranks_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert [percentile(values, q) for q in (0, 50, 90, 99, 100)] == pytest.approx(
        [1.0, 3.0, 7.6, 9.76, 10.0]
    )
    assert percentile([5.0], 99) == 5.0


def test_overrun_and_lost_are_summed_over_cpus_commit_overrun_apart() -> None:
    stats = (
        "entries: 10\noverrun: 3\ncommit overrun: 100\ndropped events: 1\nread events: 0\n"
        "entries: 5\noverrun: 4\ncommit overrun: 0\ndropped events: 0\n"
    )
    assert pass_counts(stats) == {"overrun": 7, "lost": 1, "entries": 15}
