"""The linear-time reproductions of stackcollapse-perf.pl's patterns against the patterns
themselves (Python's backtracking engine gives the same leftmost-greedy/lazy captures as Perl
for these constructs; it is only slow on long pathological lines, hence the short strings)."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.analysis.folding import perl_event, perl_header, perl_stack

HEADER = re.compile(rb"^(\S.+?)\s+(\d+)\/*(\d+)*\s+")  # the Perl text, unchanged
EVENT = re.compile(rb":\s*(\d+)*\s+(\S+):\s*$")
STACK = re.compile(rb"^\s*(\w+)\s*(.+) \((.*)\)")

ALPHABET = [
    b" ",
    b"\t",
    b"\x0b",
    b"\x0c",
    b"\r",
    b"1",
    b"0",
    b"9",
    b"/",
    b":",
    b"(",
    b")",
    b"a",
    b"Z",
    b"_",
    b"-",
    b">",
    b".",
    b"[",
    b"]",
    b"\xff",
    b"+",
    b"x",
    b"#",
]
pieces = st.lists(st.sampled_from(ALPHABET), max_size=24).map(b"".join)
words = st.sampled_from(
    [
        b"java",
        b"ffffffff81e4630c",
        b"123",
        b"1/2",
        b"cycles:",
        b" (",
        b"[unknown]",
        b"  ",
        b"12.5:",
        b"net:x:",
        b"(x)",
        b"a b",
    ]
)
lines = st.lists(st.one_of(pieces, words), max_size=8).map(b"".join)


def literal_header(line: bytes):
    match = HEADER.match(line)
    return None if match is None else (match.group(1), match.group(2), match.group(3) or None)


def literal_event(line: bytes):
    match = EVENT.search(line)
    return None if match is None else (match.group(1) or None, match.group(2))


def literal_stack(line: bytes):
    match = STACK.match(line)
    return None if match is None else match.groups()


@settings(max_examples=1500, deadline=None)
@given(lines)
def test_header_pattern(line: bytes):
    assert perl_header(line) == literal_header(line)


@settings(max_examples=1500, deadline=None)
@given(lines)
def test_event_pattern(line: bytes):
    assert perl_event(line) == literal_event(line)


@settings(max_examples=1500, deadline=None)
@given(lines)
def test_stack_pattern(line: bytes):
    assert perl_stack(line) == literal_stack(line)


@given(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")))  # lines have no newline
def test_header_pattern_long_prefix(line: bytes):
    long_line = line + b" " * 300 + b"x 12 y"
    assert perl_header(long_line) == literal_header(long_line)


def test_examples():
    assert perl_header(b"V8 WorkerThread 24636/25607 [000] 94564.1: cycles:") == (
        b"V8 WorkerThread",
        b"24636",
        b"25607",
    )
    assert perl_header(b"java 25607 4794564.109216: cycles:") == (b"java", b"25607", None)
    assert perl_header(b"\tffffffff81 f ([kernel.kallsyms])") is None
    assert perl_event(b"java 1/2 [0] 1.5:   10309278 cpu-clock:") == (b"10309278", b"cpu-clock")
    assert perl_event(b"p 1 [000] 1.2: net:net_dev_queue: dev=eth0 len=74") is None
    assert perl_stack(b"\t7f1e2215d058  (/lib/libc.so)") == (b"7f1e2215d058", b" ", b"/lib/libc.so")
    assert perl_stack(b"ab (x)") == (b"a", b"b", b"x")


def test_pathological_lines_stay_fast():
    # Each of these makes a backtracking engine explode on the literal patterns.
    lines = [
        b"ab " + b"1" * 200_000 + b"x",
        b"ab" + b" " * 200_000 + b"x",
        b"x: " + b"1" * 200_000 + b"z ev:",
        b"a" + b" (" * 100_000,
        b" 1" * 100_000 + b")",
    ]
    started = time.perf_counter()
    for line in lines:
        perl_header(line)
        perl_event(line)
        perl_stack(line)
    assert time.perf_counter() - started < 5.0
