"""A streaming reader of `perf script` text: one frozen `Record` per sample.

    dockerd 10101 [000]  1112.807847:   skb:consume_skb: skbaddr=0xffff8881181fb200 location=…
    \tffffffff81e4630c consume_skb+0x7c ([kernel.kallsyms])
    \tffffffff820c7f55 unix_accept+0x95 ([kernel.kallsyms])
    <blank line>

Header variants read: `comm tid`, `comm pid/tid`, with or without `[cpu]`, then the time
(`secs.usecs:`, always printed by default), with or without a period before the event, the
comm with spaces (`V8 WorkerThread`) or right-aligned (perf pads it when there is no call
graph), a one-frame stack written on the header line itself.

Memory does not grow with the file: lines are read in chunks and records are yielded as they
end. A line that cannot be read (neither header, stack line, comment nor blank; a stack line
with no header before it) is counted in `ParseStats.unreadable`, with the first few kept as
samples; it never stops the reader. `NetmatrixError` is raised only for an input that cannot
be opened.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import BinaryIO

from orchestrator.analysis.source import TraceInput

# Pseudo-modules perf uses for addresses that are not kernel code.
_NOT_KERNEL = frozenset(
    {
        "[unknown]",
        "[vdso]",
        "[vsyscall]",
        "[vvar]",
        "[heap]",
        "[stack]",
        "[anon]",
        "[uprobes]",
        "[jit]",
        "[vectors]",
        "[sigpage]",
        "[kernel.vmlinux]?",
    }
)

_HEADER = (
    r"^\s*(?P<comm>\S.{0,127}?)\s+"
    r"(?:(?P<pid>-?\d+)/)?(?P<tid>-?\d+)\s+"
    r"(?:\[(?P<cpu>\d+)\]\s+)?"
    r"(?P<time>\d+\.\d+):\s+"
    r"(?:(?P<period>\d+)\s+)?"
    r"(?P<event>[^\s:]\S*?):(?=\s|$)"
    r"(?P<rest>.*)$"
)
_HEADER_RE = re.compile(_HEADER, re.ASCII)
_HEADER_BYTES = re.compile(_HEADER.encode())
_HEADER_MAX = 1 << 14
_FIELD_RE = re.compile(r"(?:^|\s)([A-Za-z_][\w.]*)=(\"[^\"]*\"|\S*)", re.ASCII)
_OFFSET_RE = re.compile(r"\+0x([0-9a-f]+)$")
_HEX_RE = re.compile(r"[0-9a-fA-F]+", re.ASCII)
_ADDRESS_RE = re.compile(r"(\w+)(?:[ \t]+|$)", re.ASCII)
_WS = " \t\r\x0b\x0c"


def header_event(line: bytes) -> bytes | None:
    """The event name of a record header line (`net:net_dev_queue`), or None."""
    if len(line) > _HEADER_MAX:
        return None
    match = _HEADER_BYTES.match(line)
    if match is None:
        return None
    return match.group("event")


@dataclass(frozen=True, slots=True)
class Frame:
    """One call-stack entry: address, symbol (no `+0x…` offset), module."""

    address: int | None
    symbol: str
    module: str
    offset: int | None = None
    raw: str = field(default="", repr=False, compare=False)

    @property
    def is_kernel(self) -> bool:
        """Kernel code: `[kernel.kallsyms]`, a kernel module (`[bridge]`), or a vmlinux."""
        module = self.module
        if module.startswith("[kernel.kallsyms]") or module.endswith("vmlinux"):
            return True
        if module.endswith(".ko") or "/lib/modules/" in module:
            return True
        return (
            module.startswith("[")
            and module.endswith("]")
            and module not in _NOT_KERNEL
            and not module.startswith("[anon")
        )

    @property
    def function(self) -> str | None:
        """The function name, or None when perf could not resolve the symbol."""
        if not self.symbol or self.symbol == "[unknown]":
            return None
        return self.symbol


@dataclass(frozen=True, slots=True)
class Record:
    """One sample: its header fields, tracepoint payload and call stack (leaf first)."""

    comm: str
    pid: int | None
    tid: int
    cpu: int | None
    timestamp: float | None
    event: str
    period: int | None
    payload: str
    fields: Mapping[str, str]
    frames: tuple[Frame, ...]
    line: int  # line number of the header, from 1
    header: str = field(repr=False, compare=False)
    terminated: bool = True  # followed by its blank line

    @property
    def stack(self) -> tuple[Frame, ...]:
        """The frames root first (the order of folded stacks)."""
        return self.frames[::-1]

    def field_int(self, name: str) -> int | None:
        value = self.fields.get(name)
        if value is None:
            return None
        try:
            return int(value, 0)
        except ValueError:
            return None


@dataclass
class ParseStats:
    """Counts kept while reading; `unreadable` counts every line that was not used."""

    lines: int = 0
    records: int = 0
    comments: int = 0
    unreadable: int = 0
    orphan_frames: int = 0  # stack lines with no header before them (also in `unreadable`)
    missing_blank_lines: int = 0  # a header right after a record's stack, no blank between
    unterminated: int = 0  # the last record had no blank line after it
    oversize_lines: int = 0
    problem: str | None = None
    samples: list[tuple[int, str, str]] = field(default_factory=list)

    MAX_SAMPLES = 10

    def note(self, line_no: int, reason: str, text: str) -> None:
        self.unreadable += 1
        if len(self.samples) < self.MAX_SAMPLES:
            self.samples.append((line_no, reason, text[:200]))

    @property
    def unreadable_lines(self) -> int:
        return self.unreadable + self.oversize_lines

    def as_dict(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "records": self.records,
            "unreadable_lines": self.unreadable_lines,
            "orphan_frames": self.orphan_frames,
            "missing_blank_lines": self.missing_blank_lines,
            "unterminated_records": self.unterminated,
            "oversize_lines": self.oversize_lines,
            "problem": self.problem,
            "samples": [
                {"line": line, "reason": reason, "text": text}
                for line, reason, text in self.samples
            ],
        }

    def describe(self) -> str | None:
        """One line for a user, or None when every line was read."""
        parts = []
        if self.unreadable_lines:
            first = (
                f" (first: line {self.samples[0][0]}, {self.samples[0][1]})" if self.samples else ""
            )
            parts.append(f"{self.unreadable_lines} unreadable line(s){first}")
        if self.unterminated:
            parts.append("the last record has no blank line after it")
        if self.problem:
            parts.append(self.problem)
        return "; ".join(parts) or None


def parse_frame(line: str) -> Frame | None:
    """`\\tffffffff81e4630c consume_skb+0x7c ([kernel.kallsyms])` as a Frame, or None."""
    text = line.strip(_WS)
    if not text.endswith(")"):
        return None
    depth = 0
    index = len(text) - 1
    while index >= 0:
        char = text[index]
        if char == ")":
            depth += 1
        elif char == "(":
            depth -= 1
            if depth == 0:
                break
        index -= 1
    if index <= 0 or text[index - 1] not in _WS:
        return None
    module = text[index + 1 : -1]
    head = text[:index].rstrip(_WS)
    match = _ADDRESS_RE.match(head)
    if match is None:
        return None
    address_text, symbol = match.group(1), head[match.end() :]
    symbol = symbol.strip(_WS)
    offset = None
    match = _OFFSET_RE.search(symbol)
    if match is not None:
        offset = int(match.group(1), 16)
        symbol = symbol[: match.start()]
    address = int(address_text, 16) if _HEX_RE.fullmatch(address_text) else None
    return Frame(address, symbol, module, offset, line)


class _FrameCache:
    LIMIT = 200_000

    def __init__(self) -> None:
        self._cache: dict[str, Frame | None] = {}

    def get(self, line: str) -> Frame | None:
        try:
            return self._cache[line]
        except KeyError:
            pass
        frame = parse_frame(line)
        if len(self._cache) >= self.LIMIT:
            self._cache.clear()
        self._cache[line] = frame
        return frame


def parse_fields(payload: str) -> dict[str, str]:
    """`key=value` pairs of a tracepoint payload (quotes around a value removed)."""
    fields: dict[str, str] = {}
    for key, value in _FIELD_RE.findall(payload):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        fields.setdefault(key, value)
    return fields


class PerfScriptReader:
    """Iterate the records of one trace; `stats` fills in as it goes."""

    def __init__(self, source: str | os.PathLike[str] | BinaryIO | TraceInput) -> None:
        self.stats = ParseStats()
        self._input = source if isinstance(source, TraceInput) else TraceInput(source)
        self._owned = not isinstance(source, TraceInput)
        self._frames = _FrameCache()

    @property
    def name(self) -> str:
        return self._input.name

    def __iter__(self) -> Iterator[Record]:
        try:
            yield from self._records()
        finally:
            self.stats.oversize_lines = self._input.oversize_lines
            self.stats.problem = self._input.problem
            if self._owned:
                self._input.close()

    def _records(self) -> Iterator[Record]:
        stats = self.stats
        frames_cache = self._frames
        header: _Header | None = None
        frames: list[Frame] = []
        in_lost_record = False  # after an unreadable header, its stack lines are unreadable too
        line_no = 0
        for raw in self._input.lines():
            line_no += 1
            line = raw.decode("utf-8", "surrogateescape")
            if not line.strip(_WS):
                if header is not None:
                    stats.records += 1
                    yield header.record(frames, True)
                    header, frames = None, []
                in_lost_record = False
                continue
            if line[0] == "#":
                stats.comments += 1
                continue
            if line[0] in _WS:
                frame = frames_cache.get(line)
                if frame is not None:
                    if header is not None:
                        frames.append(frame)
                    else:
                        stats.orphan_frames += 1
                        stats.note(
                            line_no,
                            "stack line outside a record"
                            if not in_lost_record
                            else "stack line of an unreadable record",
                            line,
                        )
                    continue
            parsed = _parse_header(line, line_no)
            if parsed is None:
                if line[0] in _WS and header is not None:
                    stats.note(line_no, "unrecognized stack line", line)
                else:
                    stats.note(line_no, "unrecognized line", line)
                    if header is None:
                        in_lost_record = True
                continue
            if header is not None:
                stats.missing_blank_lines += 1
                stats.records += 1
                yield header.record(frames, True)
                frames = []
            header = parsed
            in_lost_record = False
            if parsed.inline_frame is not None:
                frames.append(parsed.inline_frame)
        stats.lines = line_no
        if header is not None:
            stats.unterminated += 1
            stats.records += 1
            yield header.record(frames, False)

    def records(self) -> Iterator[Record]:
        return iter(self)


def read_records(
    source: str | os.PathLike[str] | BinaryIO | TraceInput, stats: ParseStats | None = None
) -> Iterator[Record]:
    """The records of a trace, streaming. Pass `stats` to get the reader's counts back."""
    reader = PerfScriptReader(source)
    if stats is not None:
        reader.stats = stats
    return iter(reader)


class _Header:
    __slots__ = (
        "comm",
        "cpu",
        "event",
        "fields",
        "inline_frame",
        "line",
        "line_no",
        "payload",
        "period",
        "pid",
        "stats",
        "tid",
        "timestamp",
    )

    def record(self, frames: list[Frame], terminated: bool) -> Record:
        return Record(
            comm=self.comm,
            pid=self.pid,
            tid=self.tid,
            cpu=self.cpu,
            timestamp=self.timestamp,
            event=self.event,
            period=self.period,
            payload=self.payload,
            fields=MappingProxyType(self.fields),
            frames=tuple(frames),
            line=self.line_no,
            header=self.line,
            terminated=terminated,
        )


def _parse_header(line: str, line_no: int) -> _Header | None:
    if len(line) > _HEADER_MAX:
        return None
    match = _HEADER_RE.match(line)
    if match is None:
        return None
    header = _Header()
    header.comm = match.group("comm").strip(_WS)
    header.pid = int(match.group("pid")) if match.group("pid") is not None else None
    header.tid = int(match.group("tid"))
    header.cpu = int(match.group("cpu")) if match.group("cpu") is not None else None
    header.timestamp = float(match.group("time"))
    header.period = int(match.group("period")) if match.group("period") is not None else None
    header.event = match.group("event")
    rest = match.group("rest").strip(_WS)
    header.inline_frame = None
    if rest.endswith(")") and "=" not in rest:
        frame = parse_frame("\t" + rest)
        if frame is not None:
            header.inline_frame = replace(frame, raw="")  # not a stack line to the reference
            rest = ""
    header.payload = rest
    header.fields = parse_fields(rest) if "=" in rest else {}
    header.line = line
    header.line_no = line_no
    return header
