"""How a command becomes shell text: quoting, timeout and sudo wrappers, environment."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from orchestrator.connection import KILL_AFTER, command_text, wire_command

PAYLOADS = ["$(touch {canary})", "`touch {canary}`", "; touch {canary}", "a b", "it's", "*"]


def test_sequence_is_quoted_argument_by_argument() -> None:
    assert command_text(["echo", "a b", "$x"]) == "echo 'a b' '$x'"
    assert command_text("echo $x") == "echo $x", "a string is shell text, as given"


def test_empty_sequence_is_refused() -> None:
    with pytest.raises(ValueError, match="empty command"):
        command_text([])


def test_metacharacters_in_arguments_reach_the_program_as_data(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    args = [payload.format(canary=canary) for payload in PAYLOADS]
    wire = wire_command(command_text(["printf", "%s\\n", *args]), timeout=5, env={"X": "$(id)"})
    done = subprocess.run(["/bin/sh", "-c", wire], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == args
    assert not canary.exists()


def test_plain_command_runs_under_sh() -> None:
    assert wire_command("echo hi") == "/bin/sh -c 'echo hi'"


def test_timeout_wraps_the_shell_and_kills_after_a_grace() -> None:
    wire = wire_command("sleep 9", timeout=1.5)
    assert shlex.split(wire) == [
        "timeout",
        "-k",
        str(KILL_AFTER),
        "1.5",
        "/bin/sh",
        "-c",
        "sleep 9",
    ]
    assert shlex.split(wire_command("x", timeout=30))[3] == "30"
    assert shlex.split(wire_command("x", timeout=1e6))[3] == "1000000"


def test_sudo_wraps_the_timeout_so_it_runs_as_root() -> None:
    wire = wire_command("id", timeout=2, sudo=["sudo", "-k", "-S", "-p", ""])
    assert shlex.split(wire)[:7] == ["sudo", "-k", "-S", "-p", "", "--", "timeout"]


def test_environment_is_exported_quoted_inside_the_command() -> None:
    wire = wire_command("echo $A", env={"A": "x'; touch /tmp/no"})
    inner = shlex.split(wire)[2]
    assert inner == "export A='x'\"'\"'; touch /tmp/no'; echo $A"
    done = subprocess.run(["/bin/sh", "-c", wire], capture_output=True, text=True, check=True)
    assert done.stdout == "x'; touch /tmp/no\n"


@pytest.mark.parametrize("name", ["A-B", "1A", "A B", "A;id", ""])
def test_invalid_environment_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid environment variable name"):
        wire_command("true", env={name: "x"})


@pytest.mark.parametrize("timeout", [0, -1])
def test_non_positive_timeout_is_refused(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout must be positive"):
        wire_command("true", timeout=timeout)
