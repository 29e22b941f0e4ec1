"""The task collection as users meet it: every task documented, every flag explained.

Checked in a fresh interpreter because invoke consumes a task's `help` mapping when it
parses a command line, so tests that run tasks in-process leave it empty.
"""

import json
import subprocess
import sys

CHECK = r"""
import inspect, json
from invoke import Collection
from orchestrator.tasks import ns

def walk(collection, prefix=""):
    for name, task in collection.tasks.items():
        yield prefix + name, task
    for name, sub in collection.collections.items():
        yield from walk(sub, prefix + name + ".")

report = {}
for name, task in walk(ns):
    params = inspect.signature(task.body).parameters
    flags = {p.strip("_").replace("_", "-") for p in params} - {"c"}
    helped = {h.replace("_", "-") for h in task.help}
    doc = (task.__doc__ or "").strip()
    report[name] = {"undocumented": sorted(flags - helped), "stale": sorted(helped - flags),
                    "one_line_doc": bool(doc) and "\n" not in doc}
print(json.dumps(report))
"""


def collection_report() -> dict:
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_every_task_has_a_one_line_docstring_and_help_for_each_flag():
    report = collection_report()
    assert {
        "play",
        "provision",
        "facts",
        "inventory",
        "matrix",
        "rerun",
        "lab.up",
        "trace.collapse",
        "results.runs",
        "db.upgrade",
    } <= set(report)
    problems = {
        name: r
        for name, r in report.items()
        if r["undocumented"] or r["stale"] or not r["one_line_doc"]
    }
    assert problems == {}


def test_console_script_lists_the_same_tasks_as_invoke():
    listing = subprocess.run(
        [sys.executable, "-c", "from orchestrator.cli import main; main()", "--list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "matrix" in listing and "trace.collapse" in listing and "lab.up" in listing


def test_console_script_refuses_a_command_line_it_cannot_parse_as_bad_input():
    """Unknown flags and tasks, or a flag without its value: one `error:` line, exit 2."""
    for args, message in (
        (["results.table", "--bogus"], "error: No idea what '--bogus' is!"),
        (["no-such-task"], "error: No idea what 'no-such-task' is!"),
        (["trace.collapse", "--path"], "error: Flag <Argument: path (p) *> needed value"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", "from orchestrator.cli import main; main()", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
