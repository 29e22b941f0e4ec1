"""The matrix spec: what to measure, loaded from YAML and validated before anything runs.

A spec that loads is a complete, frozen `Spec`: every default is filled in from `DEFAULTS`
(the only place defaults live) and every problem found on the way is a `NetmatrixError`
naming file, line, column and key. `spec_hash` identifies the experiment for resume: it is
computed from the validated values, so comments, formatting, key order and writing `5s`
instead of `5` do not change it, while any change to what is measured does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.experiment import netem
from orchestrator.yamlsource import Node, describe, load_yaml

MODES = ("loopback", "host", "bridge", "bridge-user", "macvlan", "ipvlan-l2", "ipvlan-l3")
PROTOS = ("tcp", "udp")
# The largest message each protocol carries in one send: a UDP datagram over IPv4, and the
# traffic generator's own cap for a TCP write.
MAX_SIZE = {"udp": 65507, "tcp": 1048576}
PHASES = ("plain", "traced")
CALL_GRAPHS = ("fp", "dwarf", "lbr", "none")
TRAFFIC = ("stream", "rr")
MAX_REPETITIONS = 1000
MAX_SECONDS = 3600.0
# At a million events a second, an hour-long run records a few samples at this period: any
# longer one records nothing, and perf would be handed a number it may not even parse.
MAX_PERIOD = 1_000_000_000

# Every default of a spec, by section (`""` is the top level). Defaults go through the same
# validation as written values.
DEFAULTS: dict[str, dict[str, Any]] = {
    "": {
        "repetitions": 5,
        "duration": "5s",
        "warmup": "1s",
        "phases": ["plain", "traced"],
        "traffic": "stream",
        "trace": {},
    },
    "trace": {"perf": {}},
    # period 11: the largest odd period within ~5% of full recordings (bench/RESULTS.md)
    "trace.perf": {"events": ["net:*", "skb:*"], "call_graph": "fp", "period": 11},
    # 4 MB per CPU holds about 100k function_graph entries; depth 0 is the kernel's "no limit".
    "trace.ftrace": {"buffer_size_kb": 4096, "max_graph_depth": 0},
}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)")
_SECONDS_PER = {"s": 1, "m": 60, "h": 3600}  # and ms, divided (300 * 0.001 is not 0.3)
_FUNCTION = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
# A kernel release (6.1.0-13-amd64, 5.15.0-91-generic, 6.8.0+) with fnmatch's * ? [ ] !.
_KERNEL_PATTERN = re.compile(r"[A-Za-z0-9._+~*?\[\]!-]+")
# perf's event syntax (net:*, cpu/event=0x3c/u, {a,b}:S) without spaces or shell characters.
_EVENT = re.compile(r"[A-Za-z0-9_:*?.,=/@+{}\[\]-]+")
# A set_ftrace_filter glob (net*, *skb*, tcp_v4_?cv), negated with a leading `!`, or limited
# to a module (`*:mod:bridge`): no spaces or shell characters.
_FILTER = re.compile(r"!?[A-Za-z0-9_.*?\[\]]+(?::mod:[A-Za-z0-9_-]+)?")
# Per CPU: 1 GB of trace buffer per CPU is more than any lab host should give away.
MAX_BUFFER_KB = 1 << 20
# The kernel's own limit on function_graph's depth (FTRACE_RETFUNC_DEPTH is 50 or 100).
MAX_GRAPH_DEPTH = 100


@dataclass(frozen=True)
class Axes:
    """The values the matrix crosses; `kernel` holds fnmatch patterns (empty: any kernel),
    `netem` canonical netem values (empty: no netem axis, the path as it is)."""

    mode: tuple[str, ...]
    size: tuple[int, ...]
    proto: tuple[str, ...]
    kernel: tuple[str, ...] = ()
    netem: tuple[str, ...] = ()


@dataclass(frozen=True)
class Perf:
    """perf record options: events (`-e`), call graph (`--call-graph`), sample period (`-c`)."""

    events: tuple[str, ...]
    call_graph: str
    period: int


@dataclass(frozen=True)
class Ftrace:
    """ftrace function_graph options.

    Attributes:
        graph_functions: the roots of the graphs (`set_graph_function`).
        filter: globs that limit the functions traced at all (`set_ftrace_filter`; empty:
            every function under the roots).
        buffer_size_kb: the ring buffer per CPU; a fuller one overruns (counted).
        max_graph_depth: how deep under a root to trace (0: no limit).
    """

    graph_functions: tuple[str, ...]
    filter: tuple[str, ...]
    buffer_size_kb: int
    max_graph_depth: int


@dataclass(frozen=True)
class Trace:
    """How the traced phase records; no `ftrace` means perf only."""

    perf: Perf
    ftrace: Ftrace | None = None


@dataclass(frozen=True)
class Spec:
    """A validated matrix spec. Durations are in seconds."""

    name: str
    baseline: str
    axes: Axes
    repetitions: int
    duration: float
    warmup: float
    phases: tuple[str, ...]
    trace: Trace
    traffic: str


def load_spec(path: Path | str) -> Spec:
    """Load and validate a spec file; the first problem found is raised, located."""
    return parse_spec(Node.root(load_yaml(path), str(path)))


def parse_spec(root: Node) -> Spec:
    """Validate a loaded spec document (see `load_spec`)."""
    fields = root.mapping(required=("name", "baseline", "axes"), defaults=DEFAULTS[""])
    name = fields["name"].string()
    if not _NAME.fullmatch(name):
        raise fields["name"].error(
            f"{name!r} may hold only letters, digits, '.', '_' and '-' (it names directories)"
        )
    axes = _axes(fields["axes"])
    baseline = fields["baseline"].choice(MODES, "mode")
    if baseline not in axes.mode:
        raise fields["baseline"].error(f"{baseline!r} is not among axes.mode")
    repetitions = fields["repetitions"].integer()
    if not 1 <= repetitions <= MAX_REPETITIONS:
        raise fields["repetitions"].error(f"{repetitions} is out of range (1..{MAX_REPETITIONS})")
    phases = {item.choice(PHASES, "phase") for item in fields["phases"].sequence(unique=True)}
    return Spec(
        name=name,
        baseline=baseline,
        axes=axes,
        repetitions=repetitions,
        duration=_seconds(fields["duration"], allow_zero=False),
        warmup=_seconds(fields["warmup"], allow_zero=True),
        phases=tuple(phase for phase in PHASES if phase in phases),
        trace=_trace(fields["trace"]),
        traffic=fields["traffic"].choice(TRAFFIC, "traffic mode"),
    )


def canonical_json(spec: Spec) -> str:
    """The spec as canonical JSON: sorted keys, no whitespace — what `spec_hash` digests.

    An absent netem axis is left out, so specs written before it keep their hash (and resume).
    """
    values = dataclasses.asdict(spec)
    if not spec.axes.netem:
        del values["axes"]["netem"]
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


def spec_hash(spec: Spec) -> str:
    """sha256 (hex) of the validated spec; runs of the same hash are the same experiment."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def _axes(node: Node) -> Axes:
    fields = node.mapping(required=("mode", "size", "proto"), optional=("kernel", "netem"))
    modes = tuple(item.choice(MODES, "mode") for item in fields["mode"].sequence(unique=True))
    protos = tuple(
        item.choice(PROTOS, "protocol") for item in fields["proto"].sequence(unique=True)
    )
    # A size must fit every protocol of the matrix, since each size is crossed with each.
    limit, limiting = min((MAX_SIZE[proto], proto) for proto in protos)
    sizes: list[int] = []
    for item in fields["size"].sequence(unique=True):
        size = item.integer()
        if not 1 <= size <= limit:
            raise item.error(f"{size} is out of range (1..{limit} for {limiting})")
        sizes.append(size)
    kernels: list[str] = []
    for item in fields["kernel"].sequence(unique=True) if "kernel" in fields else ():
        pattern = item.string()
        if not _KERNEL_PATTERN.fullmatch(pattern):
            raise item.error(
                f"{pattern!r} is not a kernel release pattern (like 6.1.* or 5.15.0-91-generic)"
            )
        kernels.append(pattern)
    return Axes(
        mode=modes,
        size=tuple(sizes),
        proto=protos,
        kernel=tuple(kernels),
        netem=_netem(fields["netem"]) if "netem" in fields else (),
    )


def _netem(node: Node) -> tuple[str, ...]:
    """Distinct netem values of the accepted grammar (`netem.GRAMMAR`), canonical."""
    values: list[str] = []
    for item in node.sequence(unique=True):
        try:
            value = netem.parse(item.string())
        except netem.NetemError as error:
            raise item.error(str(error)) from None
        if value in values:
            raise item.error(f"{value!r} is listed twice")
        values.append(value)
    return tuple(values)


def _trace(node: Node) -> Trace:
    fields = node.mapping(optional=("ftrace",), defaults=DEFAULTS["trace"])
    perf = fields["perf"].mapping(defaults=DEFAULTS["trace.perf"])
    events = _strings(
        perf["events"], _EVENT, "is not a perf event (no spaces or shell characters allowed)"
    )
    period = perf["period"].integer()
    if not 1 <= period <= MAX_PERIOD:
        raise perf["period"].error(f"{period} is out of range (1..{MAX_PERIOD})")
    return Trace(
        perf=Perf(
            events=events,
            call_graph=perf["call_graph"].choice(CALL_GRAPHS, "call graph"),
            period=period,
        ),
        ftrace=_ftrace(fields["ftrace"]) if "ftrace" in fields else None,
    )


def _ftrace(node: Node) -> Ftrace:
    fields = node.mapping(
        required=("graph_functions",), optional=("filter",), defaults=DEFAULTS["trace.ftrace"]
    )
    functions = _strings(fields["graph_functions"], _FUNCTION, "is not a kernel function name")
    patterns = (
        _strings(
            fields["filter"],
            _FILTER,
            "is not an ftrace filter pattern (a glob like net* or *skb*, no spaces or shell "
            "characters)",
        )
        if "filter" in fields
        else ()
    )
    buffer_kb = fields["buffer_size_kb"].integer()
    if not 1 <= buffer_kb <= MAX_BUFFER_KB:
        raise fields["buffer_size_kb"].error(f"{buffer_kb} is out of range (1..{MAX_BUFFER_KB})")
    depth = fields["max_graph_depth"].integer()
    if not 0 <= depth <= MAX_GRAPH_DEPTH:
        raise fields["max_graph_depth"].error(f"{depth} is out of range (0..{MAX_GRAPH_DEPTH})")
    return Ftrace(functions, patterns, buffer_kb, depth)


def _strings(node: Node, pattern: re.Pattern[str], refusal: str) -> tuple[str, ...]:
    """A non-empty list of distinct strings that each match `pattern` whole."""
    values: list[str] = []
    for item in node.sequence(unique=True):
        value = item.string()
        if not pattern.fullmatch(value):
            raise item.error(f"{value!r} {refusal}")
        values.append(value)
    return tuple(values)


def _seconds(node: Node, *, allow_zero: bool) -> float:
    """A duration: `5s`, `500ms`, `2m`, `1h`, or a number of seconds; at most an hour."""
    value = node.value
    seconds = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        number, unit = float(match[1]), match[2]
        seconds = number / 1000 if unit == "ms" else number * _SECONDS_PER[unit]
    if not math.isfinite(seconds):
        raise node.error(
            f"{describe(value)} is not a duration (like 5s, 500ms, 2m, 1h or a number of seconds)"
        )
    if seconds > MAX_SECONDS:
        raise node.error(f"{describe(value)} is longer than 1 h")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise node.error(f"{describe(value)} must be {'at least' if allow_zero else 'more than'} 0")
    return seconds
