"""Folding against the reference outputs of stackcollapse-perf.pl (every *.folded fixture)."""

from __future__ import annotations

import gzip
import io
import shutil
from pathlib import Path

import pytest

from orchestrator.analysis.folding import FoldOptions, collapse, fold_lines, fold_records
from orchestrator.analysis.perfscript import ParseStats, read_records
from orchestrator.analysis.source import TraceInput

from .conftest import PERF, SYNTHETIC, trace_bytes

REFERENCES = sorted(PERF.glob("*.folded"))


def reference_case(path: Path) -> tuple[str, str | None]:
    """(trace, event) for `<trace>.all.folded` / `<trace>.<event with _>.folded`."""
    trace, _, rest = path.name.partition(".")
    selector = rest.removesuffix(".folded")
    if selector == "all":
        return trace, None
    group, _, name = selector.partition("_")
    return trace, f"{group}:{name}"


def sorted_bytes(data: bytes) -> bytes:
    """`LC_ALL=C sort` of the lines."""
    return b"".join(sorted(data.splitlines(keepends=True)))


def test_every_reference_is_covered():
    assert len(REFERENCES) == 6
    assert {reference_case(p) for p in REFERENCES} == {
        (t, e)
        for t in ("bridge-64", "loopback-64")
        for e in (None, "net:net_dev_queue", "skb:consume_skb")
    }


@pytest.mark.parametrize("reference", REFERENCES, ids=lambda p: p.name)
def test_fast_path_matches_reference(reference: Path):
    trace, event = reference_case(reference)
    folded = collapse(PERF / f"{trace}.perf.txt.xz", event=event)
    assert sorted_bytes(b"".join(folded.lines())) == reference.read_bytes()
    assert folded.stats.unreadable == 0
    assert folded.stats.orphan_frames == 0
    assert folded.stats.unterminated == 0


@pytest.mark.parametrize("reference", REFERENCES, ids=lambda p: p.name)
@pytest.mark.parametrize("chunk_size", [4093, 65536])
def test_chunk_size_changes_nothing(reference: Path, chunk_size: int):
    trace, event = reference_case(reference)
    folded = collapse(io.BytesIO(trace_bytes(trace)), event=event, chunk_size=chunk_size)
    assert sorted_bytes(b"".join(folded.lines())) == reference.read_bytes()


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5])
def test_tiny_chunks_on_a_slice(chunk_size: int):
    data = trace_bytes("bridge-64")[:60_000]
    whole = collapse(io.BytesIO(data))
    tiny = collapse(io.BytesIO(data), chunk_size=chunk_size)
    assert tiny.stacks == whole.stacks
    assert tiny.stats == whole.stats


@pytest.mark.parametrize("trace", ["bridge-64", "loopback-64"])
def test_line_machine_and_record_path_agree_with_fast_path(trace: str):
    reference = (PERF / f"{trace}.all.folded").read_bytes()
    fast = collapse(PERF / f"{trace}.perf.txt.xz")
    with TraceInput(PERF / f"{trace}.perf.txt.xz") as source:
        slow = fold_lines(source.lines())
    stats = ParseStats()
    records = fold_records(read_records(PERF / f"{trace}.perf.txt.xz", stats))
    assert fast.stacks == slow.stacks == records.stacks
    assert sorted_bytes(b"".join(records.lines())) == reference
    assert fast.stats.records == slow.stats.records == stats.records
    assert stats.unreadable == 0


def test_compressions_and_stdin_read_the_same(tmp_path, plain_trace):
    plain = plain_trace("loopback-64")
    gz = tmp_path / "loopback-64.perf.txt.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    misnamed = tmp_path / "really-gzip.txt"
    shutil.copy(gz, misnamed)
    expected = (PERF / "loopback-64.all.folded").read_bytes()
    for source in (plain, gz, misnamed, io.BytesIO(plain.read_bytes())):
        assert sorted_bytes(b"".join(collapse(source).lines())) == expected


def test_output_order_is_perl_sort_of_keys():
    folded = collapse(PERF / "bridge-64.perf.txt.xz")
    keys = [line.rsplit(b" ", 1)[0] for line in folded.lines()]
    assert keys == sorted(keys)


# -- synthetic traces: one Perl rule per file, expected outputs worked out by hand ------------

SYNTHETIC_RULES = {
    "header_variants": "header `^(\\S.+?)\\s+(\\d+)\\/*(\\d+)*\\s+`: `comm tid`, `comm pid/tid`, "
    "with/without `[cpu]`, comm with a space (tr/ / /_/), padded `swapper     0`",
    "events_period": "event `:\\s*(\\d+)*\\s+(\\S+):\\s*$`: the first event is the filter "
    "(instructions and cycles:ppp dropped), the period is the count, period 0 counts 1, "
    "trailing blanks after the event",
    "tracepoints": "tracepoint payloads after the event name defeat the event pattern, so every "
    "event is folded; a payload that happens to end in `<digits> x:` is taken as event x with "
    "period 12 and then filters `y`; a header without stack folds to the process name alone",
    "frames": "stack line rules: `+0x` offsets (lower-case hex only, last one), `[unknown]` -> "
    "[module base name], tidy_generic (`;`->`:`, args cut except Go methods and "
    "`(anonymous namespace)`, quotes deleted), `->` inline parts with `_[i]` (not doubled, "
    "trailing empty part dropped, leading kept), `(`-functions skipped, two blanks before the "
    "module give a one-blank function, tidy_java only for processes named `java…`",
    "comm": "process names: the lazy `(\\S.+?)` stops at the first blank + number (`Thread 2 1234` "
    "-> Thread), `a  9` keeps a blank (`a_`), brackets and colons kept",
    "structure": "comments anywhere are skipped, extra blank lines are harmless, frames before "
    "any header are ignored, a missing blank line merges records under the last header, "
    "blank-only and other lines are 'Unrecognized' (3), the last record without its blank line "
    "is not saved",
}


@pytest.mark.parametrize("name", sorted(SYNTHETIC_RULES))
def test_synthetic_rule(name: str):
    expected = (SYNTHETIC / f"{name}.folded").read_bytes()
    path = SYNTHETIC / f"{name}.perf.txt"
    folded = collapse(path)
    assert b"".join(folded.lines()) == expected, SYNTHETIC_RULES[name]
    with TraceInput(path) as source:
        assert b"".join(fold_lines(source.lines()).lines()) == expected


def test_synthetic_structure_counts_what_it_drops():
    stats = collapse(SYNTHETIC / "structure.perf.txt").stats
    assert stats.unreadable == 3  # the reference warns "Unrecognized line" three times
    assert stats.orphan_frames == 1
    assert stats.unterminated == 1
    assert stats.records == 2


def test_synthetic_event_filter_counts():
    stats = collapse(SYNTHETIC / "events_period.perf.txt").stats
    assert stats.filtered_records == 2
    assert stats.event_filter == "cycles"


@pytest.mark.parametrize("option", ["pid", "tid"])
def test_pid_tid_options(option: str):
    options = FoldOptions(include_pid=option == "pid", include_tid=option == "tid")
    folded = collapse(SYNTHETIC / "header_variants.perf.txt", options=options)
    assert b"".join(folded.lines()) == (SYNTHETIC / f"header_variants.{option}.folded").read_bytes()
