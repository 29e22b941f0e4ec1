"""`trace.summary`: what a trace holds, counted in one pass over its records.

Records per event, per device (the payload's `dev=`), per process; a histogram of payload
lengths (`len=`, power-of-two buckets); the functions found in most records (inclusive: a
record counts once for every distinct function anywhere in its stack); unreadable lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from orchestrator.analysis.perfscript import ParseStats, Record


def length_bucket(length: int) -> tuple[int, int]:
    """The power-of-two bucket [low, high] holding a payload length (0 alone in [0, 0])."""
    if length <= 0:
        return 0, 0
    low = 1 << (length.bit_length() - 1)
    return low, low * 2 - 1


@dataclass
class TraceSummary:
    records: int = 0
    events: Counter[str] = field(default_factory=Counter)
    devices: Counter[str] = field(default_factory=Counter)
    processes: Counter[str] = field(default_factory=Counter)
    lengths: Counter[tuple[int, int]] = field(default_factory=Counter)
    functions: Counter[tuple[str, bool]] = field(default_factory=Counter)  # (name, kernel)
    records_with_stack: int = 0
    first_time: float | None = None
    last_time: float | None = None
    stats: ParseStats = field(default_factory=ParseStats)

    def add(self, record: Record) -> None:
        self.records += 1
        self.events[record.event] += 1
        self.processes[record.comm] += 1
        device = record.fields.get("dev")
        if device is not None:
            self.devices[device] += 1
        length = record.field_int("len")
        if length is not None:
            self.lengths[length_bucket(length)] += 1
        if record.frames:
            self.records_with_stack += 1
            seen = {(f.symbol, f.is_kernel) for f in record.frames if f.function is not None}
            self.functions.update(seen)
        if record.timestamp is not None:
            if self.first_time is None or record.timestamp < self.first_time:
                self.first_time = record.timestamp
            if self.last_time is None or record.timestamp > self.last_time:
                self.last_time = record.timestamp

    def top_functions(self, limit: int = 20) -> list[tuple[str, bool, int]]:
        ranked = sorted(self.functions.items(), key=lambda item: (-item[1], item[0][0]))
        return [(name, kernel, count) for (name, kernel), count in ranked[:limit]]

    def as_dict(self, top: int = 20) -> dict[str, object]:
        def ranked(counter: Counter[str]) -> dict[str, int]:
            return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))

        return {
            "records": self.records,
            "unreadable_lines": self.stats.unreadable_lines,
            "events": ranked(self.events),
            "devices": ranked(self.devices),
            "processes": ranked(self.processes),
            "payload_length": [
                {"low": low, "high": high, "records": count}
                for (low, high), count in sorted(self.lengths.items())
            ],
            "top_functions": [
                {
                    "function": name,
                    "kernel": kernel,
                    "samples": count,
                    "share": count / self.records if self.records else 0.0,
                }
                for name, kernel, count in self.top_functions(top)
            ],
            "records_with_stack": self.records_with_stack,
            "time": {"first": self.first_time, "last": self.last_time},
            "parse": self.stats.as_dict(),
        }


def summarize(records: Iterable[Record], stats: ParseStats | None = None) -> TraceSummary:
    """Summarise records (pass the reader's `stats` to report its unreadable lines)."""
    summary = TraceSummary()
    for record in records:
        summary.add(record)
    if stats is not None:
        summary.stats = stats
    return summary
