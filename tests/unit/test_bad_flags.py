"""Bad flag values, generated from the task collection itself (issue 12).

Every flag of every task is classified in FLAGS; a task's flag that FLAGS does not name fails
`test_every_flag_is_classified`, so a new flag cannot escape. From the table, every integer
flag gets `abc` and `0`, every factor and share flag `abc` and a number out of its range,
every choice flag an unknown value and every input path a path that does not exist. Each case
runs through `python -m invoke` with test_bad_input's harness and must end with exit 2 and one
`error:` line naming the flag (or the path), before any file, database or host is touched: the
other flags are good or harmless (a missing results database, an inventory of one local host),
so a bad value that slipped through would be reported about something else.

Not fed: switches (booleans), free text (checked against the spec, the inventory or the
database, in test_bad_input), and outputs (a path that does not exist yet is what they take).
`python -m tests.unit.test_bad_flags` prints how many cases the table generates, by kind.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.tasks import ns
from tests.unit.test_bad_input import GOOD_SPEC, GOOD_TRACE, assert_refused, new_scene, run_invoke

INTEGER, FACTOR, SHARE, CHOICE, PATH, OUTPUT, TEXT, SWITCH = (
    "integer",
    "factor",
    "share",
    "choice",
    "path",
    "output",
    "text",
    "switch",
)

# What each kind is fed, and what the error line must then say besides the flag.
BAD_VALUES: dict[str, dict[str, str]] = {
    INTEGER: {"abc": "must be a whole number, not 'abc'", "0": "0 is out of range"},
    FACTOR: {"abc": "must be a number, not 'abc'", "0.5": "must be at least 1, not 0.5"},
    SHARE: {"abc": "must be a number, not 'abc'", "0": "must be above 0 and at most 1"},
    CHOICE: {"bogus": "not 'bogus'"},
    PATH: {"MISSING": ""},
}

# Every task's every flag (as on the command line), by kind.
FLAGS: dict[str, dict[str, str]] = {
    "db.check": {},
    "db.upgrade": {},
    "demo": {"figures": OUTPUT},
    "facts": {"hosts": TEXT, "inventory": PATH, "format": CHOICE},
    "inventory": {"inventory": PATH, "list": SWITCH, "host": TEXT, "graph": SWITCH, "group": TEXT},
    "lab.box": {"kernels": TEXT},
    "lab.down": {"hosts": TEXT},
    "lab.promisc": {"hosts": TEXT, "mode": CHOICE, "nic": INTEGER},
    "lab.status": {},
    "lab.up": {"hosts": TEXT, "provider": CHOICE, "spec": PATH},
    "matrix": {
        "hosts": TEXT,
        "spec": PATH,
        "inventory": PATH,
        "no-resume": SWITCH,
        "dry-run": SWITCH,
        "keep-script": SWITCH,
    },
    "rerun": {
        "cell": TEXT,
        "hosts": TEXT,
        "spec": PATH,
        "inventory": PATH,
        "repetitions": INTEGER,
        "keep-script": SWITCH,
    },
    "play": {
        "playbook": PATH,
        "hosts": TEXT,
        "inventory": PATH,
        "check": SWITCH,
        "tags": TEXT,
        "skip-tags": TEXT,
        "forks": INTEGER,
        "extra-vars": TEXT,
    },
    "provision": {"hosts": TEXT, "inventory": PATH, "check": SWITCH, "forks": INTEGER},
    "results.diff": {
        "mode": TEXT,
        "baseline": TEXT,
        "host": TEXT,
        "campaign": TEXT,
        "format": CHOICE,
        "factor": FACTOR,
        "presence": SHARE,
        "all": SWITCH,
        "kernel": TEXT,
        "baseline-kernel": TEXT,
    },
    "results.export": {"out": OUTPUT, "campaign": TEXT, "results": OUTPUT},
    "results.functions": {"mode": TEXT, "top": INTEGER, "campaign": TEXT, "format": CHOICE},
    "results.import": {"path": PATH, "keep-both": SWITCH, "results": OUTPUT},
    "results.latency": {
        "function": TEXT,
        "stat": CHOICE,
        "rows": CHOICE,
        "cols": CHOICE,
        "by": CHOICE,
        "campaign": TEXT,
        "format": CHOICE,
        "plot": OUTPUT,
    },
    "results.plot": {
        "kind": CHOICE,
        "out": OUTPUT,
        "campaign": TEXT,
        "metric": CHOICE,
        "baseline": TEXT,
        "top": INTEGER,
    },
    "results.report": {"out": OUTPUT, "campaign": TEXT, "baseline": TEXT},
    "results.runs": {"campaign": TEXT, "format": CHOICE, "wide": SWITCH},
    "results.sql": {"query": TEXT, "format": CHOICE},
    "results.table": {
        "campaign": TEXT,
        "metric": CHOICE,
        "rows": CHOICE,
        "cols": CHOICE,
        "by": CHOICE,
        "baseline": TEXT,
        "format": CHOICE,
    },
    "trace.collapse": {
        "path": PATH,
        "event": TEXT,
        "out": OUTPUT,
        "format": CHOICE,
        "pid": SWITCH,
        "tid": SWITCH,
    },
    "trace.diff": {"baseline": PATH, "path": PATH, "format": CHOICE, "factor": FACTOR},
    "trace.ftrace": {"path": PATH, "format": CHOICE, "top": INTEGER},
    "trace.summary": {"path": PATH, "format": CHOICE, "top": INTEGER},
}

# The good flags a case of each task starts from (the flag under test replaces its own).
# INVENTORY is an inventory of one local host; nothing here reaches a host or the network.
GOOD: dict[str, dict[str, str]] = {
    "facts": {"hosts": "all", "inventory": "INVENTORY"},
    "inventory": {"list": "", "inventory": "INVENTORY"},
    "lab.promisc": {"hosts": "lab1"},
    "lab.up": {"hosts": "lab1"},
    "matrix": {"dry-run": "", "spec": str(GOOD_SPEC), "inventory": "INVENTORY"},
    "rerun": {"cell": "mode=bridge", "spec": str(GOOD_SPEC), "inventory": "INVENTORY"},
    "play": {"playbook": "PLAYBOOK", "hosts": "all", "inventory": "INVENTORY", "check": ""},
    "provision": {"hosts": "all", "inventory": "INVENTORY", "check": ""},
    "results.diff": {"mode": "bridge"},
    "results.functions": {"mode": "bridge"},
    "results.latency": {"function": "br_dev_queue_push_xmit"},
    "results.plot": {"kind": "throughput", "out": "STATE/f.png"},
    "results.sql": {"query": "SELECT 1"},
    "trace.collapse": {"path": str(GOOD_TRACE)},
    "trace.diff": {"baseline": str(GOOD_TRACE), "path": str(GOOD_TRACE)},
    "trace.ftrace": {"path": str(GOOD_TRACE)},
    "trace.summary": {"path": str(GOOD_TRACE)},
}

LOCAL_INVENTORY = "lab:\n  hosts:\n    lab1:\n      ansible_connection: local\n"
PLAYBOOK = "- hosts: all\n  tasks:\n    - command: {argv: [true]}\n"


@dataclass(frozen=True)
class FlagCase:
    """One task run with one flag given one bad value."""

    task: str
    flag: str
    kind: str
    value: str
    what: str

    @property
    def name(self) -> str:
        return f"{self.task}--{self.flag}-{self.value.lower()}"

    def args(self, tmp: Path, state: Path) -> list[str]:
        """The task's good flags with this flag's bad value (MISSING: a path that is not)."""
        flags = {**GOOD.get(self.task, {}), self.flag: self.value}
        substitutes = {
            "INVENTORY": lambda: _write(tmp / "inventory.yml", LOCAL_INVENTORY),
            "PLAYBOOK": lambda: _write(tmp / "playbook.yml", PLAYBOOK),
            "MISSING": lambda: str(self.missing(tmp)),
        }
        args = [self.task]
        for flag, value in flags.items():
            value = substitutes[value]() if value in substitutes else value
            value = value.replace("STATE", str(state))
            args += [f"--{flag}"] if value == "" else [f"--{flag}={value}"]
        return args

    def missing(self, tmp: Path) -> Path:
        return tmp / "missing" / f"{self.flag}.yml"

    def where(self, tmp: Path) -> str:
        """The flag an error about a value names, or the path an error about a file names."""
        return str(self.missing(tmp)) if self.kind == PATH else f"--{self.flag}"


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def task_flags() -> dict[str, list[str]]:
    """Each task of the collection and its flags, as a user types them."""
    return {
        name: [argument.names[0] for argument in ns[name].get_arguments()]
        for name in sorted(ns.task_names)
    }


def generated() -> list[FlagCase]:
    return [
        FlagCase(task, flag, kind, value, what)
        for task, flags in FLAGS.items()
        for flag, kind in flags.items()
        for value, what in BAD_VALUES.get(kind, {}).items()
    ]


CASES = {case.name: case for case in generated()}


def test_every_flag_is_classified() -> None:
    """The table names every task and flag of the collection, and nothing else."""
    assert {task: list(flags) for task, flags in FLAGS.items()} == task_flags()


def test_good_flags_are_flags() -> None:
    """A good flag no task has would make invoke refuse the case for the wrong reason."""
    assert {task: set(flags) - set(FLAGS[task]) for task, flags in GOOD.items()} == {
        task: set() for task in GOOD
    }


@pytest.mark.parametrize("name", list(CASES))
def test_bad_flag_is_refused_with_one_line(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    scene = new_scene(tmp_path)

    result = run_invoke(scene, case.args(tmp_path, scene.state), scene.state / "netmatrix.db")

    assert_refused(result, scene, case.where(tmp_path), case.what)
    assert not case.missing(tmp_path).parent.exists()


if __name__ == "__main__":
    print(f"{len(CASES)} bad-flag cases")
    print(
        "by kind: "
        + ", ".join(f"{k} {n}" for k, n in Counter(c.kind for c in CASES.values()).items())
    )
