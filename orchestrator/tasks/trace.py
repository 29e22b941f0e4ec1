"""Offline trace tools: `trace.collapse`, `trace.summary`, `trace.diff`, `trace.ftrace`.

Every task reads plain, gzip or xz files, or standard input with `--path -`. A missing or
unreadable file ends with one line on stderr and exit code 2; lines that cannot be read are
counted and reported on stderr, never fatal on their own. An input in which not one record
was recognised, though, is refused (exit 2) when it is empty or holds unreadable lines: that
is a wrong file (binary data, another tool's output, a failed redirect), and an empty summary
would read as "no events happened". Comments alone (perf's `--header`, ftrace's banner) are a
trace with no records by design: a warning, exit 0. The parsers themselves never refuse, so
the reducer on the lab hosts still reduces a run whose trace holds nothing of its own.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from invoke import task

from orchestrator.analysis.diff import diff_functions, function_counts
from orchestrator.analysis.folding import collapse as collapse_trace
from orchestrator.analysis.ftrace import parse_function_graph
from orchestrator.analysis.perfscript import PerfScriptReader
from orchestrator.analysis.source import TraceInput
from orchestrator.analysis.summary import summarize
from orchestrator.errors import NetmatrixError
from orchestrator.flags import choice_flag, count_flag, factor_flag
from orchestrator.reports.diff import print_diff
from orchestrator.tasks._cli import user_errors

_FORMATS = ("table", "json")
_PERF = ("perf script records", "the output of perf script")
_FTRACE = ("function_graph calls", "ftrace's function_graph output")


def _warn(message: str | None) -> None:
    if message:
        print(f"warning: {message}", file=sys.stderr)


def _require_records(
    trace: TraceInput, records: int, unreadable: int, kind: tuple[str, str] = _PERF
) -> None:
    """Refuse an input with no record that is empty or unreadable; warn when it has comments only.

    Args:
        trace: the input, read to its end.
        records: records (calls) recognised, whatever filter applied afterwards.
        unreadable: lines not recognised, stray stack lines and over-long lines included.
        kind: what a record is called, and what the input should have been.
    """
    if records:
        return
    what, origin = kind
    if trace.bytes_read and not unreadable:
        _warn(f"{trace.name}: no {what}, only comments and blank lines")
        return
    detail = [f"{unreadable} unreadable line(s)" if unreadable else "empty"]
    if trace.problem:
        detail.append(trace.problem)
    raise NetmatrixError(f"{trace.name}: no {what} ({'; '.join(detail)}): is this {origin}?")


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _console(out: TextIO | None = None) -> Any:
    from rich.console import Console

    return Console(file=out or sys.stdout, highlight=False, soft_wrap=False)


def _write_binary(out: str | None, write: Callable[[BinaryIO], None]) -> None:
    """Write bytes to `out`, or to standard output (as text when it has no byte layer)."""
    try:
        if out is not None:
            with Path(out).open("wb") as stream:
                write(stream)
            return
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:
            memory = io.BytesIO()
            write(memory)
            sys.stdout.write(memory.getvalue().decode("utf-8", "backslashreplace"))
            return
        sys.stdout.flush()
        write(buffer)
        buffer.flush()
    except OSError as error:
        raise NetmatrixError(
            f"{out or 'stdout'}: cannot write ({error.strerror or error})"
        ) from None


def _emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=True) + "\n")


@task(
    help={
        "path": "perf script text (plain, .gz, .xz) or - for standard input",
        "event": "fold only this event's records, e.g. net:net_dev_queue",
        "out": "write here instead of standard output",
        "format": "folded (stackcollapse-perf.pl's) or speedscope (JSON file format)",
        "pid": "add the PID to process names, like stackcollapse-perf.pl --pid",
        "tid": "add PID and TID to process names, like stackcollapse-perf.pl --tid",
    }
)
@user_errors
def collapse(c, path, event=None, out=None, format="folded", pid=False, tid=False):
    """Fold stacks the way FlameGraph's stackcollapse-perf.pl does."""
    from orchestrator.analysis.folding import FoldOptions

    choice_flag("--format", format, ("folded", "speedscope"))
    with TraceInput(path) as trace:
        folded = collapse_trace(trace, event=event, options=FoldOptions(pid, tid))
    stats = folded.stats
    _require_records(
        trace,
        stats.records + stats.filtered_records + stats.other_event_records + stats.unterminated,
        stats.unreadable + stats.oversize_lines + stats.orphan_frames,
    )
    if format == "speedscope":
        name = Path(path).name if path != "-" else "stdin"
        payload = folded.speedscope_json(name=name).encode() + b"\n"
    else:
        payload = None

    def write(stream: BinaryIO) -> None:
        if payload is not None:
            stream.write(payload)
        else:
            folded.write(stream)

    _write_binary(out, write)
    problems = []
    unreadable = stats.unreadable + stats.oversize_lines
    if unreadable:
        first = f" (first: {stats.unreadable_samples[0]!r})" if stats.unreadable_samples else ""
        problems.append(f"{unreadable} unreadable line(s){first}")
    if stats.orphan_frames:
        problems.append(f"{stats.orphan_frames} stack line(s) outside any record")
    if stats.unterminated:
        problems.append("the last record has no blank line after it and was not folded")
    if stats.problem:
        problems.append(stats.problem)
    _warn("; ".join(problems) or None)
    if event is not None and stats.records == 0:
        _warn(f"no record of event {event!r} in {path}")


@task(
    help={
        "path": "perf script text (plain, .gz, .xz) or - for standard input",
        "format": "table or json",
        "top": "how many functions to list (default 20)",
    }
)
@user_errors
def summary(c, path, format="table", top=None):
    """Records per event, device, process; payload lengths; top functions; unreadable lines."""
    choice_flag("--format", format, _FORMATS)
    top = count_flag("--top", top, default=20)
    with TraceInput(path) as trace:
        reader = PerfScriptReader(trace)
        result = summarize(reader, reader.stats)
    _require_records(trace, reader.stats.records, reader.stats.unreadable_lines)
    if format == "json":
        _emit_json(result.as_dict(top=top))
    else:
        _summary_tables(result, top)
    _warn(reader.stats.describe())


def _summary_tables(result: Any, top: int) -> None:
    from rich.table import Table

    console = _console()
    data = result.as_dict(top=top)
    console.print(
        f"{data['records']} records, {data['records_with_stack']} with a stack, "
        f"{data['unreadable_lines']} unreadable line(s)"
    )

    def counts(title: str, column: str, mapping: dict[str, int]) -> None:
        table = Table(title=title)
        table.add_column(column)
        table.add_column("records", justify="right")
        for key, value in mapping.items():
            table.add_row(_printable(key), str(value))
        console.print(table)

    counts("Records per event", "event", data["events"])
    if data["devices"]:
        counts("Records per device (dev=)", "device", data["devices"])
    counts("Records per process", "process", data["processes"])
    if data["payload_length"]:
        table = Table(title="Payload length (len=)")
        table.add_column("bytes")
        table.add_column("records", justify="right")
        for bucket in data["payload_length"]:
            low, high = bucket["low"], bucket["high"]
            table.add_row(str(low) if low == high else f"{low}-{high}", str(bucket["records"]))
        console.print(table)
    table = Table(title=f"Top {top} functions (records whose stack contains them)")
    table.add_column("function")
    table.add_column("kernel")
    table.add_column("records", justify="right")
    table.add_column("share", justify="right")
    for item in data["top_functions"]:
        table.add_row(
            _printable(item["function"]),
            "yes" if item["kernel"] else "",
            str(item["samples"]),
            f"{item['share']:.1%}",
        )
    console.print(table)


@task(
    help={
        "baseline": "the baseline trace (perf script text, plain, .gz, .xz)",
        "path": "the trace to compare with it",
        "format": "table or json",
        "factor": "a share of records changing by more than this factor is 'changed' (default 2)",
    }
)
@user_errors
def diff(c, baseline, path, format="table", factor=None):
    """Kernel functions the trace's stacks have that the baseline's lack, and the reverse."""
    choice_flag("--format", format, _FORMATS)
    factor = factor_flag("--factor", factor, default=2.0)
    if baseline == "-" and path == "-":
        raise NetmatrixError("only one of --baseline and --path can be standard input (-)")
    with TraceInput(baseline) as base_trace, TraceInput(path) as target_trace:
        base_reader = PerfScriptReader(base_trace)  # both opened before either is read
        target_reader = PerfScriptReader(target_trace)
        base = function_counts(base_reader)
        target = function_counts(target_reader)
    for trace, reader in ((base_trace, base_reader), (target_trace, target_reader)):
        _require_records(trace, reader.stats.records, reader.stats.unreadable_lines)
    result = diff_functions(base, target, factor=factor)
    print_diff(result.as_dict(), base.records, target.records, format)
    _warn(base_reader.stats.describe() and f"{baseline}: {base_reader.stats.describe()}")
    _warn(target_reader.stats.describe() and f"{path}: {target_reader.stats.describe()}")


@task(
    help={
        "path": "ftrace function_graph output (plain, .gz, .xz) or - for standard input",
        "format": "table or json",
        "top": "how many functions to list in the table (default 30)",
    }
)
@user_errors
def ftrace(c, path, format="table", top=None):
    """Per-function calls, total, self and max time from a function_graph trace."""
    choice_flag("--format", format, _FORMATS)
    top = count_flag("--top", top, default=30)
    with TraceInput(path) as trace:
        graph = parse_function_graph(trace)
    entries = sum(len(calls) for calls in graph.roots.values()) + len(graph.switches)
    _require_records(trace, entries, graph.unreadable, _FTRACE)
    if format == "json":
        _emit_json(graph.as_dict())
    else:
        from rich.table import Table

        console = _console()
        data = graph.as_dict()
        console.print(
            f"CPUs {', '.join(map(str, data['cpus'])) or '-'}: {data['calls']} calls, "
            f"{len(data['context_switches'])} context switches, "
            f"{data['unreadable_lines']} unreadable line(s)"
        )
        table = Table(title="Functions (times in microseconds)")
        for column in ("function", "module", "calls", "total", "self", "max"):
            table.add_column(
                column, justify="left" if column in ("function", "module") else "right"
            )
        for item in data["functions"][:top]:
            table.add_row(
                _printable(item["function"]),
                item["module"] or "",
                str(item["calls"]),
                f"{item['total_us']:.3f}",
                f"{item['self_us']:.3f}",
                "" if item["max_us"] is None else f"{item['max_us']:.3f}",
            )
        console.print(table)
    problems = []
    if graph.unreadable:
        problems.append(f"{graph.unreadable} unreadable line(s)")
    if graph.unmatched_closes:
        problems.append(f"{graph.unmatched_closes} closing brace(s) without their call")
    if graph.unclosed:
        problems.append(f"{graph.unclosed} call(s) still open at the end")
    if graph.problem:
        problems.append(graph.problem)
    _warn("; ".join(problems) or None)
