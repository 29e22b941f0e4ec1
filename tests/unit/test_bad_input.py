"""Bad input, table-driven, through the real command line (issue 7).

Each case runs `python -m invoke` as users do and must end with exit code 2 and exactly one
line on stderr naming where (file:line, flag or key) and what, with no traceback, no shell
canary created and no state left behind: no results database, no results directory.
Specs are checked with a missing inventory, so a spec that slipped through would be reported
about the inventory instead; host checks come before any host is contacted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.unit.inventory.test_errors import CASES as INVENTORY_MESSAGES

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "tests" / "fixtures" / "specs" / "bad"
INVENTORIES = ROOT / "tests" / "fixtures" / "inventories" / "bad"
GOOD_SPEC = ROOT / "playbooks" / "demo.yml"


@dataclass(frozen=True)
class Scene:
    """Where a case runs: its temporary directory and the path its canary would take."""

    tmp: Path
    canary: Path

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
    """Arguments to invoke, and text the one error line must hold (where, then what)."""

    args: Callable[[Scene], list[str]]
    where: Callable[[Scene], str]
    what: str


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


def _spec_text(extra: str) -> str:
    return f"name: m\nbaseline: host\naxes: {{mode: [host], size: [64], proto: [tcp]}}\n{extra}"


def _listed(name: str) -> Case:
    """A bad inventory fixture through `invoke inventory --list`."""
    path = INVENTORIES / name
    return Case(
        lambda s: ["inventory", "--list", "--inventory", str(path)],
        lambda s: f"{path}:{INVENTORY_MESSAGES[name]}",
        "",
    )


def _dry_run(inventory: Path | str) -> list[str]:
    return ["matrix", "--dry-run", "--spec", str(GOOD_SPEC), "--inventory", str(inventory)]


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


def _trace(flags: list[str], where: str, what: str) -> Case:
    """A trace task on a one-line trace, with a bad flag."""

    def args(s: Scene) -> list[str]:
        trace = str(s.write("trace.txt", "x\n"))
        return [item.replace("TRACE", trace) for item in flags]

    return Case(args, lambda s: where, what)


NAME_RULE = "may hold only letters, digits, '.', '_' and '-'"
HOST_RULE = "a matrix host name " + NAME_RULE
EVENT_RULE = "is not a perf event (no spaces or shell characters allowed)"

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
        )
    },
    "spec-negative-size": _spec(
        lambda s: "name: m\nbaseline: host\naxes: {mode: [host], size: [-64], proto: [tcp]}\n",
        "3:29: axes.size[0]: -64 is out of range",
        "",
    ),
    "spec-binary-garbage": _spec(lambda s: b"\x00\xff\xfe\x80\x81garbage\n", "", "UTF-8"),
    "spec-name-command-substitution": _spec(
        lambda s: (
            f"name: '$({s.touch})'\nbaseline: host\n"
            "axes: {mode: [host], size: [64], proto: [tcp]}\n"
        ),
        "1:7: name: ",
        NAME_RULE,
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
    "spec-ftrace-command-substitution": _spec(
        lambda s: _spec_text(f"trace: {{ftrace: {{graph_functions: ['$({s.touch})']}}}}\n"),
        "4:36: trace.ftrace.graph_functions[0]: ",
        "is not a kernel function name",
    ),
    # Inventories through `invoke inventory --list`: YAML/INI syntax, cycles, types, bytes.
    **{
        f"inventory-{name}": _listed(name)
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
    "matrix-inventory-missing": Case(
        lambda s: _dry_run("nope.yml"),
        lambda s: "nope.yml: ",
        "no such inventory",
    ),
    "matrix-host-command-substitution": _matrix_inventory(
        lambda s: _local_host(f"$({s.touch})"), HOST_RULE
    ),
    "matrix-host-backticks": _matrix_inventory(lambda s: _local_host(f"`{s.touch}`"), HOST_RULE),
    "matrix-host-semicolon": _matrix_inventory(lambda s: _local_host(f"lab1;{s.touch}"), HOST_RULE),
    "matrix-host-space": _matrix_inventory(lambda s: _local_host("lab 1"), HOST_RULE),
    "matrix-port-not-a-number": _matrix_inventory(
        lambda s: _local_host("lab1", ansible_port="abc"), "ansible_port 'abc' is not a port"
    ),
    "matrix-port-negative": _matrix_inventory(
        lambda s: _local_host("lab1", ansible_port=-1), "ansible_port -1 is not a port"
    ),
    "matrix-port-huge": _matrix_inventory(
        lambda s: _local_host("lab1", ansible_port=70000), "ansible_port 70000 is not a port"
    ),
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
}


def run_invoke(scene: Scene, args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NETMATRIX_DB": str(scene.tmp / "state" / "netmatrix.db"),
        "NETMATRIX_RESULTS": str(scene.tmp / "state" / "results"),
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


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_with_one_line(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    scene = Scene(tmp_path, Path("/tmp") / f"netmatrix-{uuid.uuid4().hex}-canary")
    (tmp_path / "state").mkdir()

    result = run_invoke(scene, case.args(scene))

    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error: ")
    assert case.where(scene) in lines[0]
    assert case.what in lines[0]
    assert not scene.canary.exists()
    assert list((tmp_path / "state").iterdir()) == []


def test_the_table_covers_the_issue() -> None:
    """Every kind of bad input the issue lists has at least one case."""
    kinds = (
        "malformed",
        "unknown",
        "wrong-type",
        "negative",
        "zero",
        "repetitions-too-many",
        "empty-axis",
        "cycle",
        "space",
        "command-substitution",
        "backticks",
        "semicolon",
        "binary-garbage",
        "huge",
    )
    assert [kind for kind in kinds if not any(kind in name for name in CASES)] == []
