"""The record reader: header variants, payload fields, frames, and what it counts."""

from __future__ import annotations

import gzip
import io
import re
import sys

import pytest

from orchestrator.analysis.perfscript import (
    Frame,
    ParseStats,
    PerfScriptReader,
    header_event,
    parse_fields,
    parse_frame,
    read_records,
)

from .conftest import PERF, trace_bytes


def records_of(text: str) -> tuple[list, ParseStats]:
    stats = ParseStats()
    return list(read_records(io.BytesIO(text.encode()), stats)), stats


def test_tracepoint_record():
    (record,), stats = records_of(
        "python3 10494 [000]  1112.879130:                net:net_dev_queue: "
        "dev=eth0 skbaddr=0xffff88810a9032e0 len=1514\n"
        "\tffffffff81e5b0e1 __dev_queue_xmit+0x561 ([kernel.kallsyms])\n"
        "\t         10ec36e runtime/internal/syscall.Syscall6+0xe (/usr/sbin/dockerd)\n\n"
    )
    assert (record.comm, record.pid, record.tid, record.cpu) == ("python3", None, 10494, 0)
    assert record.timestamp == pytest.approx(1112.879130)
    assert record.event == "net:net_dev_queue"
    assert record.period is None
    assert dict(record.fields) == {"dev": "eth0", "skbaddr": "0xffff88810a9032e0", "len": "1514"}
    assert record.field_int("len") == 1514
    assert record.field_int("skbaddr") == 0xFFFF88810A9032E0
    kernel, user = record.frames
    assert kernel == Frame(0xFFFFFFFF81E5B0E1, "__dev_queue_xmit", "[kernel.kallsyms]", 0x561)
    assert kernel.is_kernel and not user.is_kernel
    assert user.symbol == "runtime/internal/syscall.Syscall6" and user.offset == 0xE
    assert record.stack == (user, kernel)
    assert record.line == 1 and record.terminated
    assert stats.records == 1 and stats.unreadable == 0 and stats.lines == 4


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("java 25607 4794564.109216: 1 cycles:", ("java", None, 25607, None, 1, "cycles")),
        (
            "java 12688 [002] 6544038.708352: 235 cpu-clock:",
            ("java", None, 12688, 2, 235, "cpu-clock"),
        ),
        (
            "V8 WorkerThread 25607 4794564.109216: 104345 cycles:",
            ("V8 WorkerThread", None, 25607, None, 104345, "cycles"),
        ),
        (
            "java 24636/25607 [000] 4794564.109216: 1 cycles:",
            ("java", 24636, 25607, 0, 1, "cycles"),
        ),
        (
            "V8 WorkerThread 24636/25607 [000] 94564.109216: 100 cycles:uppp:",
            ("V8 WorkerThread", 24636, 25607, 0, 100, "cycles:uppp"),
        ),
        (
            "         swapper     0 [000] 158665.570607: cpu-clock: ",
            ("swapper", None, 0, 0, None, "cpu-clock"),
        ),
        (
            "Thread 2 1234 [003] 1.000001: sched:sched_switch: prev_comm=a next_comm=b",
            ("Thread 2", None, 1234, 3, None, "sched:sched_switch"),
        ),
        (
            "runc:[2:INIT] 10 [001] 5.5: skb:consume_skb: skbaddr=0x1",
            ("runc:[2:INIT]", None, 10, 1, None, "skb:consume_skb"),
        ),
        (":-1 -1 [000] 5.5: net:netif_rx: dev=lo", (":-1", None, -1, 0, None, "net:netif_rx")),
    ],
)
def test_header_variants(header, expected):
    (record,), stats = records_of(header + "\n\tffffffff81000000 f ([kernel.kallsyms])\n\n")
    got = (record.comm, record.pid, record.tid, record.cpu, record.period, record.event)
    assert got == expected
    assert header_event(header.encode()) == expected[-1].encode()
    assert stats.unreadable == 0


def test_single_frame_on_the_header_line():
    (record,), _ = records_of(
        "false 64414 20110.539270:      34467 cycles:u:  "
        "ffffffff9aa3c8de do_thing+0x3 ([kernel.kallsyms])\n\n"
    )
    assert record.event == "cycles:u"
    assert [f.symbol for f in record.frames] == ["do_thing"]
    assert record.payload == ""


def test_frames_modules_and_offsets():
    assert parse_frame("\t7f00 [unknown] (/memfd:doublemapper (deleted))") == Frame(
        0x7F00, "[unknown]", "/memfd:doublemapper (deleted)"
    )
    frame = parse_frame("\t   7f1e2215d058  (/lib/x86_64-linux-gnu/libc-2.15.so)")
    assert frame is not None and frame.symbol == "" and frame.function is None
    frame = parse_frame("\tffffffffc0a1b2c3 br_handle_frame+0x1f ([bridge])")
    assert frame is not None and frame.is_kernel and frame.function == "br_handle_frame"
    for module, kernel in [
        ("[kernel.kallsyms]", True),
        ("[kernel.kallsyms].init.text", True),
        ("[veth]", True),
        ("/lib/modules/6.1.0/build/vmlinux", True),
        ("[vdso]", False),
        ("[unknown]", False),
        ("/usr/lib/libc.so.6", False),
    ]:
        assert Frame(1, "f", module).is_kernel is kernel, module
    assert parse_frame("\tnot a frame") is None
    assert parse_frame("\tffff f (unbalanced") is None


def test_payload_fields():
    assert parse_fields('dev=eth0 name="a b" len=5 reason: X data_len=3') == {
        "dev": "eth0",
        "name": "a b",
        "len": "5",
        "data_len": "3",
    }


def test_counts_orphans_missing_blank_lines_and_unterminated():
    text = (
        "\tffffffff81000000 orphan ([kernel.kallsyms])\n"
        "garbage\n"
        "a 1 [000] 1.0: ev:x: k=1\n"
        "\tffffffff81000000 f ([kernel.kallsyms])\n"
        "b 2 [000] 2.0: ev:x: k=2\n"
        "\tffffffff81000000 g ([kernel.kallsyms])\n"
        "\tbad stack line\n"
        "\n"
        "c 3 [000] 3.0: ev:x: k=3\n"
        "\tffffffff81000000 h ([kernel.kallsyms])"
    )
    records, stats = records_of(text)
    assert [r.comm for r in records] == ["a", "b", "c"]
    assert [len(r.frames) for r in records] == [1, 1, 1]
    assert [r.terminated for r in records] == [True, True, False]
    assert stats.orphan_frames == 1
    assert stats.missing_blank_lines == 1
    assert stats.unterminated == 1
    assert stats.unreadable == 3  # orphan, garbage, bad stack line
    assert [line for line, _, _ in stats.samples] == [1, 2, 7]
    assert "3 unreadable line(s)" in (stats.describe() or "")


def test_fixture_counts_match_a_plain_count():
    text = trace_bytes("bridge-64").decode()
    headers = [line for line in text.splitlines() if line and not line[0].isspace()]
    stats = ParseStats()
    records = list(read_records(PERF / "bridge-64.perf.txt.xz", stats))
    assert len(records) == len(headers) == stats.records == 7530
    assert sum(len(r.frames) for r in records) == sum(
        1 for line in text.splitlines() if line.startswith("\t")
    )
    assert stats.unreadable == 0 and stats.unterminated == 0
    assert records[0].comm == "dockerd" and records[0].event == "skb:consume_skb"
    assert records[-1].line == text.count("\n", 0, text.rfind("\n\n", 0, len(text) - 2)) + 3


def test_stdin_and_gzip(monkeypatch, tmp_path):
    data = trace_bytes("loopback-64")
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(data))
    assert sum(1 for _ in PerfScriptReader(path)) == 5064

    class Stdin:
        buffer = io.BufferedReader(io.BytesIO(data))

    monkeypatch.setattr(sys, "stdin", Stdin)
    reader = PerfScriptReader("-")
    assert reader.name == "<stdin>"
    assert sum(1 for _ in reader) == 5064


def test_records_are_frozen():
    (record,), _ = records_of("a 1 [000] 1.0: ev:x: k=1\n\n")
    with pytest.raises(AttributeError):
        record.comm = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        record.fields["k"] = "2"  # type: ignore[index]


def test_memory_does_not_grow_with_the_file():
    import tracemalloc

    data = trace_bytes("loopback-64") * 6
    tracemalloc.start()
    count = sum(1 for _ in read_records(io.BytesIO(data)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 6 * 5064
    assert peak < len(data) / 2  # the records are not kept; the caches are bounded
    assert re.search(rb"\n\n", data)
