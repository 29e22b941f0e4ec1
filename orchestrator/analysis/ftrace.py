"""A parser for ftrace `function_graph` output: call trees per CPU, and a summary per function.

    # tracer: function_graph
    #
    # CPU  DURATION                  FUNCTION CALLS
    # |     |   |                     |   |   |   |
     0)               |  br_handle_frame [bridge]() {
     0)   0.274 us    |    br_validate_ipv4.isra.0 [br_netfilter]();
     0) + 69.734 us   |  }
     ------------------------------------------
     3)    <idle>-0    => kworker-21975
     ------------------------------------------

Read: leaf calls (`foo();`, duration on the same line), nested blocks (`foo() {` … `}` with the
duration on the closing line, `} /* foo */` with funcgraph-tail), module annotations
(`[bridge]`), the overhead markers before a duration (`+` > 10 us, `!` > 100 us, `#` > 1 ms,
`*` > 10 ms, `@` > 100 ms, `$` > 1 s), context-switch banners (`a-1 => b-2`), interrupt
arrows (`==>` / `<==`), trace_printk comments (`/* … */`), the optional absolute-time and
task/pid columns, and several CPUs interleaved: every CPU has its own stack of open calls, and
a context switch puts the outgoing task's open calls aside until that task runs again.

Nothing is guessed: a closing brace with no open call is counted (`unmatched_closes`), calls
still open at the end have no duration (`unclosed`), unreadable lines are counted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from orchestrator.analysis.source import TraceInput

MARKERS = {"+": 10.0, "!": 100.0, "#": 1_000.0, "*": 10_000.0, "@": 100_000.0, "$": 1_000_000.0}

_CPU_RE = re.compile(r"^\s*(?:(?P<abstime>\d+\.\d+)\s*\|\s*)?(?P<cpu>\d+)\)(?P<rest>.*)$")
_DURATION_RE = re.compile(
    r"^\s*(?:(?P<marker>[-+!#*@$])\s*)?(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>us|ms|s)\s*$"
)
_SWITCH_RE = re.compile(r"^\s*(?P<prev>\S+)\s+=>\s+(?P<next>\S+)\s*$")
_CALL_RE = re.compile(
    r"^(?P<name>[^\s(){};]+)(?:\s+\[(?P<module>[^\]]+)\])?\(\)\s*(?P<kind>;|\{)\s*$"
)
_CLOSE_RE = re.compile(r"^\}\s*(?:/\*\s*(?P<name>\S+?)\s*\*/)?\s*$")
_UNIT = {"us": 1.0, "ms": 1_000.0, "s": 1_000_000.0}


@dataclass(eq=False)
class Call:
    """One function call; `duration` in microseconds (None when its end was not traced)."""

    name: str
    module: str | None
    cpu: int
    depth: int
    line: int
    task: str | None = None
    duration: float | None = None
    marker: str | None = None
    leaf: bool = False
    children: list[Call] = field(default_factory=list)

    @property
    def self_time(self) -> float | None:
        if self.duration is None:
            return None
        return self.duration - sum(c.duration for c in self.children if c.duration is not None)

    def walk(self) -> Iterator[Call]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class ContextSwitch:
    cpu: int
    previous: str
    next: str
    line: int


@dataclass
class FunctionStats:
    name: str
    module: str | None = None
    calls: int = 0
    timed_calls: int = 0
    total: float = 0.0
    self_time: float = 0.0
    max: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "function": self.name,
            "module": self.module,
            "calls": self.calls,
            "timed_calls": self.timed_calls,
            "total_us": round(self.total, 6),
            "self_us": round(self.self_time, 6),
            "max_us": self.max,
        }


@dataclass
class FunctionGraph:
    roots: dict[int, list[Call]] = field(default_factory=dict)  # per CPU, in trace order
    switches: list[ContextSwitch] = field(default_factory=list)
    lines: int = 0
    comments: int = 0
    unreadable: int = 0
    unreadable_samples: list[tuple[int, str]] = field(default_factory=list)
    unmatched_closes: int = 0
    unclosed: int = 0
    interrupts: int = 0
    problem: str | None = None

    def calls(self) -> Iterator[Call]:
        for cpu in sorted(self.roots):
            for root in self.roots[cpu]:
                yield from root.walk()

    @property
    def cpus(self) -> list[int]:
        return sorted(self.roots)

    def functions(self) -> dict[str, FunctionStats]:
        table: dict[str, FunctionStats] = {}
        for call in self.calls():
            entry = table.get(call.name)
            if entry is None:
                entry = table[call.name] = FunctionStats(call.name, call.module)
            entry.calls += 1
            if call.duration is not None:
                entry.timed_calls += 1
                entry.total += call.duration
                entry.self_time += call.self_time or 0.0
                entry.max = call.duration if entry.max is None else max(entry.max, call.duration)
        return table

    def summary(self) -> list[FunctionStats]:
        return sorted(self.functions().values(), key=lambda f: (-f.total, -f.calls, f.name))

    def as_dict(self) -> dict[str, object]:
        return {
            "cpus": self.cpus,
            "calls": sum(1 for _ in self.calls()),
            "context_switches": [
                {"cpu": s.cpu, "from": s.previous, "to": s.next, "line": s.line}
                for s in self.switches
            ],
            "functions": [f.as_dict() for f in self.summary()],
            "lines": self.lines,
            "comments": self.comments,
            "unreadable_lines": self.unreadable,
            "unreadable_samples": [{"line": n, "text": t} for n, t in self.unreadable_samples],
            "unmatched_closes": self.unmatched_closes,
            "unclosed_calls": self.unclosed,
            "interrupts": self.interrupts,
            "problem": self.problem,
        }


class _Parser:
    def __init__(self) -> None:
        self.graph = FunctionGraph()
        self.stacks: dict[int, list[Call]] = {}
        self.tasks: dict[int, str] = {}
        self.parked: dict[str, list[Call]] = {}

    def bad(self, line_no: int, text: str) -> None:
        self.graph.unreadable += 1
        if len(self.graph.unreadable_samples) < 10:
            self.graph.unreadable_samples.append((line_no, text[:200]))

    def feed(self, line_no: int, line: str) -> None:
        graph = self.graph
        stripped = line.strip()
        if not stripped:
            return
        if stripped.startswith("#"):
            graph.comments += 1
            return
        if set(stripped) == {"-"}:
            return  # banner rule
        match = _CPU_RE.match(line)
        if match is None:
            self.bad(line_no, line)
            return
        cpu = int(match.group("cpu"))
        rest = match.group("rest")
        if "|" not in rest:
            switch = _SWITCH_RE.match(rest)
            if switch is None:
                self.bad(line_no, line)
                return
            self.switch(cpu, switch.group("prev"), switch.group("next"), line_no)
            return
        columns = rest.split("|")
        body = columns[-1]
        duration_text = columns[-2]
        if "==>" in duration_text or "<==" in duration_text:
            graph.interrupts += 1
            return
        duration = marker = None
        if duration_text.strip():
            found = _DURATION_RE.match(duration_text)
            if found is None:
                # With funcgraph-proc the task column sits between CPU and duration.
                self.bad(line_no, line)
                return
            duration = float(found.group("value")) * _UNIT[found.group("unit")]
            marker = found.group("marker")
            if marker == "-":
                marker = None
        text = body.strip()
        if text.startswith("/*"):
            return  # trace_printk or event comment
        call = _CALL_RE.match(text)
        stack = self.stacks.setdefault(cpu, [])
        if call is not None:
            node = Call(
                call.group("name"),
                call.group("module"),
                cpu,
                len(stack),
                line_no,
                task=self.tasks.get(cpu),
            )
            if call.group("kind") == ";":
                node.leaf = True
                node.duration = duration
                node.marker = marker
                self.attach(cpu, node)
            else:
                self.attach(cpu, node)
                stack.append(node)
            return
        close = _CLOSE_RE.match(text)
        if close is not None:
            if not stack:
                graph.unmatched_closes += 1
                return
            node = stack.pop()
            node.duration = duration
            node.marker = marker
            return
        self.bad(line_no, line)

    def attach(self, cpu: int, node: Call) -> None:
        stack = self.stacks[cpu]
        if stack:
            stack[-1].children.append(node)
        else:
            self.graph.roots.setdefault(cpu, []).append(node)

    def switch(self, cpu: int, previous: str, next_: str, line_no: int) -> None:
        self.graph.switches.append(ContextSwitch(cpu, previous, next_, line_no))
        stack = self.stacks.get(cpu, [])
        if stack:
            self.parked[previous] = stack
        self.stacks[cpu] = self.parked.pop(next_, [])
        self.tasks[cpu] = next_
        self.graph.roots.setdefault(cpu, [])

    def finish(self) -> FunctionGraph:
        unclosed = sum(len(s) for s in self.stacks.values())
        unclosed += sum(len(s) for s in self.parked.values())
        self.graph.unclosed = unclosed
        self.graph.roots = {cpu: calls for cpu, calls in self.graph.roots.items() if calls}
        return self.graph


def parse_lines(lines: Iterable[str]) -> FunctionGraph:
    parser = _Parser()
    count = 0
    for count, line in enumerate(lines, 1):
        try:
            parser.feed(count, line)
        except (ValueError, OverflowError):
            parser.bad(count, line)
    parser.graph.lines = count
    return parser.finish()


def parse_function_graph(source: str | os.PathLike[str] | TraceInput) -> FunctionGraph:
    """Parse a function_graph trace file (plain, gzip, xz or `-`)."""
    trace = source if isinstance(source, TraceInput) else TraceInput(source)
    try:
        graph = parse_lines(line.decode("utf-8", "backslashreplace") for line in trace.lines())
        graph.unreadable += trace.oversize_lines
        graph.problem = trace.problem
        return graph
    finally:
        if not isinstance(source, TraceInput):
            trace.close()


def marker_for(duration_us: float) -> str | None:
    """The overhead marker ftrace prints for a duration (None below 10 us)."""
    found = None
    for marker, threshold in MARKERS.items():
        if duration_us > threshold:
            found = marker
    return found
