"""command and shell: argument handling, creates/removes, check mode, quoting."""

import shlex

import pytest

from orchestrator.modules.base import ModuleArgError
from tests.fakes import FakeConnection
from tests.unit.modules.helpers import argv_of, run_module

CANARY = "$(touch /tmp/canary)"


def test_command_runs_argv_and_reports_changed():
    conn = FakeConnection().on(r"^uname -r$", (0, "6.1.0-13-amd64\n"))
    result = run_module("command", conn, {"_raw_params": "uname -r"})
    assert result.changed and not result.failed
    assert result.rc == 0 and result.stdout == "6.1.0-13-amd64"
    assert result.as_dict()["stdout_lines"] == ["6.1.0-13-amd64"]
    assert result.as_dict()["cmd"] == ["uname", "-r"]


def test_command_failure_carries_rc_and_stderr():
    conn = FakeConnection().on(r"^false", (1, "", "boom\n"))
    result = run_module("command", conn, {"cmd": "false"})
    assert result.failed and result.rc == 1 and result.stderr == "boom"
    assert result.msg == "non-zero return code"


def test_command_never_gives_text_to_a_shell():
    conn = FakeConnection().on(r"^echo", (0, ""))
    run_module("command", conn, {"argv": ["echo", CANARY]})
    assert argv_of(conn, "echo") == [["echo", CANARY]]
    # As the host's shell parses the text, the canary is one quoted word, never a substitution.
    assert conn.commands == [shlex.join(["echo", CANARY])]


def test_command_creates_skips_when_the_file_exists():
    conn = FakeConnection().on(r"^sh -c", (0, ""))
    result = run_module("command", conn, {"_raw_params": "make install", "creates": "/opt/x*"})
    assert not result.changed and "exists" in result.msg
    assert argv_of(conn, "sh")[0][-1] == "/opt/x*"  # the glob is data ($1), not script text
    assert not argv_of(conn, "make")


def test_command_removes_runs_only_when_the_file_exists():
    conn = FakeConnection().on(r"^sh -c", (1, "")).on(r"^rm", (0, ""))
    result = run_module("command", conn, {"_raw_params": "rm /x", "removes": "/x"})
    assert not result.changed and "does not exist" in result.msg
    assert not argv_of(conn, "rm")


def test_command_in_check_mode_is_skipped_and_runs_nothing():
    conn = FakeConnection()
    result = run_module("command", conn, {"_raw_params": "reboot"}, check=True)
    assert result.skipped and not result.changed
    assert conn.commands == []


def test_command_in_check_mode_with_creates_reports_the_change():
    conn = FakeConnection().on(r"^sh -c", (1, ""))
    result = run_module("command", conn, {"_raw_params": "make", "creates": "/x"}, check=True)
    assert result.changed and not result.skipped
    assert not argv_of(conn, "make")


def test_command_chdir_passes_the_directory_as_data():
    conn = FakeConnection().on(r"^sh -c", (0, "ok\n"))
    run_module("command", conn, {"argv": ["ls"], "chdir": CANARY})
    (argv,) = argv_of(conn, "sh")
    assert argv[:2] == ["sh", "-c"] and argv[-2:] == [CANARY, "ls"]
    assert CANARY not in argv[2]


def test_command_stdin_is_fed():
    conn = FakeConnection().on(r"^cat", (0, "x\n"))
    run_module("command", conn, {"argv": ["cat"], "stdin": "x"})
    assert conn.commands == ["cat"]


def test_command_unbalanced_quotes_are_an_argument_error():
    with pytest.raises(ModuleArgError, match="cannot split"):
        run_module("command", FakeConnection(), {"_raw_params": "echo 'oops"})


def test_shell_runs_text_through_sh_as_one_argument():
    conn = FakeConnection().on(r"^/bin/sh -c", (0, "3\n"))
    result = run_module("shell", conn, {"_raw_params": "ls | wc -l > /tmp/n"}, become=True)
    assert result.changed and result.stdout == "3"
    assert argv_of(conn, "/bin/sh") == [["/bin/sh", "-c", "ls | wc -l > /tmp/n"]]
    assert conn.calls[0][1] is True  # sudo wraps the whole shell, redirections included


def test_shell_executable():
    conn = FakeConnection().on(r"^/bin/bash -c", (0, ""))
    run_module("shell", conn, {"cmd": "echo $BASH", "executable": "/bin/bash"})
    assert argv_of(conn, "/bin/bash") == [["/bin/bash", "-c", "echo $BASH"]]


def test_shell_check_mode_runs_nothing():
    conn = FakeConnection()
    result = run_module("shell", conn, {"cmd": "rm -rf /srv"}, check=True)
    assert result.skipped and conn.commands == []


def test_shell_failure():
    conn = FakeConnection().on(r"^/bin/sh", (2, "", "sh: 1: nope: not found\n"))
    result = run_module("shell", conn, {"cmd": "nope"})
    assert result.failed and result.rc == 2 and "not found" in result.stderr


def test_environment_is_prefixed_so_it_survives_sudo():
    conn = FakeConnection().on(r"^env", (0, ""))
    run_module("command", conn, {"argv": ["make"]}, become=True, environment={"A": "b c"})
    assert argv_of(conn, "env") == [["env", "A=b c", "make"]]
