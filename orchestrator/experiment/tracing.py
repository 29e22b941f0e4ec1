"""Kernel tracing for the traced phase: perf recording around the client, ftrace when the
kernel has the tracer.

perf is started as the wrapper of the client command (`perf record -a … -- client`), so the
recording covers exactly the client's lifetime and stops (flushing its data) on its own when
the client exits: nothing is left to stop or kill afterwards, even when the client fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.connection import CommandResult
from orchestrator.errors import NetmatrixError

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
