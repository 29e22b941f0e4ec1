"""The reduction a lab host computes next to a trace: counts, kernel functions, folded stacks
identical to the reference, and the traffic-only view a comm prefix gives."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

import pytest

from orchestrator.analysis.reduce import main, reduce_trace

from .conftest import PERF
from .test_folding_reference import sorted_bytes

BRIDGE = PERF / "bridge-64.perf.txt.xz"
LOOPBACK = PERF / "loopback-64.perf.txt.xz"


REFERENCE = (PERF / "bridge-64.all.folded").read_bytes()


@functools.cache
def bridge() -> dict[str, object]:
    """The whole bridge trace reduced once (without a prefix) for the tests that only read it."""
    return reduce_trace(BRIDGE)


def test_the_folded_stacks_equal_the_reference(tmp_path: Path) -> None:
    folded = tmp_path / "folded.txt.gz"
    reduce_trace(BRIDGE, folded)
    assert sorted_bytes(gzip.decompress(folded.read_bytes())) == REFERENCE


def test_the_counts_cover_every_record_of_the_bridge_trace() -> None:
    reduction = bridge()
    assert reduction["records"] == reduction["records_all"] == 7530
    assert reduction["unreadable_lines"] == 0
    assert sum(reduction["events"].values()) == 7530
    assert reduction["events"]["net:netif_receive_skb"] == 981
    assert reduction["devices"] == {
        "eth0": 2940,
        "veth658d0f6": 1470,
        "veth7dfcc40": 1470,
        "docker0": 2,
    }
    assert reduction["processes"]["python3"] == 7322


def test_function_counts_hold_the_bridge_path_and_only_kernel_functions() -> None:
    functions = bridge()["functions"]
    assert functions["br_handle_frame"] == 2946
    assert functions["veth_xmit"] == 2940
    assert functions["br_forward_finish"] == 2928
    # dockerd's Go frames are in the trace, but they are not the kernel's work
    assert "runtime.goexit.abi0" not in functions


def test_loopback_traffic_never_crosses_a_bridge() -> None:
    functions = reduce_trace(LOOPBACK)["functions"]
    assert functions  # it did count kernel functions
    assert not {"br_handle_frame", "veth_xmit", "br_forward_finish"} & set(functions)


def test_a_comm_prefix_keeps_only_those_processes_but_records_all_counts_every_one() -> None:
    reduction = reduce_trace(BRIDGE, comm_prefix="docker")
    assert reduction["processes"] == {"dockerd": 62, "docker": 48}
    assert reduction["records"] == sum(reduction["events"].values()) == 110
    assert reduction["records_all"] == 7530
    assert "br_handle_frame" not in reduction["functions"]  # python3 carried the traffic


def test_a_prefix_nothing_matches_counts_nothing(tmp_path: Path) -> None:
    folded = tmp_path / "folded.txt.gz"
    reduction = reduce_trace(BRIDGE, folded, comm_prefix="nm-")
    assert (reduction["records"], reduction["events"], reduction["functions"]) == (0, {}, {})
    assert reduction["records_all"] == 7530
    # the folded stacks stay the whole trace's, whatever the prefix
    assert sorted_bytes(gzip.decompress(folded.read_bytes())) == REFERENCE


def test_the_command_line_writes_sorted_json(tmp_path: Path) -> None:
    out = tmp_path / "reduction.json"
    assert main([str(LOOPBACK), "--out", str(out), "--comm-prefix", "python"]) == 0
    text = out.read_text()
    reduction = json.loads(text)
    assert reduction["processes"] == {"python3": 5063}
    assert text == json.dumps(reduction, sort_keys=True) + "\n"


def test_a_missing_trace_is_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reduction.json"
    assert main([str(tmp_path / "perf.txt"), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"netmatrix-reduce: {tmp_path / 'perf.txt'}: no such file\n"
    assert not out.exists()


@pytest.mark.parametrize(
    "data", [b"", b"# header only\n", bytes(range(256)) * 4], ids=["empty", "header", "garbage"]
)
def test_a_trace_with_no_record_still_reduces(tmp_path: Path, data: bytes) -> None:
    """The trace tasks refuse such a file; a run's reduction must not: it records what it got."""
    trace, out = tmp_path / "perf.txt", tmp_path / "reduction.json"
    trace.write_bytes(data)

    assert main([str(trace), "--out", str(out), "--folded", str(tmp_path / "folded.gz")]) == 0

    reduction = json.loads(out.read_text())
    assert (reduction["records"], reduction["records_all"], reduction["functions"]) == (0, 0, {})
    assert reduction["unreadable_lines"] == (5 if data.startswith(b"\x00") else 0)
    assert gzip.decompress((tmp_path / "folded.gz").read_bytes()) == b""
