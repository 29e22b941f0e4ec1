"""Folded stacks, line for line the same as FlameGraph's `stackcollapse-perf.pl` (default options).

The rules are those of the current upstream script (the version with `--srcline`, module names
matched by `\\((.*)\\)`, Java tidying for every process whose name starts with `java`). Each rule
below names the Perl it reproduces:

* comment lines (`^#`) are skipped; a blank line ends a record and saves its stack, once, if a
  header was accepted since the last blank line; a record is saved with `process;root;…;leaf`;
  a record cut short by the end of the input (no blank line after it) is not saved;
* header `^(\\S.+?)\\s+(\\d+)\\/*(\\d+)*\\s+`: the process name is `$1`, spaces become `_`
  (`tr/ /_/`); with `--pid`/`--tid` it becomes `comm-pid` / `comm-pid/tid` (`?` for an unknown
  pid);
* event `:\\s*(\\d+)*\\s+(\\S+):\\s*$` on the header: when it matches, `$1` is the period (count
  added; 1 when absent or `0`), `$2` the event; the first event seen becomes the filter and
  records of any other event are skipped. A tracepoint header carries its payload after the
  event name, so the pattern does not match and every record is folded with count 1;
* stack line `^\\s*(\\w+)\\s*(.+) \\((.*)\\)`: `$2` is the function, `$3` the module; `+0x…`
  (lower-case hex) is stripped from the end; a function starting with `(` is skipped; `->`
  separates inlined functions (trailing empty parts dropped, like Perl's `split`), every part
  after the first gets `_[i]`;
* `[unknown]` becomes `[` + the module's base name + `]` unless the module is `[unknown]` too;
* tidy_generic: `;` becomes `:`; unless the name looks like a Go method (`\\.\\(.*\\)\\.`),
  everything from the first `(` not opening `(anonymous namespace)` is cut; `"` and `'` are
  deleted; tidy_java: for a process named `java…`, a leading `L` is dropped when the name
  has a `/`;
* any other line is "Unrecognized" (a warning in Perl): counted here as unreadable.

Output is sorted in byte order of the stack (Perl `sort { $a cmp $b }`).

Deliberate differences, for inputs perf does not write: `\\r\\n` line ends are read as `\\n`
(the reference would fold nothing), and lines over 16 MiB are skipped and counted.

Perl's patterns with nested quantifiers (`(\\d+)*`) take exponential time on some lines in a
backtracking engine without Perl's caches; they are reproduced here by linear scans (checked
against the literal patterns in the tests).

Speed: `collapse` reads big chunks, splits records on blank lines and counts each record by
(process, raw stack text); the raw stack text is folded once per distinct stack (stacks repeat
massively). Records that need the line-by-line state machine (a header line inside a stack,
frames without a header, …) go through `_Machine`, the direct transcription of the Perl loop,
which is also the reference the fast path is tested against.

One file of about 700 lines, on purpose: the rules above, the fast path and `_Machine` are
three readings of the same Perl script, and keeping them side by side is what makes a byte
of difference from `stackcollapse-perf.pl` traceable to its rule.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from orchestrator.analysis.perfscript import header_event
from orchestrator.analysis.source import CHUNK_SIZE, MAX_LINE, TraceInput

_WS = b" \t\n\r\x0b\x0c"

# ----------------------------------------------------------------------------------------------
# The three Perl patterns, reproduced in linear time.
# ----------------------------------------------------------------------------------------------

# Same language and captures as `^(\S.+?)\s+(\d+)\/*(\d+)*\s+`: `(\d*)` for `(\d+)*`, and
# possessive quantifiers where giving characters back can never help (the classes that follow
# are disjoint). Only applied to short strings, where the lazy scan stays cheap.
_HEADER_SHORT = re.compile(rb"(\S.+?)\s++(\d++)/*+(\d*+)\s")
_HEADER_PREFIX = 256
_WS_RUN = re.compile(rb"[ \t\n\r\x0b\x0c]+")
_HEADER_TOKEN = re.compile(rb"(\d++)/*+(\d*+)[ \t\n\r\x0b\x0c]")
_WORD = re.compile(rb"\w+")
_EVENT_GAP = re.compile(rb"[ \t\n\r\x0b\x0c]*(\d*)[ \t\n\r\x0b\x0c]+")
_HEX = frozenset(b"0123456789abcdef")


def perl_header(line: bytes) -> tuple[bytes, bytes, bytes | None] | None:
    """`^(\\S.+?)\\s+(\\d+)\\/*(\\d+)*\\s+` on one line: (comm, $2, $3 or None), or None."""
    if len(line) <= _HEADER_PREFIX:
        match = _HEADER_SHORT.match(line)
    else:
        # A match inside the prefix is the leftmost one of the whole line too.
        match = _HEADER_SHORT.match(line, 0, _HEADER_PREFIX)
        if match is None:
            return _header_scan(line)
    if match is None:
        return None
    return match.group(1), match.group(2), match.group(3) or None


def _header_scan(line: bytes) -> tuple[bytes, bytes, bytes | None] | None:
    # `(\S.+?)` ends at the first position p >= 2 followed by whitespace, digits, slashes,
    # digits, whitespace: p is the start of the first whitespace run (at least 2) after which
    # that token follows.
    if not line or line[0] in _WS:
        return None
    for run in _WS_RUN.finditer(line):
        start, end = run.span()
        if end <= 2:
            continue
        token = _HEADER_TOKEN.match(line, end)
        if token is not None:
            return line[: max(start, 2)], token.group(1), token.group(2) or None
    return None


def perl_event(line: bytes) -> tuple[bytes | None, bytes] | None:
    """`:\\s*(\\d+)*\\s+(\\S+):\\s*$` on one line: (period digits or None, event), or None."""
    text = line.rstrip(_WS)
    if not text.endswith(b":"):
        return None
    # `(\S+):` must be the last token; before it `\s*(\d+)*\s+` back to the previous `:`.
    start = max(text.rfind(bytes((c,))) for c in _WS) + 1
    if start == 0 or len(text) - start < 2:
        return None
    colon = text.rfind(b":", 0, start)
    if colon < 0:
        return None
    gap = _EVENT_GAP.fullmatch(text, colon + 1, start)
    if gap is None:
        return None
    return gap.group(1) or None, text[start:-1]


def perl_stack(line: bytes) -> tuple[bytes, bytes, bytes] | None:
    """`^\\s*(\\w+)\\s*(.+) \\((.*)\\)` on one line: (pc, rawfunc, module), or None."""
    close = line.rfind(b")")
    if close < 0:
        return None
    lead = len(line) - len(line.lstrip(_WS))
    word = _WORD.match(line, lead)
    if word is None:
        return None
    word_end = word.end()
    func_start = len(line) - len(line[word_end:].lstrip(_WS))
    # `(.+)` is greedy: the last " (" that still has a ")" after it.
    open_ = line.rfind(b" (", 0, close)
    if open_ < lead + 2:
        return None
    if open_ >= func_start + 1:
        pc, rawfunc = line[lead:word_end], line[func_start:open_]
    elif open_ - 1 >= word_end:
        # `\s*` gives back whitespace: the function is the single blank before " (".
        pc, rawfunc = line[lead:word_end], line[open_ - 1 : open_]
    else:
        # `(\w+)` gives back its last character, which becomes the function.
        pc, rawfunc = line[lead : open_ - 1], line[open_ - 1 : open_]
    return pc, rawfunc, line[open_ + 2 : close]


# ----------------------------------------------------------------------------------------------
# Folding one stack line.
# ----------------------------------------------------------------------------------------------

UNRECOGNIZED = None  # what `fold_line` returns for a line that is not a stack line


def fold_function(rawfunc: bytes, module: bytes, *, java: bool = False) -> tuple[bytes, ...]:
    """The folded frame names for one stack line's function and module (root-most first)."""
    plus = rawfunc.rfind(b"+0x")
    if plus >= 0 and len(rawfunc) > plus + 3 and _HEX.issuperset(rawfunc[plus + 3 :]):
        rawfunc = rawfunc[:plus]  # s/\+0x[\da-f]+$//
    if rawfunc.startswith(b"("):
        return ()  # next if $rawfunc =~ /^\(/
    parts = rawfunc.split(b"->")
    while parts and not parts[-1]:
        parts.pop()  # Perl's split drops trailing empty fields
    folded: list[bytes] = []
    for part in parts:
        func = part
        if func == b"[unknown]" and module != b"[unknown]":
            func = b"[" + module[module.rfind(b"/") + 1 :] + b"]"
        # tidy_generic
        func = func.replace(b";", b":")
        go_open = func.find(b".(")
        if go_open < 0 or func.rfind(b").") < go_open + 2:
            paren = func.find(b"(")
            while paren >= 0 and func.startswith(b"anonymous namespace)", paren + 1):
                paren = func.find(b"(", paren + 1)
            if paren >= 0:
                func = func[:paren]
        func = func.translate(None, b"\"'")
        # tidy_java
        if java and func.startswith(b"L") and b"/" in func:
            func = func[1:]
        if folded and b"_[i]" not in func:
            func += b"_[i]"
        folded.append(func)
    return tuple(folded)


class _LineFolder:
    """`fold_line` with a cache: stack lines repeat across records."""

    LIMIT = 500_000

    def __init__(self) -> None:
        self._plain: dict[bytes, tuple[bytes, ...] | None] = {}
        self._java: dict[bytes, tuple[bytes, ...] | None] = {}

    def fold(self, line: bytes, java: bool = False) -> tuple[bytes, ...] | None:
        cache = self._java if java else self._plain
        try:
            return cache[line]
        except KeyError:
            pass
        parts = perl_stack(line)
        result = UNRECOGNIZED if parts is None else fold_function(parts[1], parts[2], java=java)
        if len(cache) >= self.LIMIT:
            cache.clear()
        cache[line] = result
        return result


def fold_line(line: bytes, *, java: bool = False) -> tuple[bytes, ...] | None:
    """The frames one stack line adds, or None (`UNRECOGNIZED`) if it is not a stack line."""
    parts = perl_stack(line)
    if parts is None:
        return UNRECOGNIZED
    return fold_function(parts[1], parts[2], java=java)


# ----------------------------------------------------------------------------------------------
# Results.
# ----------------------------------------------------------------------------------------------


@dataclass
class CollapseStats:
    """What happened while folding: nothing is dropped without being counted here."""

    records: int = 0  # stacks saved (records folded)
    unreadable: int = 0  # lines the reference warns about ("Unrecognized line")
    unreadable_samples: list[str] = field(default_factory=list)
    orphan_frames: int = 0  # stack lines outside any record (no header before them)
    filtered_records: int = 0  # records of another event than the first one (reference rule)
    other_event_records: int = 0  # records left out by `event=`
    unterminated: int = 0  # a record at the end with no blank line after it: not folded
    oversize_lines: int = 0
    problem: str | None = None  # compressed input ending early or corrupt
    event_filter: str | None = None  # the event the reference rule settled on, if any

    def note_unreadable(self, line: bytes, count: int = 1) -> None:
        self.unreadable += count
        if len(self.unreadable_samples) < 5:
            self.unreadable_samples.append(line[:200].decode("utf-8", "backslashreplace"))

    def as_dict(self) -> dict[str, object]:
        return {
            "records": self.records,
            "unreadable_lines": self.unreadable + self.oversize_lines,
            "unreadable_samples": list(self.unreadable_samples),
            "orphan_frames": self.orphan_frames,
            "filtered_records": self.filtered_records,
            "other_event_records": self.other_event_records,
            "unterminated_records": self.unterminated,
            "oversize_lines": self.oversize_lines,
            "problem": self.problem,
        }


@dataclass
class Folded:
    """Folded stacks: `stacks` maps `process;root;…;leaf` (bytes) to its count."""

    stacks: dict[bytes, int]
    stats: CollapseStats

    def lines(self) -> Iterator[bytes]:
        """The output lines, `stack count\\n`, in the reference's order."""
        for key in sorted(self.stacks):
            yield key + b" " + str(self.stacks[key]).encode() + b"\n"

    def write(self, out: BinaryIO) -> None:
        batch: list[bytes] = []
        for line in self.lines():
            batch.append(line)
            if len(batch) >= 4096:
                out.write(b"".join(batch))
                batch.clear()
        out.write(b"".join(batch))

    def text(self) -> str:
        return b"".join(self.lines()).decode("utf-8", "backslashreplace")

    def speedscope(self, name: str = "netmatrix") -> dict[str, object]:
        """The stacks in speedscope's file format (one sampled profile, weights = counts)."""
        frames: list[dict[str, str]] = []
        index: dict[bytes, int] = {}
        samples: list[list[int]] = []
        weights: list[int] = []
        for key in sorted(self.stacks):
            sample = []
            for frame in key.split(b";"):
                position = index.get(frame)
                if position is None:
                    position = index[frame] = len(frames)
                    frames.append({"name": frame.decode("utf-8", "backslashreplace")})
                sample.append(position)
            samples.append(sample)
            weights.append(self.stacks[key])
        total = sum(weights)
        return {
            "$schema": "https://www.speedscope.app/file-format-schema.json",
            "shared": {"frames": frames},
            "profiles": [
                {
                    "type": "sampled",
                    "name": name,
                    "unit": "none",
                    "startValue": 0,
                    "endValue": total,
                    "samples": samples,
                    "weights": weights,
                }
            ],
            "name": name,
            "activeProfileIndex": 0,
            "exporter": "netmatrix trace.collapse",
        }

    def speedscope_json(self, name: str = "netmatrix") -> str:
        return json.dumps(self.speedscope(name), separators=(",", ":"))


# ----------------------------------------------------------------------------------------------
# The reference's state machine, line by line.
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FoldOptions:
    include_pid: bool = False  # --pid
    include_tid: bool = False  # --tid


class _Machine:
    """The main loop of stackcollapse-perf.pl, one line at a time."""

    def __init__(
        self,
        options: FoldOptions,
        counts: dict[bytes, int],
        stats: CollapseStats,
        lines: _LineFolder,
    ) -> None:
        self.options = options
        self.counts = counts
        self.stats = stats
        self.folder = lines
        self.event_filter: bytes | None = None
        self.pname: bytes | None = None
        self.period = 1
        self.frames: list[tuple[bytes, ...]] = []
        self.skipping = False  # after a filtered header, until the next blank line

    def pending(self) -> bool:
        return self.pname is not None

    def accept_event(self, line: bytes) -> tuple[bool, int]:
        """The reference's event rule for a header: (keep it?, period)."""
        event = perl_event(line)
        if event is None:
            return True, 1
        digits, name = event
        if self.event_filter is None:
            self.event_filter = name
            self.stats.event_filter = name.decode("utf-8", "backslashreplace")
        elif name != self.event_filter:
            return False, 1
        return True, 1 if digits is None or digits == b"0" else int(digits)

    def pname_for(self, comm: bytes, first: bytes, second: bytes | None) -> bytes:
        if self.options.include_tid or self.options.include_pid:
            if second is None or second == b"0":
                pid, tid = b"?", first
            else:
                pid, tid = first, second
            suffix = pid + b"/" + tid if self.options.include_tid else pid
            comm = comm + b"-" + suffix
        return comm.replace(b" ", b"_")

    def feed(self, line: bytes) -> None:
        if line[:1] == b"#":
            return
        if not line:
            self.end_record()
            return
        header = perl_header(line)
        if header is not None:
            keep, period = self.accept_event(line)
            if not keep:
                self.stats.filtered_records += 1
                if self.pname is None:
                    self.skipping = True
                return
            self.pname = self.pname_for(*header)
            self.period = period
            self.skipping = False
            return
        folded = self.folder.fold(line, False)
        if folded is UNRECOGNIZED:
            self.stats.note_unreadable(line)
            return
        if self.pname is None:
            if not self.skipping:
                self.stats.orphan_frames += 1
            return
        if self.pname.startswith(b"java"):
            folded = self.folder.fold(line, True)
        if folded:
            self.frames.append(folded)  # type: ignore[arg-type]

    def end_record(self) -> None:
        self.skipping = False
        if self.pname is None:
            return
        key = self.pname + b"".join(b";" + f for frames in reversed(self.frames) for f in frames)
        self.counts[key] = self.counts.get(key, 0) + self.period
        self.stats.records += 1
        self.pname = None
        self.frames = []

    def finish(self) -> None:
        if self.pname is not None:
            self.stats.unterminated += 1
            self.pname = None
            self.frames = []


def fold_lines(lines: Iterable[bytes], options: FoldOptions = FoldOptions()) -> Folded:
    """Fold with the line-by-line transcription only (the reference for the fast path)."""
    counts: dict[bytes, int] = {}
    stats = CollapseStats()
    machine = _Machine(options, counts, stats, _LineFolder())
    for line in lines:
        machine.feed(line)
    machine.finish()
    return Folded(counts, stats)


# ----------------------------------------------------------------------------------------------
# The fast path.
# ----------------------------------------------------------------------------------------------

_COMPLEX = object()  # a stack text that needs the state machine


class _Collapser:
    def __init__(self, options: FoldOptions, event: str | None) -> None:
        self.options = options
        self.event = event.encode() if event is not None else None
        self.final: dict[bytes, int] = {}
        self.stats = CollapseStats()
        self.folder = _LineFolder()
        self.machine = _Machine(options, self.final, self.stats, self.folder)
        self.counts: dict[tuple[bytes, bytes], int] = {}
        self.stack_info: dict[bytes, object] = {}
        self.dirty = False  # the machine is inside a record (its blank line not seen yet)
        self.plain_names = not (options.include_pid or options.include_tid)

    # -- stack texts ------------------------------------------------------------------------

    def analyse(self, text: bytes) -> object:
        """(unreadable lines, folded suffix) for a stack text, or `_COMPLEX`."""
        if not text:
            return (0, b"")
        bad = 0
        folded: list[tuple[bytes, ...]] = []
        for line in text.split(b"\n"):
            first = line[:1]
            if first == b"#":
                continue
            if not line or (first not in _WS and perl_header(line) is not None):
                return _COMPLEX
            result = self.folder.fold(line, False)
            if result is UNRECOGNIZED:
                bad += 1
                continue
            if result:
                folded.append(result)  # type: ignore[arg-type]
        suffix = b"".join(b";" + f for frames in reversed(folded) for f in frames)
        return (bad, suffix)

    def suffix(self, text: bytes, java: bool) -> bytes:
        info = self.stack_info[text]
        if not java:
            return info[1]  # type: ignore[index]
        folded = []
        for line in text.split(b"\n"):
            if line[:1] == b"#":
                continue
            result = self.folder.fold(line, True)
            if result:
                folded.append(result)
        return b"".join(b";" + f for frames in reversed(folded) for f in frames)

    # -- records ----------------------------------------------------------------------------

    def slow(self, block: bytes, terminated: bool = True) -> None:
        """Run a block through the state machine (then its blank line, if it had one)."""
        lines = block.split(b"\n")
        if self.event is not None and not self.dirty:
            self.slow_event(lines, terminated)
            return
        feed = self.machine.feed
        for line in lines:
            feed(line)
        if terminated:
            feed(b"")
            self.dirty = False
        else:
            self.dirty = True

    def slow_event(self, lines: list[bytes], terminated: bool) -> None:
        """With `event=`: keep only that event's records, each ended by a blank line."""
        keep = False
        started = False
        feed = self.machine.feed
        for line in lines:
            event = header_event(line) if line[:1] not in (b"", b"#") else None
            if event is not None:
                if keep:
                    feed(b"")
                keep = event == self.event
                started = True
                if not keep:
                    self.stats.other_event_records += 1
            elif not started:
                if line and line[:1] != b"#":
                    if perl_stack(line) is None:
                        self.stats.note_unreadable(line)
                    else:
                        self.stats.orphan_frames += 1
                continue
            if keep:
                feed(line)
            elif event is None and line and line[:1] != b"#" and perl_stack(line) is None:
                self.stats.note_unreadable(line)
        if keep:
            if terminated:
                feed(b"")
            else:
                self.dirty = True

    def blocks(self, pieces: list[bytes]) -> None:
        counts = self.counts
        stack_info = self.stack_info
        stats = self.stats
        machine = self.machine
        event = self.event
        plain = self.plain_names
        start = 0
        if self.dirty and pieces:
            # The first piece ends the record the machine is in.
            self.dirty = False
            feed = machine.feed
            for line in pieces[0].split(b"\n"):
                feed(line)
            feed(b"")
            start = 1
        records = 0
        for index in range(start, len(pieces)):
            block = pieces[index]
            if block[:1] == b"\n":
                block = block.lstrip(b"\n")
                if not block:
                    continue
            elif not block:
                continue
            newline = block.find(b"\n")
            if newline < 0:
                header, text = block, b""
            else:
                header, text = block[:newline], block[newline + 1 :]
            if header[:1] in (b"#", b" ", b"\t") or machine.pname is not None:
                self.slow(block)
                continue
            parsed = perl_header(header)
            if parsed is None:
                self.slow(block)
                continue
            info = stack_info.get(text)
            if info is None:
                info = stack_info[text] = self.analyse(text)
            if info is _COMPLEX:
                self.slow(block)
                continue
            if event is not None:
                this_event = header_event(header)
                if this_event is None:
                    self.slow(block)
                    continue
                if this_event != event:
                    stats.other_event_records += 1
                    if info[0]:  # type: ignore[index]
                        self.note_bad_lines(text, info[0])  # type: ignore[index]
                    continue
            period = 1
            if header.rstrip(_WS).endswith(b":"):
                keep, period = machine.accept_event(header)
                if not keep:
                    stats.filtered_records += 1
                    if info[0]:  # type: ignore[index]
                        self.note_bad_lines(text, info[0])  # type: ignore[index]
                    continue
            if info[0]:  # type: ignore[index]
                self.note_bad_lines(text, info[0])  # type: ignore[index]
            name = parsed[0] if plain else machine.pname_for(*parsed)
            key = (name, text)
            counts[key] = counts.get(key, 0) + period
            records += 1
        stats.records += records

    def note_bad_lines(self, text: bytes, count: int) -> None:
        if len(self.stats.unreadable_samples) >= 5:
            self.stats.unreadable += count
            return
        for line in text.split(b"\n"):
            if line[:1] != b"#" and perl_stack(line) is None:
                self.stats.note_unreadable(line)

    def run(self, chunks: Iterable[bytes]) -> Folded:
        rest = b""
        skipping = False
        for chunk in chunks:
            buffer = rest + chunk if rest else chunk
            if b"\r" in buffer:
                buffer = buffer.replace(b"\r\n", b"\n")
            if skipping:
                newline = buffer.find(b"\n")
                if newline < 0:
                    rest = b""
                    continue
                buffer = buffer[newline + 1 :]
                skipping = False
            pieces = buffer.split(b"\n\n")
            rest = pieces.pop()
            self.blocks(pieces)
            if len(rest) > MAX_LINE:
                # No blank line for a long time: hand the complete lines to the machine.
                newline = rest.rfind(b"\n")
                if newline >= 0:
                    self.slow(rest[:newline], terminated=False)
                    rest = rest[newline + 1 :]
                if len(rest) > MAX_LINE:
                    self.stats.oversize_lines += 1
                    rest = b""
                    skipping = True
        if rest and not skipping:
            if rest.endswith(b"\n"):
                # "…\n" at the very end: the last line is complete, no blank line follows.
                rest = rest[:-1]
            self.slow(rest, terminated=False)
        self.machine.finish()
        self.resolve()
        return Folded(self.final, self.stats)

    def resolve(self) -> None:
        final = self.final
        for (name, text), count in self.counts.items():
            java = name.startswith(b"java")
            key = name.replace(b" ", b"_") + self.suffix(text, java)
            final[key] = final.get(key, 0) + count
        self.counts = {}


def collapse(
    source: str | os.PathLike[str] | BinaryIO | TraceInput,
    *,
    event: str | None = None,
    options: FoldOptions = FoldOptions(),
    chunk_size: int = CHUNK_SIZE,
) -> Folded:
    """Fold a `perf script` trace as `stackcollapse-perf.pl` does.

    Without `event`, every record is folded under the reference's own rules (on tracepoint
    traces: all of them). With `event` (`net:net_dev_queue`), only that event's records are
    folded, exactly as the reference folds those records once cut out of the trace.
    """
    collapser = _Collapser(options, event)
    if isinstance(source, TraceInput):
        folded = collapser.run(source.chunks(chunk_size))
        folded.stats.problem = source.problem
        return folded
    with TraceInput(source) as trace:
        folded = collapser.run(trace.chunks(chunk_size))
        folded.stats.problem = trace.problem
    return folded


def fold_records(records: Iterable[object], options: FoldOptions = FoldOptions()) -> Folded:
    """Fold records from `perfscript.read_records` (each one followed by its blank line)."""
    counts: dict[bytes, int] = {}
    stats = CollapseStats()
    machine = _Machine(options, counts, stats, _LineFolder())
    for record in records:
        machine.feed(record.header.encode("utf-8", "surrogateescape"))  # type: ignore[attr-defined]
        for frame in record.frames:  # type: ignore[attr-defined]
            if frame.raw:
                machine.feed(frame.raw.encode("utf-8", "surrogateescape"))
        machine.feed(b"")
    return Folded(counts, stats)
