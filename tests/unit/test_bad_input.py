"""Bad input, table-driven, through the real command line (issue 7).

Each case runs `python -m invoke` as users do and must end with exit code 2 and exactly one
line on stderr naming where (file:line, flag or key) and what, with no traceback, no shell
canary created and no state left behind: no results database, no results directory, no
output file (cases that would write one write it under the state directory), and a results
database the case reads left byte for byte as it was.
Specs are checked with a missing inventory, so a spec that slipped through would be reported
about the inventory instead; host checks come before any host is contacted.

`python -m tests.unit.test_bad_input` prints how many cases the table has, by kind.
"""

from __future__ import annotations

import functools
import gzip
import lzma
import os
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.unit.inventory.test_errors import CASES as INVENTORY_MESSAGES
from tests.unit.reports.builders import demo_database as migrated_demo_database

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "tests" / "fixtures" / "specs" / "bad"
INVENTORIES = ROOT / "tests" / "fixtures" / "inventories" / "bad"
GOOD_SPEC = ROOT / "playbooks" / "demo.yml"
GOOD_TRACE = ROOT / "tests" / "fixtures" / "perf" / "synthetic" / "frames.perf.txt"
# Bytes no tool of ours should take for text: NUL, every control character, invalid UTF-8.
GARBAGE = bytes(range(256)) * 4 + b"\xff\xfe\x00garbage\n"


@dataclass(frozen=True)
class Scene:
    """Where a case runs: its temporary directory, its state directory and its canary path."""

    tmp: Path
    canary: Path

    @property
    def state(self) -> Path:
        """Where the tasks keep results (database, artifacts): must stay empty."""
        return self.tmp / "state"

    @property
    def database(self) -> Path:
        """The results database of a case that reads one (a copy of the demo database)."""
        return self.tmp / "demo.db"

    @property
    def touch(self) -> str:
        return f"touch {self.canary}"

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path


@dataclass(frozen=True)
class Case:
    """Arguments to invoke, and text the one error line must hold (where, then what).

    With `database`, the case runs on a copy of the demo database (`Scene.database`);
    without, the results database is a path in the state directory that must stay absent.
    """

    args: Callable[[Scene], list[str]]
    where: Callable[[Scene], str]
    what: str
    database: bool = False


def _spec_fixture(name: str) -> Case:
    """A bad spec fixture; its first line is `# expect: <line:col: key: message>`."""
    path = SPECS / name
    expected = path.read_text().splitlines()[0].removeprefix("# expect: ")
    return Case(
        lambda s: ["matrix", "--dry-run", "--spec", str(path), "--inventory", str(s.tmp / "none")],
        lambda s: f"{path}:{expected}",
        "",
    )


def _spec(body: Callable[[Scene], str | bytes], where: str, what: str) -> Case:
    """A bad spec written for the case (the canary needs the case's own path)."""
    return Case(
        lambda s: [
            "matrix",
            "--dry-run",
            "--spec",
            str(s.write("spec.yml", body(s))),
            "--inventory",
            str(s.tmp / "none"),
        ],
        lambda s: f"{s.tmp / 'spec.yml'}:{where}",
        what,
    )


def _spec_text(extra: str, axes: str = "mode: [host], size: [64], proto: [tcp]") -> str:
    return f"name: m\nbaseline: host\naxes: {{{axes}}}\n{extra}"


def _listed(name: str) -> Case:
    """A bad inventory fixture through `invoke inventory --list`."""
    path = INVENTORIES / name
    return Case(
        lambda s: ["inventory", "--list", "--inventory", str(path)],
        lambda s: f"{path}:{INVENTORY_MESSAGES[name]}",
        "",
    )


def _dry_run(inventory: Path | str, *flags: str) -> list[str]:
    return ["matrix", "--dry-run", "--spec", str(GOOD_SPEC), "--inventory", str(inventory), *flags]


def _matrix_inventory(body: Callable[[Scene], str | bytes], what: str) -> Case:
    """A good spec on a bad inventory written for the case: refused before any host."""
    return Case(
        lambda s: _dry_run(s.write("inventory.yml", body(s))),
        lambda s: f"{s.tmp / 'inventory.yml'}: host ",
        what,
    )


def _local_host(name: str, **variables: object) -> str:
    lines = "".join(f"      {key}: {value!r}\n" for key, value in variables.items())
    return f"lab:\n  hosts:\n    {name!r}:\n      ansible_connection: local\n{lines}"


def _host_pattern(pattern: Callable[[Scene], str]) -> Case:
    """`--hosts` naming no host of a good inventory: refused before any host is contacted."""
    return Case(
        lambda s: _dry_run(s.write("inventory.yml", _local_host("lab1")), "--hosts", pattern(s)),
        lambda s: "host pattern ",
        "matches no host; known hosts: lab1",
    )


def _trace(flags: list[str], where: str, what: str) -> Case:
    """A trace task on a one-line trace, with a bad flag."""

    def args(s: Scene) -> list[str]:
        trace = str(s.write("trace.txt", "x\n"))
        return [item.replace("TRACE", trace) for item in flags]

    return Case(args, lambda s: where, what)


def _no_records(flags: list[str], name: str, content: bytes, detail: str) -> Case:
    """A trace task given a file in which not one record can be read (BAD in the flags)."""

    def args(s: Scene) -> list[str]:
        bad = str(s.write(name, content))
        return [item.replace("BAD", bad).replace("GOOD", str(GOOD_TRACE)) for item in flags]

    kind = "function_graph calls" if "trace.ftrace" in flags else "perf script records"
    return Case(args, lambda s: f"{s.tmp / name}: no {kind} ({detail}", "): is this ")


def _results(flags: list[str], where: str, what: str = "", *, database: bool = True) -> Case:
    """A results task; STATE in a flag is the state directory (an output must not appear),
    CANARY the canary's path."""
    return Case(
        lambda s: [
            item.replace("STATE", str(s.state)).replace("CANARY", str(s.canary)) for item in flags
        ],
        lambda s: where,
        what,
        database,
    )


def _import(name: str, content: bytes | None, what: str) -> Case:
    """`results.import` of a file that is no netmatrix database (None: no file at all)."""

    def args(s: Scene) -> list[str]:
        path = s.tmp / name if content is None else s.write(name, content)
        return ["results.import", str(path)]

    return Case(args, lambda s: str(s.tmp / name), what)


def _foreign_sqlite() -> bytes:
    """A SQLite database of some other program."""
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE notes (body TEXT)")
    return connection.serialize()


# Three ways a string could run a command if it ever reached a shell unquoted.
SHELL = {
    "command-substitution": lambda s: f"$({s.touch})",
    "backticks": lambda s: f"`{s.touch}`",
    "semicolon": lambda s: f"x;{s.touch}",
}

NAME_RULE = "may hold only letters, digits, '.', '_' and '-'"
HOST_RULE = "a matrix host name " + NAME_RULE
EVENT_RULE = "is not a perf event (no spaces or shell characters allowed)"
KERNEL_RULE = "is not a kernel release pattern"
NETEM_AXES = "mode: [host], size: [64], proto: [tcp], netem: ['{}']"
TABLE_FORMATS = "--format must be one of table, markdown, csv, latex, not 'html'"

CASES: dict[str, Case] = {
    # Specs: malformed YAML, unknown keys, wrong types, sizes, durations, modes, empty axes.
    **{
        f"spec-{name.removesuffix('.yml')}": _spec_fixture(name)
        for name in (
            "malformed.yml",
            "duplicate-key.yml",
            "unknown-top-key.yml",
            "wrong-type-repetitions.yml",
            "size-zero.yml",
            "repetitions-too-many.yml",
            "warmup-negative.yml",
            "duration-zero.yml",
            "unknown-mode.yml",
            "empty-axis.yml",
            "perf-event-space.yml",
            "kernel-pattern-space.yml",
        )
    },
    # Specs: huge values — durations, repetitions, sample period, sizes per protocol.
    **{
        f"spec-{name.removesuffix('.yml')}": _spec_fixture(name)
        for name in (
            "duration-huge.yml",
            "duration-infinite.yml",
            "duration-too-long.yml",
            "warmup-huge.yml",
            "repetitions-huge.yml",
            "period-huge.yml",
        )
    },
    "spec-size-huge-udp": _spec_fixture("size-out-of-range-udp.yml"),
    "spec-size-huge-tcp": _spec_fixture("size-out-of-range-tcp.yml"),
    "spec-negative-size": _spec(
        lambda s: "name: m\nbaseline: host\naxes: {mode: [host], size: [-64], proto: [tcp]}\n",
        "3:29: axes.size[0]: -64 is out of range",
        "",
    ),
    "spec-binary-garbage": _spec(lambda s: b"\x00\xff\xfe\x80\x81garbage\n", "", "UTF-8"),
    # Spec strings that reach a host (name: directories; modes, events, functions: commands)
    # or choose what does: each is refused on load, shell characters and all.
    **{
        f"spec-name-{kind}": _spec(
            lambda s, inject=inject: _spec_text("").replace("name: m", f"name: '{inject(s)}'"),
            "1:7: name: ",
            NAME_RULE,
        )
        for kind, inject in SHELL.items()
    },
    **{
        f"spec-kernel-{kind}": _spec(
            lambda s, inject=inject: _spec_text(
                "", f"mode: [host], size: [64], proto: [tcp], kernel: ['{inject(s)}']"
            ),
            "3:57: axes.kernel[0]: ",
            KERNEL_RULE,
        )
        for kind, inject in SHELL.items()
    },
    "spec-event-command-substitution": _spec(
        lambda s: _spec_text(f"trace: {{perf: {{events: ['net:*$({s.touch})']}}}}\n"),
        "4:25: trace.perf.events[0]: ",
        EVENT_RULE,
    ),
    "spec-event-backticks": _spec(
        lambda s: _spec_text(f"trace: {{perf: {{events: ['net:*`{s.touch}`']}}}}\n"),
        "4:25: trace.perf.events[0]: ",
        EVENT_RULE,
    ),
    "spec-event-semicolon": _spec(
        lambda s: _spec_text(f"trace: {{perf: {{events: ['net:*;{s.touch}']}}}}\n"),
        "4:25: trace.perf.events[0]: ",
        EVENT_RULE,
    ),
    **{
        f"spec-ftrace-{kind}": _spec(
            lambda s, inject=inject: _spec_text(
                f"trace: {{ftrace: {{graph_functions: ['{inject(s)}']}}}}\n"
            ),
            "4:36: trace.ftrace.graph_functions[0]: ",
            "is not a kernel function name",
        )
        for kind, inject in SHELL.items()
    },
    **{
        f"spec-ftrace-filter-{kind}": _spec(
            lambda s, inject=inject: _spec_text(
                f"trace: {{ftrace: {{graph_functions: [f], filter: ['{inject(s)}']}}}}\n"
            ),
            "4:49: trace.ftrace.filter[0]: ",
            "is not an ftrace filter pattern",
        )
        for kind, inject in SHELL.items()
    },
    "spec-ftrace-empty-functions": _spec_fixture("ftrace-empty-functions.yml"),
    "spec-ftrace-empty-filter": _spec_fixture("ftrace-empty-filter.yml"),
    # Choices (one shell form each: they share one check, Node.choice).
    "spec-mode-command-substitution": _spec(
        lambda s: _spec_text("", f"mode: ['$({s.touch})'], size: [64], proto: [tcp]"),
        "3:15: axes.mode[0]: ",
        "is not a known mode",
    ),
    "spec-baseline-backticks": _spec(
        lambda s: _spec_text("").replace("baseline: host", f"baseline: '`{s.touch}`'"),
        "2:11: baseline: ",
        "is not a known mode",
    ),
    "spec-proto-semicolon": _spec(
        lambda s: _spec_text("", f"mode: [host], size: [64], proto: ['tcp;{s.touch}']"),
        "3:42: axes.proto[0]: ",
        "is not a known protocol",
    ),
    "spec-phase-command-substitution": _spec(
        lambda s: _spec_text(f"phases: ['$({s.touch})']\n"),
        "4:10: phases[0]: ",
        "is not a known phase",
    ),
    "spec-traffic-backticks": _spec(
        lambda s: _spec_text(f"traffic: '`{s.touch}`'\n"),
        "4:10: traffic: ",
        "is not a known traffic mode",
    ),
    "spec-call-graph-semicolon": _spec(
        lambda s: _spec_text(f"trace: {{perf: {{call_graph: 'fp;{s.touch}'}}}}\n"),
        "4:28: trace.perf.call_graph: ",
        "is not a known call graph",
    ),
    # The netem axis: tc-netem's grammar, the subset netmatrix accepts (experiment/netem.py).
    **{
        f"spec-netem-{kind}": _spec(
            lambda s, value=value: _spec_text("", NETEM_AXES.format(value(s))),
            "3:56: axes.netem[0]: ",
            what,
        )
        for kind, value, what in (
            ("unknown-word", lambda s: "delay 5ms corrupt 1%", "unknown word 'corrupt'"),
            ("bad-time-unit", lambda s: "delay 5min", "delay needs a TIME like 5ms"),
            ("space-in-time", lambda s: "delay 5 ms", "delay needs a TIME like 5ms"),
            ("bad-rate-unit", lambda s: "rate 100mbps", "rate needs a RATE like 100mbit"),
            ("zero-rate", lambda s: "rate 0mbit", "rate needs a RATE like 100mbit"),
            ("loss-without-percent", lambda s: "loss 0.1", "loss needs a percentage"),
            ("loss-huge", lambda s: "loss 150%", "loss needs a percentage like 0.1% (0..100)"),
            ("delay-huge", lambda s: "delay 11s", "delay and jitter exceed 10 s"),
            ("twice", lambda s: "delay 5ms loss 1% delay 6ms", "delay is given twice"),
            ("none-and-more", lambda s: "none delay 5ms", "unknown word 'none'"),
            ("empty", lambda s: " ", "must not be empty"),
            *(
                (kind, lambda s, inject=inject: f"delay 5ms {inject(s)}", "unknown word")
                for kind, inject in SHELL.items()
            ),
        )
    },
    "spec-netem-listed-twice": _spec(
        lambda s: _spec_text("", NETEM_AXES.format("delay 5ms', 'delay  5ms")),
        "3:69: axes.netem[1]: ",
        "'delay 5ms' is listed twice",
    ),
    "spec-netem-wrong-type": _spec(
        lambda s: _spec_text("", "mode: [host], size: [64], proto: [tcp], netem: [5]"),
        "3:56: axes.netem[0]: ",
        "expected a string, got 5",
    ),
    "spec-netem-empty-axis": _spec(
        lambda s: _spec_text("", "mode: [host], size: [64], proto: [tcp], netem: []"),
        "3:55: axes.netem: ",
        "must not be empty",
    ),
    # Inventories through `invoke inventory --list`: YAML/INI syntax, cycles, types, bytes.
    **{
        f"inventory-{name.replace('_', '-')}": _listed(name)
        for name in (
            "malformed.yml",
            "tab.yml",
            "cycle.yml",
            "cycle.ini",
            "self_child.yml",
            "unclosed_quote.ini",
            "not_key_value.ini",
            "number_host.yml",
            "hosts_list.yml",
            "latin1.ini",
            "duplicate_host.yml",
        )
    },
    "inventory-binary-garbage": Case(
        lambda s: [
            "inventory",
            "--list",
            "--inventory",
            str(s.write("inventory.yml", b"lab:\n\x00\xff\xfe\x80garbage\n")),
        ],
        lambda s: f"{s.tmp / 'inventory.yml'}:2:",
        "not valid UTF-8",
    ),
    # Inventories through `invoke matrix --dry-run`: refused before a host is contacted.
    "matrix-inventory-cycle": Case(
        lambda s: _dry_run(INVENTORIES / "cycle.yml"),
        lambda s: f"{INVENTORIES / 'cycle.yml'}:5:9: ",
        "would form a cycle",
    ),
    "matrix-inventory-duplicate-host": Case(
        lambda s: _dry_run(INVENTORIES / "duplicate_host.yml"),
        lambda s: f"{INVENTORIES / 'duplicate_host.yml'}:6:5: ",
        "host 'lab1' is listed twice in the hosts of group 'lab' (first at line 3)",
    ),
    "matrix-inventory-missing": Case(
        lambda s: _dry_run("nope.yml"),
        lambda s: "nope.yml: ",
        "no such inventory",
    ),
    **{
        f"matrix-host-{kind}": _matrix_inventory(
            lambda s, inject=inject: _local_host(inject(s)), HOST_RULE
        )
        for kind, inject in SHELL.items()
    },
    "matrix-host-space": _matrix_inventory(lambda s: _local_host("lab 1"), HOST_RULE),
    "matrix-port-not-a-number": _matrix_inventory(
        lambda s: _local_host("lab1", ansible_port="abc"), "ansible_port 'abc' is not a port"
    ),
    "matrix-port-command-substitution": _matrix_inventory(
        lambda s: _local_host("lab1", ansible_port=f"$({s.touch})"), "is not a port (1..65535)"
    ),
    "matrix-port-negative": _matrix_inventory(
        lambda s: _local_host("lab1", ansible_port=-1), "ansible_port -1 is not a port"
    ),
    "matrix-port-huge": _matrix_inventory(
        lambda s: _local_host("lab1", ansible_port=70000), "ansible_port 70000 is not a port"
    ),
    "matrix-hosts-pattern-command-substitution": _host_pattern(lambda s: f"$({s.touch})"),
    "matrix-hosts-pattern-semicolon": _host_pattern(lambda s: f"lab1;{s.touch}"),
    # Command-line arguments.
    "rerun-repetitions-not-a-number": Case(
        lambda s: ["rerun", "--cell", "mode=host", "--spec", str(GOOD_SPEC), "--repetitions", "x"],
        lambda s: "--repetitions ",
        "must be a whole number, not 'x'",
    ),
    "rerun-repetitions-huge": Case(
        lambda s: [
            "rerun",
            "--cell",
            "mode=host",
            "--spec",
            str(GOOD_SPEC),
            "--repetitions",
            "5000",
        ],
        lambda s: "--repetitions: ",
        "5000 is out of range (1..1000)",
    ),
    "rerun-cell-unknown-key": Case(
        lambda s: [
            "rerun",
            "--cell",
            "colour=red",
            "--spec",
            str(GOOD_SPEC),
            "--inventory",
            str(s.tmp / "none"),
        ],
        lambda s: "colour",
        "",
    ),
    "trace-summary-top-not-a-number": _trace(
        ["trace.summary", "--path", "TRACE", "--top", "abc"], "--top ", "not 'abc'"
    ),
    "trace-summary-top-zero": _trace(
        ["trace.summary", "--path", "TRACE", "--top", "0"], "--top: ", "0 is out of range"
    ),
    "trace-ftrace-top-negative": _trace(
        ["trace.ftrace", "--path", "TRACE", "--top=-3"], "--top: ", "-3 is out of range"
    ),
    "trace-summary-format-unknown": _trace(
        ["trace.summary", "--path", "TRACE", "--format", "xml"], "--format ", "not 'xml'"
    ),
    "trace-diff-factor-not-a-number": _trace(
        ["trace.diff", "--baseline", "TRACE", "--path", "TRACE", "--factor", "big"],
        "--factor ",
        "must be a number, not 'big'",
    ),
    "trace-diff-factor-nan": _trace(
        ["trace.diff", "--baseline", "TRACE", "--path", "TRACE", "--factor", "nan"],
        "--factor ",
        "must be at least 1, not nan",
    ),
    "trace-diff-factor-below-one": _trace(
        ["trace.diff", "--baseline", "TRACE", "--path", "TRACE", "--factor", "0.5"],
        "--factor ",
        "must be at least 1, not 0.5",
    ),
    "trace-diff-two-stdins": _trace(
        ["trace.diff", "--baseline", "-", "--path", "-"], "--baseline and --path", "only one"
    ),
    "trace-collapse-missing-file": _trace(
        ["trace.collapse", "--path", "TRACE.missing"], ".missing: ", "no such file"
    ),
    "trace-collapse-format-unknown": _trace(
        ["trace.collapse", "--path", "TRACE", "--format", "svg"], "--format ", "not 'svg'"
    ),
    # Trace files in which not one record can be read: binary garbage, nothing, other text.
    "trace-summary-binary-garbage": _no_records(
        ["trace.summary", "--path", "BAD"], "garbage.bin", GARBAGE, "5 unreadable line(s)"
    ),
    "trace-collapse-binary-garbage": _no_records(
        ["trace.collapse", "--path", "BAD"], "garbage.bin", GARBAGE, "5 unreadable line(s)"
    ),
    "trace-diff-binary-garbage": _no_records(
        ["trace.diff", "--baseline", "GOOD", "--path", "BAD"],
        "garbage.bin",
        GARBAGE,
        "5 unreadable line(s)",
    ),
    "trace-ftrace-binary-garbage": _no_records(
        ["trace.ftrace", "--path", "BAD"], "garbage.bin", GARBAGE, "5 unreadable line(s)"
    ),
    "trace-collapse-gzip-binary-garbage": _no_records(
        ["trace.collapse", "--path", "BAD"],
        "garbage.txt",  # the content says gzip, whatever the name
        gzip.compress(GARBAGE),
        "5 unreadable line(s)",
    ),
    "trace-summary-empty": _no_records(["trace.summary", "--path", "BAD"], "e.txt", b"", "empty"),
    "trace-collapse-empty-xz": _no_records(
        ["trace.collapse", "--path", "BAD"], "e.txt.xz", lzma.compress(b""), "empty"
    ),
    "trace-diff-baseline-empty": _no_records(
        ["trace.diff", "--baseline", "BAD", "--path", "GOOD"], "e.txt", b"", "empty"
    ),
    "trace-summary-not-perf-script": _no_records(
        ["trace.summary", "--path", "BAD"],
        "notes.txt",
        b"Results of Tuesday\n\nbridge looked slow; rerun with perf\n",
        "2 unreadable line(s)",
    ),
    "trace-summary-stdin-empty": Case(
        lambda s: ["trace.summary", "--path", "-"],
        lambda s: "<stdin>: no perf script records (empty)",
        "is this the output of perf script?",
    ),
    # results.*: every flag is checked before the database is read.
    "results-table-format-unknown": _results(["results.table", "--format", "html"], TABLE_FORMATS),
    "results-table-metric-unknown": _results(
        ["results.table", "--metric", "gbps"], "--metric must be one of mbps", "not 'gbps'"
    ),
    "results-table-rows-unknown": _results(
        ["results.table", "--rows", "colour"], "--rows must be one of mode", "not 'colour'"
    ),
    "results-table-same-axis-twice": _results(
        ["results.table", "--rows", "size"], "--rows, --cols and --by must name different axes"
    ),
    "results-table-baseline-unknown": _results(
        ["results.table", "--baseline", "vxlan"], "--baseline vxlan is not a mode of campaign demo"
    ),
    "results-table-campaign-unknown": _results(
        ["results.table", "--campaign", "nope"], "no campaign named nope; the database has: demo"
    ),
    "results-table-missing-database": Case(
        lambda s: ["results.table"],
        lambda s: f"no results database at {s.state / 'netmatrix.db'}",
        "",
    ),
    "results-runs-format-unknown": _results(
        ["results.runs", "--format", "xml"], "--format must be one of table, json, csv, not 'xml'"
    ),
    "results-runs-campaign-unknown": _results(
        ["results.runs", "--campaign", "$(touch CANARY)"], "no campaign named $(touch /tmp/"
    ),
    "results-diff-factor-not-a-number": _results(
        ["results.diff", "--mode", "bridge", "--factor", "big"], "--factor must be a number"
    ),
    "results-diff-factor-nan": _results(
        ["results.diff", "--mode", "bridge", "--factor", "nan"], "--factor must be at least 1"
    ),
    "results-diff-factor-negative": _results(
        ["results.diff", "--mode", "bridge", "--factor=-3"], "--factor must be at least 1, not -3"
    ),
    "results-diff-format-unknown": _results(
        ["results.diff", "--mode", "bridge", "--format", "csv"], "--format must be one of table"
    ),
    "results-plot-kind-unknown": _results(
        ["results.plot", "--kind", "pie", "--out", "STATE/f.png"], "--kind must be one of through"
    ),
    "results-plot-metric-unknown": _results(
        ["results.plot", "--kind", "throughput", "--metric", "gbps", "--out", "STATE/f.png"],
        "--metric must be one of mbps",
    ),
    "results-plot-top-not-a-number": _results(
        ["results.plot", "--kind", "functions", "--top", "abc", "--out", "STATE/f.png"],
        "--top must be a whole number, not 'abc'",
    ),
    "results-plot-top-negative": _results(
        ["results.plot", "--kind", "functions", "--top=-1", "--out", "STATE/f.png"],
        "--top: -1 is out of range",
    ),
    "results-plot-top-huge": _results(
        ["results.plot", "--kind", "functions", "--top", "10000000", "--out", "STATE/f.png"],
        "--top: 10000000 is out of range (1..1000000)",
    ),
    "results-plot-out-unknown-suffix": _results(
        ["results.plot", "--kind", "throughput", "--out", "STATE/f.gif"],
        "--out must end in .png, .pdf or .svg, not 'f.gif'",
    ),
    "results-plot-campaign-unknown": _results(
        ["results.plot", "--kind", "probe", "--campaign", "nope", "--out", "STATE/f.png"],
        "no campaign named nope",
    ),
    "results-functions-top-not-a-number": _results(
        ["results.functions", "--mode", "bridge", "--top", "many"], "--top must be a whole number"
    ),
    "results-functions-top-zero": _results(
        ["results.functions", "--mode", "bridge", "--top", "0"], "--top: 0 is out of range"
    ),
    "results-functions-format-unknown": _results(
        ["results.functions", "--mode", "bridge", "--format", "xml"], "--format must be one of"
    ),
    "results-sql-delete": _results(
        ["results.sql", "DELETE FROM run"], "database is read-only: DELETE FROM run"
    ),
    "results-sql-drop-table": _results(
        ["results.sql", "DROP TABLE run"], "database is read-only: DROP TABLE run"
    ),
    "results-sql-lift-query-only": _results(
        ["results.sql", "PRAGMA query_only = 0"], "database is read-only: PRAGMA query_only"
    ),
    "results-sql-attach": _results(
        ["results.sql", "ATTACH DATABASE 'STATE/x.db' AS x"], "database is read-only: ATTACH"
    ),
    "results-sql-semicolon": _results(
        ["results.sql", "SELECT 1; DELETE FROM run"],
        "SQL error: You can only execute one statement at a time.",
    ),
    "results-sql-format-unknown": _results(
        ["results.sql", "SELECT 1", "--format", "xml"], "--format must be one of table, json, csv"
    ),
    "results-export-campaign-unknown": _results(
        ["results.export", "--campaign", "nope", "--out", "STATE/export"], "no campaign named nope"
    ),
    "results-report-campaign-unknown": _results(
        ["results.report", "--campaign", "nope", "--out", "STATE/r.html"], "no campaign named nope"
    ),
    # results.import of files that are no netmatrix database: nothing is created here.
    "results-import-binary-garbage": _import("garbage.db", GARBAGE, ": file is not a database"),
    "results-import-text-file": _import("notes.db", b"SELECT * FROM run;\n", "is not a database"),
    "results-import-empty-file": _import(
        "empty.db", b"", "empty.db is not a netmatrix results database"
    ),
    "results-import-foreign-sqlite": _import(
        "other.db", _foreign_sqlite(), "other.db is not a netmatrix results database"
    ),
    "results-import-missing": _import("gone.db", None, ""),
    "results-import-this-very-database": Case(
        lambda s: ["results.import", str(s.database)],
        lambda s: f"{s.database} is this very database",
        "nothing to import",
        database=True,
    ),
}


@functools.cache
def demo_database() -> bytes:
    """The demo database at the newest schema (the read-only tasks refuse an older one), back
    in rollback-journal mode as it is stored, so that reading it leaves no -wal or -shm."""
    with tempfile.TemporaryDirectory() as directory:
        path = migrated_demo_database(Path(directory))
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.close()
        return path.read_bytes()


def run_invoke(scene: Scene, args: list[str], database: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NETMATRIX_DB": f"sqlite:///{database}",
        "NETMATRIX_RESULTS": str(scene.state / "results"),
    }
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def new_scene(tmp_path: Path) -> Scene:
    """A case's scene: an empty state directory, and a canary no other case shares."""
    scene = Scene(tmp_path, Path("/tmp") / f"netmatrix-{uuid.uuid4().hex}-canary")
    scene.state.mkdir()
    return scene


def assert_refused(
    result: subprocess.CompletedProcess[str], scene: Scene, where: str, what: str
) -> None:
    """Exit 2 and one `error:` line naming where and what: no traceback, no canary, no state."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error: ")
    assert where in lines[0]
    assert what in lines[0]
    assert not scene.canary.exists()
    assert list(scene.state.iterdir()) == []


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_with_one_line(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    scene = new_scene(tmp_path)
    database = scene.state / "netmatrix.db"
    if case.database:
        database = scene.write(scene.database.name, demo_database())

    result = run_invoke(scene, case.args(scene), database)

    assert_refused(result, scene, case.where(scene), case.what)
    if case.database:
        assert database.read_bytes() == demo_database()
        assert sorted(tmp_path.glob("demo.db*")) == [database]  # no -wal, -shm or -journal


# The kinds of bad input issue 7 lists, as words in the cases' names.
ISSUE_KINDS = (
    "malformed",
    "unknown",
    "wrong-type",
    "negative",
    "zero",
    "repetitions-too-many",
    "empty-axis",
    "duplicate-host",
    "cycle",
    "space",
    "command-substitution",
    "backticks",
    "semicolon",
    "binary-garbage",
    "huge",
)


def test_the_table_covers_the_issue() -> None:
    """Every kind of bad input the issue lists has at least one case."""
    assert [kind for kind, count in issue_kinds().items() if count == 0] == []


def inputs() -> Counter[str]:
    """Cases by what they feed in: the first word of each name (spec, inventory, trace, …)."""
    return Counter(name.split("-", 1)[0] for name in CASES)


def issue_kinds() -> Counter[str]:
    """Cases by the issue's kinds of bad input (a case may be of several, or of none)."""
    return Counter({kind: sum(kind in name for name in CASES) for kind in ISSUE_KINDS})


if __name__ == "__main__":
    print(f"{len(CASES)} bad-input cases")
    print("by input: " + ", ".join(f"{name} {count}" for name, count in inputs().items()))
    print("by kind:  " + ", ".join(f"{name} {count}" for name, count in issue_kinds().items()))
