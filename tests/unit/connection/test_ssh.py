"""SSHConnection's logic over a fake Fabric connection: wrappers, sudo, stdin, timeouts."""

from __future__ import annotations

import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import invoke
import pytest
from invoke.util import ExceptionWrapper

from orchestrator.connection import CommandTimeout, SSHConnection, UnreachableError
from orchestrator.connection.ssh import DEAD_PEER_SECONDS, _notice_dead_peers
from orchestrator.host import Host

Reply = tuple[int, str, str] | Callable[[str], tuple[int, str, str]] | BaseException


@dataclass
class FakeFabric:
    """Records what `run` was given (wire text, options, stdin) and answers from `replies`."""

    user: str = "root"
    replies: dict[str, Reply] = field(default_factory=dict)
    runs: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    transport: Any = None
    closed: bool = False

    def run(self, wire: str, **options: Any) -> SimpleNamespace:
        stdin = options["in_stream"].read()
        self.runs.append((wire, options, stdin))
        reply: Reply = (0, "", "")
        for needle, answer in self.replies.items():
            if needle in wire:
                reply = answer
                break
        if isinstance(reply, BaseException):
            raise reply
        rc, out, err = reply(wire) if callable(reply) else reply
        return SimpleNamespace(return_code=rc, stdout=out, stderr=err)

    def open(self) -> None:
        """Connected from the start, as Fabric's `open` is a no-op then."""

    def close(self) -> None:
        self.closed = True


def ssh(user: str = "root", replies: dict[str, Reply] | None = None, **host_vars: Any):
    fabric = FakeFabric(user=user, replies=replies or {})
    host = Host("lab1", {"ansible_user": user, **host_vars})
    return SSHConnection(host, fabric, reopen=no_reconnect), fabric


def no_reconnect() -> SSHConnection:
    """These tests never drop a connection (transfers' reconnects: integration tests)."""
    pytest.fail("unexpected reconnect")


def test_run_sends_the_wrapped_text_and_keeps_the_callers() -> None:
    conn, fabric = ssh(replies={"uname": (0, "6.1.0\n", "")})
    result = conn.run(["uname", "-r"])
    wire, options, stdin = fabric.runs[0]
    assert shlex.split(wire) == ["/bin/sh", "-c", "uname -r"]
    assert options | {"in_stream": None} == {
        "warn": True,
        "hide": True,
        "pty": False,
        "in_stream": None,
        "timeout": None,
    }
    assert stdin == "", "stdin is closed, never the terminal's"
    assert (result.command, result.rc, result.stdout) == ("uname -r", 0, "6.1.0\n")


def test_sudo_as_root_is_plain_run() -> None:
    conn, fabric = ssh(user="root", ansible_become_password="hunter2")
    conn.sudo("id -u")
    assert fabric.runs[0][0] == "/bin/sh -c 'id -u'"
    assert fabric.runs[0][2] == ""


def test_sudo_with_password_feeds_it_on_stdin_only() -> None:
    conn, fabric = ssh(
        user="lab", ansible_become_password="hunter2", replies={"sudo -n true": (1, "", "")}
    )
    result = conn.sudo(["cat"], stdin="data", timeout=5)
    conn.sudo("true")
    probe, first, second = fabric.runs
    assert "sudo -n true" in probe[0]
    assert shlex.split(first[0])[:6] == ["sudo", "-k", "-S", "-p", "", "--"]
    assert first[2] == "hunter2\ndata"
    assert "hunter2" not in first[0] and "hunter2" not in result.command
    assert result.command == "cat"
    assert second[2] == "hunter2\n", "the decision is made once"


def test_passwordless_sudo_never_sends_the_password() -> None:
    conn, fabric = ssh(
        user="lab", ansible_become_password="hunter2", replies={"sudo -n true": (0, "", "")}
    )
    conn.sudo("id")
    assert shlex.split(fabric.runs[1][0])[:3] == ["sudo", "-n", "--"]
    assert fabric.runs[1][2] == ""


def test_sudo_without_password_is_non_interactive() -> None:
    conn, fabric = ssh(user="lab")
    conn.sudo("id")
    assert len(fabric.runs) == 1, "no probe needed"
    assert shlex.split(fabric.runs[0][0])[:3] == ["sudo", "-n", "--"]


def test_timeout_exit_after_the_deadline_raises() -> None:
    def slow(wire: str) -> tuple[int, str, str]:
        time.sleep(0.06)
        return 124, "", ""

    conn, fabric = ssh(replies={"sleep": slow})
    with pytest.raises(CommandTimeout, match=r"lab1: `sleep 9` ran longer than 0.05s"):
        conn.run("sleep 9", timeout=0.05)
    assert shlex.split(fabric.runs[0][0])[:4] == ["timeout", "-k", "5", "0.05"]
    assert fabric.runs[0][1]["timeout"] > 0.05, "the client waits longer than timeout(1)"


def test_client_side_timeout_raises_too() -> None:
    conn, _ = ssh(replies={"sleep": invoke.CommandTimedOut(invoke.Result(), timeout=1)})
    with pytest.raises(CommandTimeout):
        conn.run("sleep 9", timeout=1)


BROKEN_THREAD = invoke.ThreadException(
    [ExceptionWrapper({}, OSError, OSError("Socket is closed"), None)]
)


@pytest.mark.parametrize("error", [EOFError(), OSError("Socket is closed"), BROKEN_THREAD])
def test_lost_connection_is_unreachable(error: BaseException) -> None:
    conn, _ = ssh(replies={"id": error})
    with pytest.raises(UnreachableError, match="lab1:22: connection lost"):
        conn.run("id")


def test_close_closes_fabric() -> None:
    conn, fabric = ssh()
    conn.close()
    assert fabric.closed


def test_a_silently_vanished_peer_is_noticed_within_a_minute() -> None:
    """The SSH socket gets keepalives and TCP_USER_TIMEOUT, once per transport."""
    keepalives: list[int] = []
    with socket.socket() as sock:
        transport = SimpleNamespace(sock=sock, set_keepalive=keepalives.append)
        _notice_dead_peers(transport)  # type: ignore[arg-type]
        _notice_dead_peers(transport)  # type: ignore[arg-type]
        assert keepalives == [15]
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == (
            DEAD_PEER_SECONDS * 1000
        )
        idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
        probes = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) * sock.getsockopt(
            socket.IPPROTO_TCP, socket.TCP_KEEPCNT
        )
        assert idle + probes <= 60


def test_a_channel_closed_without_status_on_a_dead_connection_is_unreachable() -> None:
    conn, _ = ssh(replies={"apt-get": (-1, "Get:1 http://deb.debian.org/debian\n", "")})
    with pytest.raises(
        UnreachableError, match=r"^lab1:22: connection lost during `apt-get update`$"
    ):
        conn.run(["apt-get", "update"])
