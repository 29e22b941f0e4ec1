"""Host-key checking (orchestrator/hostkeys.py) through `connect`, against an SSH server.

The server is paramiko's, in this process, on one end of a socket pair: a real SSH handshake
(the key exchange presents its host key, the client checks it as it would any host's) with
no network and no root.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paramiko
import pytest

from orchestrator import hostkeys
from orchestrator.connection import SSHConnection, UnreachableError, connect_ssh
from orchestrator.connection.ssh import _fabric_connection
from orchestrator.host import Host

ADDRESS, PORT = "10.0.0.1", 2201
KNOWN_AS = f"[{ADDRESS}]:{PORT}"
SERVER_KEY = paramiko.ECDSAKey.generate()
OTHER_KEY = paramiko.ECDSAKey.generate()


class _AnyoneWithAKey(paramiko.ServerInterface):
    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL


@contextmanager
def ssh_server(host_key: paramiko.PKey) -> Iterator[socket.socket]:
    """An SSH server presenting `host_key`; yields the client's end of the connection."""
    client_end, server_end = socket.socketpair()
    server = paramiko.Transport(server_end)
    server.add_server_key(host_key)
    server.start_server(event=threading.Event(), server=_AnyoneWithAKey())  # in its thread
    try:
        yield client_end
    finally:
        server.close()
        client_end.close()
        server_end.close()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of our own: the developer's ~/.ssh/known_hosts stays out of these tests."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def client_key(tmp_path: Path) -> Path:
    path = tmp_path / "id_ecdsa"
    paramiko.ECDSAKey.generate().write_private_key_file(str(path))
    return path


def lab1(client_key: Path, **host_vars: Any) -> Host:
    return Host(
        "lab1",
        {
            "ansible_host": ADDRESS,
            "ansible_port": PORT,
            "ansible_user": "vagrant",
            "ansible_ssh_private_key_file": str(client_key),
            **host_vars,
        },
    )


def connect_to(host: Host, presenting: paramiko.PKey = SERVER_KEY) -> SSHConnection:
    """`connect(host)` (one attempt), reaching a server that presents `presenting`."""
    with ssh_server(presenting) as sock:

        def open_connection(host: Host, connect_timeout: float) -> Any:
            conn = _fabric_connection(host, connect_timeout)
            conn.connect_kwargs["sock"] = sock
            return conn

        conn = connect_ssh(
            host, connect_timeout=5, retries=0, backoff=0, open_connection=open_connection
        )
        conn.close()
        return conn


def known_line(key: paramiko.PKey, known_as: str = KNOWN_AS) -> str:
    return f"{known_as} {key.get_name()} {key.get_base64()}\n"


def openssh_fingerprint(key: paramiko.PKey) -> str:
    """What `ssh-keygen -l` prints for the key: SHA256 of its blob, base64 without padding."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def test_a_key_recorded_in_the_inventorys_file_is_accepted(tmp_path: Path, client_key: Path):
    known = tmp_path / "lab.known_hosts"
    known.write_text(known_line(OTHER_KEY, "[10.0.0.2]:2201") + known_line(SERVER_KEY))
    assert isinstance(connect_to(lab1(client_key, netmatrix_known_hosts=str(known))), SSHConnection)


def test_a_key_recorded_in_the_users_known_hosts_is_accepted(home: Path, client_key: Path):
    (home / ".ssh" / "known_hosts").write_text(known_line(SERVER_KEY))
    assert isinstance(connect_to(lab1(client_key)), SSHConnection)


def test_a_different_key_is_refused(tmp_path: Path, client_key: Path):
    known = tmp_path / "lab.known_hosts"
    known.write_text(known_line(OTHER_KEY))
    with pytest.raises(UnreachableError) as caught:
        connect_to(lab1(client_key, netmatrix_known_hosts=str(known)))
    assert str(caught.value) == (
        f"lab1 ({ADDRESS}:{PORT}): host key differs from the known one (ecdsa-sha2-nistp256 "
        f"{openssh_fingerprint(SERVER_KEY)}); someone may be intercepting, or the host was "
        "reinstalled: if so, remove its old key from the known_hosts file"
    )


def test_an_unknown_key_is_refused_with_the_fix(home: Path, tmp_path: Path, client_key: Path):
    (home / ".ssh" / "known_hosts").write_text(known_line(SERVER_KEY, "[10.0.0.1]:22"))
    missing = tmp_path / "never-written.known_hosts"
    with pytest.raises(UnreachableError) as caught:
        connect_to(lab1(client_key, netmatrix_known_hosts=str(missing)))
    assert str(caught.value) == (
        f"lab1 ({ADDRESS}:{PORT}): unknown host key (ecdsa-sha2-nistp256 "
        f"{openssh_fingerprint(SERVER_KEY)}): if it is the host's, record it with "
        "`ssh-keyscan -p 2201 10.0.0.1 >> ~/.ssh/known_hosts`, or set host_key_checking: false "
        "in the inventory"
    )
    assert not missing.exists(), "nothing is recorded on the way"


def test_the_inventorys_file_comes_before_a_stale_user_entry(
    home: Path, tmp_path: Path, client_key: Path
):
    # A lab machine recreated at a loopback port someone once ssh'ed into by hand.
    (home / ".ssh" / "known_hosts").write_text(known_line(OTHER_KEY))
    known = tmp_path / "lab.known_hosts"
    known.write_text(known_line(SERVER_KEY))
    assert isinstance(connect_to(lab1(client_key, netmatrix_known_hosts=str(known))), SSHConnection)
    with pytest.raises(UnreachableError, match="host key differs"):
        connect_to(lab1(client_key))  # without the lab's file the stale entry decides


@pytest.mark.parametrize("off", [False, "false", "False", "no", "0", "off"])
def test_checking_off_accepts_any_key_and_records_nothing(
    home: Path, tmp_path: Path, client_key: Path, off: object
):
    known = tmp_path / "lab.known_hosts"
    known.write_text(known_line(OTHER_KEY))
    host = lab1(client_key, host_key_checking=off, netmatrix_known_hosts=str(known))
    assert isinstance(connect_to(host), SSHConnection)
    assert known.read_text() == known_line(OTHER_KEY)
    assert not (home / ".ssh" / "known_hosts").exists()


@pytest.mark.parametrize("on", [True, "true", "True", "yes", "1"])
def test_checking_stays_on_unless_turned_off(on: object):
    assert hostkeys.checking_enabled(Host("lab1", {"host_key_checking": on}))
    assert hostkeys.checking_enabled(Host("lab1"))
