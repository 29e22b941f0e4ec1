"""trace.summary and trace.diff, checked against counts made independently from the text."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from orchestrator.analysis.diff import FunctionCounts, diff_functions, function_counts
from orchestrator.analysis.perfscript import ParseStats, read_records
from orchestrator.analysis.summary import length_bucket, summarize

from .conftest import PERF, trace_bytes

BRIDGE_PATH = [
    "br_handle_frame",
    "br_nf_pre_routing",
    "br_forward_finish",
    "br_dev_queue_push_xmit",
    "veth_xmit",
]


def blocks(name: str) -> list[list[str]]:
    return [b.splitlines() for b in trace_bytes(name).decode().split("\n\n") if b.strip()]


def test_summary_matches_plain_counts():
    stats = ParseStats()
    summary = summarize(read_records(PERF / "bridge-64.perf.txt.xz", stats), stats)
    records = blocks("bridge-64")
    headers = [b[0] for b in records]
    events = Counter(re.search(r"\d+\.\d+:\s+(\S+):\s", h).group(1) for h in headers)
    devices = Counter(m.group(1) for h in headers if (m := re.search(r"\sdev=(\S+)", h)))
    processes = Counter(h.split()[0] for h in headers)
    lengths = Counter(int(m.group(1)) for h in headers if (m := re.search(r"\slen=(\d+)", h)))
    assert summary.records == len(records) == 7530
    assert summary.events == events
    assert summary.events["net:net_dev_queue"] == 980
    assert summary.devices == devices
    assert summary.processes == processes
    assert sum(summary.lengths.values()) == sum(lengths.values())
    for length, count in lengths.items():
        assert summary.lengths[length_bucket(length)] >= count
    # inclusive: a record counts once per distinct function in its stack
    inclusive = Counter()
    for block in records:
        names = {re.sub(r"\+0x[0-9a-f]+$", "", line.split()[1]) for line in block[1:]}
        inclusive.update(n for n in names if n != "[unknown]")
    top = summary.top_functions(10)
    for name, _kernel, count in top:
        assert inclusive[name] == count
    assert top[0][2] == max(inclusive.values())
    data = summary.as_dict(top=5)
    assert data["unreadable_lines"] == 0
    assert len(data["top_functions"]) == 5
    assert next(iter(data["events"])) == "net:netif_receive_skb"


@pytest.mark.parametrize(
    ("length", "bucket"),
    [(0, (0, 0)), (1, (1, 1)), (74, (64, 127)), (1514, (1024, 2047)), (4096, (4096, 8191))],
)
def test_length_buckets(length, bucket):
    assert length_bucket(length) == bucket


@pytest.fixture(scope="module")
def counts():
    return (
        function_counts(read_records(PERF / "loopback-64.perf.txt.xz")),
        function_counts(read_records(PERF / "bridge-64.perf.txt.xz")),
    )


def test_bridge_against_loopback_names_the_bridge_path(counts):
    loopback, bridge = counts
    result = diff_functions(loopback, bridge).as_dict()
    extra = {item["function"]: item["samples"] for item in result["extra"]}
    for name in BRIDGE_PATH:
        assert name in extra
    assert "loopback_xmit" not in extra
    assert "loopback_xmit" not in {item["function"] for item in result["changed"]}
    # loopback_xmit is what the bridge trace lacks: it is on the other side.
    assert {"function": "loopback_xmit", "samples": 1899} in result["missing"]
    # samples = records whose stack contains the function, counted from the text
    text = trace_bytes("bridge-64").decode()
    for name in BRIDGE_PATH:
        assert extra[name] == sum(1 for b in text.split("\n\n") if f" {name}+0x" in b)
    for key in ("extra", "missing", "changed"):
        samples = [item["samples"] for item in result[key]]
        assert samples == sorted(samples, reverse=True)


def test_only_kernel_functions(counts):
    loopback, bridge = counts
    names = diff_functions(loopback, bridge).names()
    assert not any(name.startswith(("runtime.", "syscall.", "net/http")) for name in names)
    everything = function_counts(read_records(PERF / "bridge-64.perf.txt.xz"), kernel_only=False)
    assert "runtime.goexit.abi0" in everything.counts
    assert "runtime.goexit.abi0" not in bridge.counts


def test_diff_on_plain_mappings():
    baseline = FunctionCounts({"a": 50, "b": 10, "c": 40, "gone": 7}, records=100)
    target = FunctionCounts({"a": 100, "b": 50, "c": 44, "new": 3, "zero": 0}, records=100)
    result = diff_functions(baseline, target, factor=2.0).as_dict()
    assert result["extra"] == [{"function": "new", "samples": 3}]
    assert result["missing"] == [{"function": "gone", "samples": 7}]
    assert [item["function"] for item in result["changed"]] == ["b"]  # a is exactly 2x: not more
    changed = result["changed"][0]
    assert changed["baseline_share"] == 0.1 and changed["target_share"] == 0.5
    assert changed["samples"] == 50 and changed["baseline_samples"] == 10
    assert changed["ratio"] == pytest.approx(5.0)
    shrink = diff_functions(FunctionCounts({"x": 90}, 100), FunctionCounts({"x": 10}, 100))
    assert [item["function"] for item in shrink.changed] == ["x"]
    assert diff_functions(baseline, target, factor=1.05).as_dict()["changed"][0]["function"] == "a"


def test_diff_edge_cases():
    empty = FunctionCounts({}, 0)
    some = FunctionCounts({"f": 2}, 2)
    assert diff_functions(empty, some).as_dict() == {
        "extra": [{"function": "f", "samples": 2}],
        "missing": [],
        "changed": [],
    }
    assert diff_functions(some, empty).as_dict()["missing"] == [{"function": "f", "samples": 2}]
    with pytest.raises(ValueError):
        diff_functions(some, some, factor=0.5)
    with pytest.raises(ValueError):
        FunctionCounts({}, -1)
    ties = diff_functions(empty, FunctionCounts({"b": 1, "a": 1, "c": 2}, 3)).as_dict()
    assert [i["function"] for i in ties["extra"]] == ["c", "a", "b"]
