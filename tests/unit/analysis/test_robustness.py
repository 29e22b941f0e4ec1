"""Damaged input never raises: truncated files, binary garbage, cut stacks, missing blank
lines, Windows line ends, empty files. The fast path always agrees with the line-by-line
transcription of the reference, and the counts say what was not used."""

from __future__ import annotations

import io
import lzma
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.analysis.diff import function_counts
from orchestrator.analysis.folding import collapse, fold_lines, fold_records
from orchestrator.analysis.ftrace import parse_lines
from orchestrator.analysis.perfscript import ParseStats, PerfScriptReader, read_records
from orchestrator.analysis.source import TraceInput
from orchestrator.analysis.summary import summarize
from orchestrator.errors import NetmatrixError

from .conftest import PERF, run, trace_bytes

HEADERS = st.builds(
    lambda comm, ids, cpu, event: comm + b" " + ids + cpu + b" 12.345:" + event,
    st.sampled_from([b"python3", b"java", b"V8 WorkerThread", b"Thread 2", b"kworker/0:1", b"x"]),
    st.sampled_from([b"123", b"12/34", b"0/0", b"5/0"]),
    st.sampled_from([b" [000]", b"", b" [12]"]),
    st.sampled_from(
        [
            b" cycles:",
            b" 100 cycles:",
            b" 0 instructions:",
            b" cycles:ppp:",
            b" net:net_dev_queue: dev=eth0 len=74",
            b" skb:consume_skb: skbaddr=0x1",
            b" net:netif_rx: dev=docker0 len=1500",
            b" probe:x: value: 3 y:",
        ]
    ),
)
FRAMES = st.builds(
    lambda lead, addr, sym, mod: lead + addr + b" " + sym + b" (" + mod + b")",
    st.sampled_from([b"\t", b"\t        ", b"  ", b""]),
    st.sampled_from([b"ffffffff81e4630c", b"0", b"7f12", b"zz"]),
    st.sampled_from(
        [
            b"consume_skb+0x7c",
            b"[unknown]",
            b"foo(int)",
            b"go.(*T).M+0x1",
            b"a->b->c",
            b"(deleted)",
            b"Lorg/x/Y;.call(I)V",
            b"q'x\"",
            b"",
            b" ",
            b"br_handle_frame",
        ]
    ),
    st.sampled_from(
        [
            b"[kernel.kallsyms]",
            b"[unknown]",
            b"/usr/lib/libc.so.6",
            b"/",
            b"[bridge]",
            b"/tmp/my lib.so",
            b"/memfd:x (deleted)",
        ]
    ),
)
GARBAGE = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))
LINES = st.lists(
    st.one_of(HEADERS, FRAMES, FRAMES, st.just(b""), st.just(b"# comment"), GARBAGE), max_size=40
)
WELL_FORMED = st.lists(
    st.tuples(HEADERS, st.lists(FRAMES.filter(lambda f: f[:1] in (b"\t", b" ")), max_size=6)),
    max_size=12,
).map(
    lambda records: b"".join(
        h + b"\n" + b"".join(f + b"\n" for f in fr) + b"\n" for h, fr in records
    )
)


def fold_fast(data: bytes, chunk_size: int):
    return collapse(io.BytesIO(data), chunk_size=chunk_size)


def fold_slow(data: bytes):
    with TraceInput(io.BytesIO(data)) as source:
        return fold_lines(source.lines())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES, st.sampled_from([b"", b"\n", b"\n\n"]), st.sampled_from([3, 17, 1 << 20]))
def test_fast_path_equals_line_machine(lines, ending, chunk_size):
    data = b"\n".join(lines) + ending
    fast = fold_fast(data, chunk_size)
    slow = fold_slow(data)
    assert fast.stacks == slow.stacks
    assert fast.stats.unreadable == slow.stats.unreadable
    assert fast.stats.records == slow.stats.records
    assert fast.stats.orphan_frames == slow.stats.orphan_frames
    assert fast.stats.unterminated == slow.stats.unterminated
    assert fast.stats.filtered_records == slow.stats.filtered_records


@settings(max_examples=200, deadline=None)
@given(WELL_FORMED, st.sampled_from(["net:net_dev_queue", "cycles", "skb:consume_skb"]))
def test_event_filter_equals_folding_the_cut_records(data, event):
    # Cut the records of `event` out (header line to blank line), then fold them as a whole.
    # Well-formed traces only: where blank lines are missing, "the records of an event" has
    # no single meaning (the reference merges the records; a cut would split them again);
    # those inputs are covered by the fast/slow equivalence and the no-crash properties.
    from orchestrator.analysis.perfscript import header_event

    cut: list[bytes] = []
    keep = False
    for line in data.split(b"\n"):
        found = header_event(line) if line[:1] not in (b"", b"#") else None
        if found is not None:
            if keep:
                cut.append(b"")
            keep = found == event.encode()
        elif not line:
            if keep:
                cut.append(b"")
            keep = False
            continue
        if keep:
            cut.append(line)
    assert (
        collapse(io.BytesIO(data), event=event).stacks == fold_slow(b"\n".join(cut) + b"\n").stacks
    )


@settings(max_examples=200, deadline=None)
@given(WELL_FORMED)
def test_record_path_equals_fast_path_on_well_formed_traces(data):
    stats = ParseStats()
    assert (
        fold_records(read_records(io.BytesIO(data), stats)).stacks
        == fold_fast(data, 1 << 20).stacks
    )
    assert stats.unreadable == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_binary_garbage_never_raises(data):
    folded = fold_fast(data, 64)
    assert folded.stacks == fold_slow(data).stacks
    stats = ParseStats()
    summarize(read_records(io.BytesIO(data), stats), stats)
    function_counts(read_records(io.BytesIO(data)))
    parse_lines(data.decode("utf-8", "replace").splitlines())


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=len(trace_bytes("loopback-64"))))
def test_truncated_trace(cut):
    data = trace_bytes("loopback-64")[:cut]
    folded = fold_fast(data, 1 << 16)
    assert folded.stacks == fold_slow(data).stacks
    stats = ParseStats()
    list(read_records(io.BytesIO(data), stats))
    # A cut inside a record: that record is not folded (the reference's rule) and is reported.
    last_line = data.rsplit(b"\n", 1)[-1]
    if last_line.strip():
        assert folded.stats.unterminated == 1 or folded.stats.unreadable == 1
        assert stats.unterminated == 1 or stats.unreadable == 1


def test_cut_mid_line_is_reported():
    data = trace_bytes("loopback-64")[:5000]
    data = data[: data.rfind(b"(")]  # a stack line cut before its module
    folded = fold_fast(data, 1 << 16)
    assert folded.stats.unreadable == 1
    assert folded.stats.unterminated == 1
    stats = ParseStats()
    list(read_records(io.BytesIO(data), stats))
    assert stats.unreadable == 1
    assert stats.unterminated == 1


def test_missing_blank_lines_merge_like_the_reference_and_are_counted():
    data = trace_bytes("loopback-64").replace(b"\n\n", b"\n", 10)
    fast = fold_fast(data, 1 << 16)
    assert fast.stacks == fold_slow(data).stacks
    stats = ParseStats()
    records = list(read_records(io.BytesIO(data), stats))
    assert stats.missing_blank_lines == 10
    assert len(records) == 5064  # the record reader still splits at every header


def test_windows_line_ends_read_as_unix():
    data = trace_bytes("bridge-64")
    expected = collapse(io.BytesIO(data)).stacks
    crlf = data.replace(b"\n", b"\r\n")
    for chunk_size in (1 << 20, 4097):
        folded = fold_fast(crlf, chunk_size)
        assert folded.stacks == expected
        assert folded.stats.unreadable == 0
    stats = ParseStats()
    assert len(list(read_records(io.BytesIO(crlf), stats))) == 7530
    assert stats.unreadable == 0


@pytest.mark.parametrize("data", [b"", b"\n", b"\n\n\n", b"# only a comment\n", b"\x00" * 100])
def test_empty_and_near_empty(data):
    folded = fold_fast(data, 1 << 16)
    assert folded.stacks == {}
    stats = ParseStats()
    assert list(read_records(io.BytesIO(data), stats)) == []


def test_garbage_lines_are_counted():
    head = trace_bytes("loopback-64")[:20000]
    data = b"\xff\xfe garbage\n\x00\x01\x02\n" + head[: head.rfind(b"\n\n") + 2]
    folded = fold_fast(data, 1 << 16)
    assert folded.stats.unreadable == 2
    assert len(folded.stats.unreadable_samples) == 2
    stats = ParseStats()
    list(read_records(io.BytesIO(data), stats))
    assert stats.unreadable == 2
    assert stats.samples[0][0] == 1


def test_oversize_line_is_skipped_and_counted(monkeypatch):
    import orchestrator.analysis.folding as folding
    import orchestrator.analysis.source as source

    monkeypatch.setattr(folding, "MAX_LINE", 1000)
    monkeypatch.setattr(source, "MAX_LINE", 1000)
    tail = trace_bytes("loopback-64")[:30000]
    tail = tail[: tail.rfind(b"\n\n") + 2]
    data = b"x" * 5000 + b"\n\n" + tail
    folded = fold_fast(data, 256)
    assert folded.stats.oversize_lines == 1
    assert folded.stacks == collapse(io.BytesIO(tail)).stacks
    with TraceInput(io.BytesIO(data), name="t") as trace:
        lines = list(trace.lines(256))
    assert trace.oversize_lines == 1
    assert lines[0] == b""


def test_truncated_xz_is_a_problem_not_a_crash(tmp_path):
    raw = (PERF / "loopback-64.perf.txt.xz").read_bytes()
    path = tmp_path / "cut.perf.txt.xz"
    path.write_bytes(raw[: len(raw) // 2])
    folded = collapse(path)
    assert folded.stats.problem is not None and "xz" in folded.stats.problem
    assert folded.stacks  # what was decoded is used
    reader = PerfScriptReader(path)
    list(reader)
    assert reader.stats.problem is not None


def test_corrupt_xz_after_magic(tmp_path):
    path = tmp_path / "bad.xz"
    path.write_bytes(lzma.compress(b"x")[:6] + b"\x00" * 50)
    folded = collapse(path)
    assert folded.stacks == {}
    assert folded.stats.problem


@pytest.mark.parametrize("opener", [collapse, PerfScriptReader, TraceInput])
def test_missing_file_is_a_netmatrix_error(tmp_path, opener):
    with pytest.raises(NetmatrixError, match="no such file"):
        opener(tmp_path / "nope.txt")


def _through_a_file(tmp_path: Path) -> Path:
    """A path whose parent is a regular file."""
    parent = tmp_path / "trace.txt"
    parent.write_text("x")
    return parent / "trace.txt"


# Each fails for root too: /proc/sys/vm/drop_caches is write-only even for root (the sysctl
# permission check applies the owner bits to uid 0), and opening it to read drops nothing.
@pytest.mark.parametrize(
    ("make_path", "reason"),
    [
        (lambda tmp_path: tmp_path, "is a directory, not a trace file"),
        (lambda tmp_path: Path("/proc/sys/vm/drop_caches"), "permission denied"),
        (_through_a_file, "cannot be read (Not a directory)"),
    ],
    ids=["directory", "write-only", "through-a-file"],
)
def test_unreadable_path_is_one_error_line_and_exit_2(tmp_path, capsys, make_path, reason):
    path = make_path(tmp_path)
    with pytest.raises(NetmatrixError, match=re.escape(reason)):
        collapse(path)
    assert run("trace.collapse", "--path", str(path)) == 2
    assert capsys.readouterr().err == f"error: {path}: {reason}\n"
