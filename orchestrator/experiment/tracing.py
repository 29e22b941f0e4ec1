"""Kernel tracing for the traced phase: perf recording around the client, then ftrace's
function_graph around another run of it, when the spec asks and the kernel has the tracer.

perf is started as the wrapper of the client command (`perf record -a … -- client`), so the
recording covers exactly the client's lifetime and stops (flushing its data) on its own when
the client exits: nothing is left to stop or kill afterwards, even when the client fails.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from orchestrator.connection import CommandResult
from orchestrator.errors import NetmatrixError
from orchestrator.experiment.spec import Ftrace

TRACEFS = "/sys/kernel/tracing"
_LOST = re.compile(r"lost (\d+) (?:chunks|samples|events)", re.IGNORECASE)
_SAMPLES = re.compile(r"\((\d+) samples\)")
_NO_TRACEPOINTS = re.compile(r"unknown tracepoint|tracefs|debugfs", re.IGNORECASE)


@dataclass(frozen=True)
class PerfOptions:
    """What `perf record` is asked to record."""

    events: tuple[str, ...] = ("net:*", "skb:*")
    call_graph: str = "fp"
    period: int = 1


@dataclass(frozen=True)
class PerfRecording:
    """What perf said about a recording: samples written and events lost."""

    samples: int | None
    lost: int


class TracingUnavailable(NetmatrixError):
    """perf or tracefs is missing on a host: provisioning has not run (or was undone)."""


def record_argv(options: PerfOptions, output: str, workload: Sequence[str]) -> list[str]:
    """`perf record` system-wide around `workload`, writing `output`.

    `--no-period` is what makes `-c N` work on tracepoints: when samples carry their period,
    the kernel samples every tracepoint hit whatever N is (perf_swevent_event), so a period
    of 100 would record as much as a period of 1. `--no-bpf-event` saves about a second of
    start-up that BPF program bookkeeping costs and tracepoint traces never use.
    """
    argv = ["perf", "record", "-a", "--no-bpf-event", "--no-period"]
    for event in options.events:
        argv += ["-e", event]
    if options.call_graph != "none":
        argv += ["--call-graph", options.call_graph]
    argv += ["-c", str(options.period), "-o", output, "--", *workload]
    return argv


def script_argv(data: str) -> list[str]:
    """`perf script` over a recording, with the fields the parser and the reference expect."""
    return ["perf", "script", "-i", data]


def parse_recording(stderr: str) -> PerfRecording:
    """Samples and lost events from what `perf record`/`perf script` print on stderr."""
    samples = _SAMPLES.search(stderr)
    lost = sum(int(match) for match in _LOST.findall(stderr))
    return PerfRecording(samples=int(samples.group(1)) if samples else None, lost=lost)


def has_tracer(available_tracers: Sequence[str] | None, tracer: str) -> bool:
    """Whether the kernel offers `tracer` (from the `tracers` fact)."""
    return bool(available_tracers) and tracer in (available_tracers or ())


def check_perf_ran(result: CommandResult) -> None:
    """Name the fix when perf itself could not run: missing binary or unmounted tracefs."""
    if result.rc == 127 or "perf: not found" in result.stderr:
        raise TracingUnavailable("perf missing on the host: run invoke provision")
    if _NO_TRACEPOINTS.search(result.stderr):
        raise TracingUnavailable(
            f"perf cannot open the tracepoints (tracefs not mounted at {TRACEFS}?): "
            "run invoke provision"
        )


# ftrace's pass: function_graph around a second run of the client. The tracer is global
# kernel state, so what a recording changes is saved first (`ftrace.state` in the run's work
# directory: tracing_on, buffer_size_kb, max_graph_depth) and `FTRACE_RESET` puts it back:
# right after the pass, in teardown, and in the sweep after a run that died before either.
FTRACE_UNSUPPORTED_RC = 97
FTRACE_STATE = "ftrace.state"
_UNSUPPORTED = "netmatrix-ftrace-unsupported: "
_REFUSED = "netmatrix-ftrace-refused: "

# `ftrace_reset STATE`: nop, empty filters, and what STATE saved; nothing without STATE (so
# no other user's tracing is touched unless a netmatrix recording changed it).
FTRACE_RESET = f"""ftrace_reset() {{
    [ -f "$1" ] || return 0
    read -r on kb depth < "$1"
    echo nop > {TRACEFS}/current_tracer
    true > {TRACEFS}/set_ftrace_filter
    true > {TRACEFS}/set_graph_function
    echo "$depth" > {TRACEFS}/max_graph_depth
    echo "$kb" > {TRACEFS}/buffer_size_kb
    echo "$on" > {TRACEFS}/tracing_on
    rm -f "$1"
}} 2>/dev/null
"""

# `sh -c RECORD record WORK DEPTH KB "GRAPH…" "FILTER…" CLIENT…`. Names and patterns were
# validated by the spec (no spaces, no shell characters); `set -f` keeps the patterns from
# being expanded as file names. A write the kernel refuses leaves its errno text in `err`.
# Files are truncated with `true >`, not `: >`: a failed redirection of a special built-in
# such as `:` ends a POSIX shell at once, before it could say why.
_FTRACE_RECORD = f"""set -f
t={TRACEFS}; work="$1"; depth="$2"; kb="$3"; graph="$4"; filter="$5"; shift 5
err="$work/ftrace.err"
unsupported() {{ printf '{_UNSUPPORTED}%s\\n' "$*" >&2; exit {FTRACE_UNSUPPORTED_RC}; }}
said() {{ tail -n 1 "$err" | sed 's/^.*: //'; }}
put() {{ {{ printf '%s\\n' "$2" >> "$t/$1"; }} 2>"$err"; }}
[ -e "$t/available_tracers" ] || mount -t tracefs nodev "$t" 2>"$err" \\
    || unsupported "tracefs cannot be mounted at $t: $(said)"
grep -qw function_graph "$t/available_tracers" \\
    || unsupported "the kernel has no function_graph tracer (available_tracers: \\
$(cat "$t/available_tracers"))"
kb_now=$(sed 's/.*expanded: \\([0-9]*\\).*/\\1/; s/ .*//' "$t/buffer_size_kb")
echo "$(cat "$t/tracing_on") $kb_now $(cat "$t/max_graph_depth")" > "$work/{FTRACE_STATE}"
echo 0 > "$t/tracing_on"
put current_tracer nop || unsupported "current_tracer refused nop: $(said)"
for file in set_ftrace_filter set_graph_function; do
    {{ true > "$t/$file"; }} 2>"$err" || unsupported "$file cannot be cleared: $(said)"
done
put buffer_size_kb "$kb" || unsupported "buffer_size_kb refused $kb: $(said)"
put max_graph_depth "$depth" || unsupported "max_graph_depth refused $depth: $(said)"
for pattern in $filter; do
    put set_ftrace_filter "$pattern" \\
        || unsupported "set_ftrace_filter refused '$pattern': $(said)"
done
graphed=0
for function in $graph; do
    if put set_graph_function "$function"; then
        graphed=$((graphed + 1))
    else
        printf '{_REFUSED}%s %s\\n' "$function" "$(said)" >&2
    fi
done
# An empty set_graph_function graphs every function of the kernel: never record that.
[ "$graphed" -gt 0 ] || unsupported "set_graph_function refused every function"
put current_tracer function_graph || unsupported "current_tracer refused function_graph: $(said)"
true > "$t/trace"
echo 1 > "$t/tracing_on"
"$@"; rc=$?
echo 0 > "$t/tracing_on"
cat "$t/trace" > "$work/ftrace.txt"
set +f
for stats in "$t"/per_cpu/cpu*/stats; do cat "$stats"; echo; done > "$work/ftrace.stats"
exit $rc
"""


@dataclass(frozen=True)
class FtraceRecording:
    """What the ftrace pass said: why nothing was recorded, or which roots were refused.

    Attributes:
        unsupported: the kernel's words when the pass recorded nothing (no function_graph,
            tracefs not mountable, a filter refused); None when it recorded.
        refused: graph function -> the kernel's words, for roots `set_graph_function`
            refused (a function this kernel lacks, or whose module is not loaded).
    """

    unsupported: str | None
    refused: Mapping[str, str]


def ftrace_argv(options: Ftrace, workdir: str, workload: Sequence[str]) -> list[str]:
    """The ftrace pass around `workload`: set up, trace, save `ftrace.txt` and per-CPU stats."""
    return [
        "sh",
        "-c",
        _FTRACE_RECORD,
        "ftrace",
        workdir,
        str(options.max_graph_depth),
        str(options.buffer_size_kb),
        " ".join(options.graph_functions),
        " ".join(options.filter),
        *workload,
    ]


def ftrace_reset_argv(workdir: str) -> list[str]:
    """Undo what the ftrace pass of the run in `workdir` changed (nothing if it changed none)."""
    return ["sh", "-c", f'{FTRACE_RESET}ftrace_reset "$0/{FTRACE_STATE}"', workdir]


def parse_ftrace_pass(result: CommandResult) -> FtraceRecording:
    """The pass's own lines on stderr: unsupported (in the kernel's words) and refused roots."""
    unsupported = None
    refused: dict[str, str] = {}
    for line in result.stderr.splitlines():
        if line.startswith(_UNSUPPORTED):
            unsupported = line.removeprefix(_UNSUPPORTED)
        elif line.startswith(_REFUSED):
            function, _, said = line.removeprefix(_REFUSED).partition(" ")
            refused[function] = f"set_graph_function refused {function}: {said or 'no reason'}"
    if result.rc == FTRACE_UNSUPPORTED_RC and unsupported is None:
        unsupported = f"the ftrace pass stopped: {(result.stderr.strip() or 'no output')[-200:]}"
    return FtraceRecording(unsupported, MappingProxyType(refused))
