"""LocalConnection (`ansible_connection: local`): the same semantics as SSH, via subprocess."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from orchestrator.connection import (
    CommandFailed,
    CommandTimeout,
    LocalConnection,
    TransferError,
    connect,
)
from orchestrator.host import Host


@pytest.fixture
def conn() -> LocalConnection:
    local = connect(Host("ctl", {"ansible_connection": "local"}))
    assert isinstance(local, LocalConnection)
    return local


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_rc_stdout_stderr(conn: LocalConnection) -> None:
    result = conn.run("echo out; echo err >&2; exit 3")
    assert (result.rc, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert result.command == "echo out; echo err >&2; exit 3"
    assert not result.ok


def test_check_raises_with_the_last_line(conn: LocalConnection) -> None:
    with pytest.raises(CommandFailed, match=r"ctl: `ls /nonexistent-nm` exited 2: .*No such"):
        conn.run(["ls", "/nonexistent-nm"], check=True)


def test_stdin_and_env(conn: LocalConnection) -> None:
    assert conn.run("cat", stdin="line 1\nline 2").stdout == "line 1\nline 2"
    assert conn.run('printf %s "$V"', env={"V": "a $(b) `c`"}).stdout == "a $(b) `c`"


def test_stdin_is_closed_when_none_is_given(conn: LocalConnection) -> None:
    assert conn.run("cat", timeout=5).stdout == ""


def test_arguments_never_execute(conn: LocalConnection, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    args = [f"$(touch {canary})", f"`touch {canary}`", f"; touch {canary}", "&&", "|"]
    assert conn.run(["printf", "%s\\n", *args]).stdout.splitlines() == args
    assert not canary.exists()


def test_timeout_stops_the_whole_process_group(conn: LocalConnection, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match=r"ctl: `sleep 60 & .*` ran longer than 0.5s"):
        conn.run(f"sleep 60 & echo $! > {pids}; sleep 60", timeout=0.5)
    assert time.monotonic() - started < 5
    background = int(pids.read_text())
    deadline = time.monotonic() + 5
    while alive(background) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(background)


def test_exit_124_before_the_deadline_is_not_a_timeout(conn: LocalConnection) -> None:
    assert conn.run("exit 124", timeout=30).rc == 124


def test_sudo_as_root_is_run(conn: LocalConnection) -> None:
    if os.geteuid() == 0:
        assert conn.sudo(["id", "-u"]).stdout == "0\n"
        assert conn._sudo() == (None, None)
    else:
        assert conn._sudo()[0] == ["sudo", "-n"]


def test_put_and_get_verify_and_rename(conn: LocalConnection, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    data = os.urandom(300_000)
    source.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    put = conn.put(source, str(tmp_path / "remote.bin"), mode=0o640)
    assert (put.sha256, put.size) == (digest, len(data))
    assert (tmp_path / "remote.bin").stat().st_mode & 0o777 == 0o640
    got = conn.get(str(tmp_path / "remote.bin"), tmp_path / "back" / "copy.bin")
    assert got.sha256 == digest
    assert (tmp_path / "back" / "copy.bin").read_bytes() == data
    assert not list(tmp_path.rglob("*.netmatrix-*")), "no temporary file left"


@pytest.mark.parametrize("direction", ["put", "get"])
def test_corrupted_copy_never_gets_the_final_name(
    conn: LocalConnection, tmp_path: Path, direction: str
) -> None:
    source = tmp_path / "source.txt"
    source.write_text("payload\n")
    final = tmp_path / "final.txt"

    def corrupt(stage: str, temp: str) -> None:
        assert stage == direction
        with open(temp, "a") as stream:
            stream.write("garbage")

    conn.before_verify = corrupt
    transfer = conn.put if direction == "put" else conn.get
    with pytest.raises(TransferError, match="sha256 mismatch"):
        transfer(str(source), str(final))  # type: ignore[operator]
    assert not final.exists()
    assert not list(tmp_path.glob(".final.txt.netmatrix-*")), "temporary file removed"


def test_missing_source_is_a_transfer_error(conn: LocalConnection, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="no such local file"):
        conn.put(tmp_path / "missing", str(tmp_path / "x"))
    with pytest.raises(TransferError, match="no such file"):
        conn.get(str(tmp_path / "missing"), tmp_path / "x")
