"""connect(): choosing the connection, retries with backoff, what is not retried.

How host keys are checked: tests/unit/test_hostkeys.py."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import paramiko
import pytest
from paramiko.ssh_exception import NoValidConnectionsError

from orchestrator.connection import (
    LocalConnection,
    MissingKeyFile,
    SSHConnection,
    UnreachableError,
    connect,
    connect_ssh,
)
from orchestrator.connection.ssh import _fabric_connection
from orchestrator.host import Host
from orchestrator.hostkeys import UnknownHostKey

HOST = Host("lab1", {"ansible_host": "10.0.0.1", "ansible_port": 2201, "ansible_user": "root"})


def refused() -> NoValidConnectionsError:
    error = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    return NoValidConnectionsError({("10.0.0.1", 2201): error})


class FakeOpen:
    """Stands in for `_fabric_connection`: each attempt's open() raises the next error."""

    def __init__(self, *errors: BaseException | None) -> None:
        self.errors = list(errors)
        self.attempts = 0
        self.closed = 0

    def __call__(self, host: Host, connect_timeout: float) -> Any:
        outer = self

        class Conn:
            user = host.user
            transport = None

            def open(self) -> None:
                outer.attempts += 1
                error = outer.errors.pop(0) if outer.errors else None
                if error is not None:
                    raise error

            def close(self) -> None:
                outer.closed += 1

        return Conn()


def attempt(opener: FakeOpen, host: Host = HOST, **options: Any) -> tuple[Any, list[float]]:
    sleeps: list[float] = []
    settings = {"connect_timeout": 10.0, "retries": 3, "backoff": 0.5} | options
    result = connect_ssh(host, open_connection=opener, sleep=sleeps.append, **settings)
    return result, sleeps


def test_retries_with_exponential_backoff_then_connects() -> None:
    opener = FakeOpen(refused(), TimeoutError("timed out"), None)
    conn, sleeps = attempt(opener)
    assert isinstance(conn, SSHConnection)
    assert sleeps == [0.5, 1.0]
    assert opener.attempts == 3


def test_gives_up_after_retries_with_one_line_naming_host_and_port() -> None:
    opener = FakeOpen(*[refused()] * 4)
    with pytest.raises(UnreachableError) as caught:
        attempt(opener)
    assert str(caught.value) == "lab1 (10.0.0.1:2201): connection refused (4 attempts)"
    assert opener.closed == 4


def test_backoff_doubles() -> None:
    opener = FakeOpen(*[refused()] * 4)
    sleeps: list[float] = []
    with pytest.raises(UnreachableError):
        connect_ssh(
            HOST,
            connect_timeout=1,
            retries=3,
            backoff=0.5,
            open_connection=opener,
            sleep=sleeps.append,
        )
    assert sleeps == [0.5, 1.0, 2.0]


def test_timeout_reason_names_the_timeout() -> None:
    with pytest.raises(
        UnreachableError, match=r"10.0.0.1:2201\): timed out after 2.5s \(1 attempt\)"
    ):
        attempt(FakeOpen(TimeoutError("timed out")), retries=0, connect_timeout=2.5)


def test_authentication_failure_is_not_retried() -> None:
    opener = FakeOpen(paramiko.AuthenticationException("Authentication failed."))
    with pytest.raises(UnreachableError) as caught:
        attempt(opener)
    assert str(caught.value) == (
        "lab1 (10.0.0.1:2201): authentication failed for user root: Authentication failed."
    )
    assert opener.attempts == 1


def test_changed_host_key_is_not_retried() -> None:
    key = paramiko.ECDSAKey.generate()
    other = paramiko.ECDSAKey.generate()
    opener = FakeOpen(paramiko.BadHostKeyException("10.0.0.1", key, other))
    with pytest.raises(UnreachableError, match="host key differs from the known one"):
        attempt(opener)
    assert opener.attempts == 1


def test_unknown_host_key_is_not_retried() -> None:
    opener = FakeOpen(UnknownHostKey("10.0.0.1", 2201, paramiko.ECDSAKey.generate()))
    with pytest.raises(UnreachableError, match=r"^lab1 \(10.0.0.1:2201\): unknown host key"):
        attempt(opener)
    assert (opener.attempts, opener.closed) == (1, 1)


def test_banner_errors_are_retried() -> None:
    opener = FakeOpen(paramiko.SSHException("Error reading SSH protocol banner"), None)
    _, sleeps = attempt(opener)
    assert sleeps == [0.5]


def test_missing_key_file_fails_before_connecting(tmp_path: Path) -> None:
    host = Host("lab1", {"ansible_ssh_private_key_file": str(tmp_path / "nope")})
    opener = FakeOpen()
    with pytest.raises(MissingKeyFile, match=r"lab1:22: .*ansible_ssh_private_key_file") as caught:
        attempt(opener, host=host)
    assert opener.attempts == 0
    assert "nope" not in str(caught.value)  # key paths stay out of logs and the database


def test_local_and_unknown_connection_types() -> None:
    assert isinstance(connect(Host("ctl", {"ansible_connection": "local"})), LocalConnection)
    with pytest.raises(UnreachableError, match="unsupported ansible_connection 'winrm'"):
        connect(Host("win", {"ansible_connection": "winrm"}))


def test_fabric_connection_comes_from_the_inventory_only(tmp_path: Path) -> None:
    key = tmp_path / "id"
    key.write_text("unused")
    host = Host(
        "lab1",
        {
            "ansible_host": "10.0.0.1",
            "ansible_port": "2201",
            "ansible_user": "vagrant",
            "ansible_ssh_private_key_file": str(key),
            "host_key_checking": False,
        },
    )
    conn = _fabric_connection(host, 2.5)
    assert (conn.host, conn.port, conn.user) == ("10.0.0.1", 2201, "vagrant")
    assert conn.connect_kwargs == {
        "timeout": 2.5,
        "banner_timeout": 2.5,
        "auth_timeout": 2.5,
        "key_filename": [str(key)],  # Fabric keeps a list
        "look_for_keys": False,
        "allow_agent": False,
    }
    assert not conn.is_connected


def test_a_reconnect_tries_as_the_first_connect_was_told_to() -> None:
    """After a dropped connection, `_reopen` keeps the caller's timeout, retries and backoff.

    On loopback: a `_reopen` that ignored the seams would try a real (refused) connection."""
    host = Host("lab1", {"ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_user": "root"})
    timeouts: list[float] = []
    opener = FakeOpen()

    def recording(host: Host, connect_timeout: float) -> Any:
        timeouts.append(connect_timeout)
        return opener(host, connect_timeout)

    sleeps: list[float] = []
    conn = connect_ssh(
        host,
        connect_timeout=2.5,
        retries=1,
        backoff=0.25,
        open_connection=recording,
        sleep=sleeps.append,
    )
    opener.errors = [refused(), refused()]

    with pytest.raises(UnreachableError, match=r"127\.0\.0\.1:9\): .* \(2 attempts\)$"):
        conn._reopen()

    assert timeouts == [2.5, 2.5, 2.5]
    assert sleeps == [0.25]
