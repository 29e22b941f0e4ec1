"""`invoke inventory`: the views on stdout, exit code 2 and one line on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Collection, Program

from orchestrator.tasks.inventory import inventory
from tests.unit.inventory.conftest import FIXTURES, REPO

COMPAT = FIXTURES / "compat"


def run_task(*args: str) -> None:
    program = Program(namespace=Collection(inventory), name="netmatrix", binary="netmatrix")
    program.run(["netmatrix", "inventory", *args])


def run_task_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; from invoke import Collection, Program; "
        "from orchestrator.tasks.inventory import inventory; "
        "Program(namespace=Collection(inventory), name='netmatrix', binary='netmatrix')"
        ".run(['netmatrix', 'inventory', *sys.argv[1:]])"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=False,
    )


def test_list(capsys) -> None:
    run_task("--inventory", str(COMPAT / "basic.ini"), "--list")

    document = json.loads(capsys.readouterr().out)
    assert document["all"]["children"] == ["ungrouped", "lab", "monitoring"]
    assert document["_meta"]["hostvars"]["lab2"]["ansible_port"] == 2222


def test_host_and_short_flags(capsys) -> None:
    run_task("-i", str(COMPAT / "basic.yml"), "-h", "grafana")

    assert json.loads(capsys.readouterr().out) == {
        "ansible_host": "10.0.0.5",
        "ansible_user": "netmatrix",
        "level": "host",
        "site": "lab",
    }


def test_graph_of_one_group(capsys) -> None:
    run_task("--inventory", str(COMPAT / "basic.yml"), "--graph", "--group", "lab")

    assert capsys.readouterr().out.splitlines()[:2] == ["@lab:", "  |--@bridge_hosts:"]


def test_default_inventory_is_the_lab_one(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "inventories").mkdir()
    (tmp_path / "inventories" / "lab.yml").write_text("lab:\n  hosts:\n    lab1:\n")
    monkeypatch.chdir(tmp_path)

    run_task("--list")

    assert json.loads(capsys.readouterr().out)["lab"] == {"hosts": ["lab1"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--list"], "error: inventories/lab.yml: no such inventory file"),
        (
            ["--inventory", str(FIXTURES / "bad" / "malformed.yml"), "--list"],
            f"error: {FIXTURES / 'bad' / 'malformed.yml'}:5:6: malformed YAML",
        ),
        (
            ["--inventory", str(FIXTURES / "bad" / "cycle.ini"), "--graph"],
            f"error: {FIXTURES / 'bad' / 'cycle.ini'}:8:1: group 'a' cannot be a child of 'c'",
        ),
        (
            ["--inventory", str(COMPAT / "basic.yml"), "--host", "lab9"],
            "error: host pattern 'lab9' matches no host; known hosts: controller, lab1,",
        ),
        (
            ["--inventory", str(COMPAT / "basic.yml"), "--host", ""],
            "error: choose exactly one of --list, --host NAME, --graph",
        ),
        (["--inventory", str(COMPAT / "basic.yml")], "error: choose exactly one of"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, monkeypatch, capsys, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(SystemExit) as exit_:
        run_task(*args)

    out, err = capsys.readouterr()
    assert exit_.value.code == 2
    assert out == ""
    assert err.startswith(message)
    assert len(err.strip().splitlines()) == 1


def test_a_real_process_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = FIXTURES / "bad" / "unclosed_quote.ini"

    result = run_task_process("--inventory", str(bad), "--list", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {bad}:3:1: cannot split host line: No closing quotation\n"
