"""connection.py over real sshd servers on 127.0.0.2 and 127.0.0.3 (see conftest.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.connection import (
    CommandFailed,
    CommandTimeout,
    SSHConnection,
    TransferError,
    UnreachableError,
    connect,
)
from orchestrator.host import Host
from tests.integration.sshd import SshdLab, keygen, pid_alive, ssh_connection

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sshd1", "sshd2"])
def conn(request: pytest.FixtureRequest, sshd_hosts: tuple[Host, ...]) -> Iterator[SSHConnection]:
    host = next(host for host in sshd_hosts if host.name == request.param)
    with ssh_connection(host) as opened:
        yield opened


@pytest.fixture
def remote_dir(conn: SSHConnection) -> Iterator[str]:
    path = f"/tmp/netmatrix-it-{uuid.uuid4().hex[:10]}"
    conn.run(["mkdir", "-p", path], check=True)
    try:
        yield path
    finally:
        conn.run(["rm", "-rf", "--", path])


def test_run_gives_rc_stdout_stderr(conn: SSHConnection) -> None:
    result = conn.run("echo out; echo err >&2; exit 7")
    assert (result.rc, result.stdout, result.stderr) == (7, "out\n", "err\n")
    assert conn.run(["id", "-un"]).stdout == "root\n"
    with pytest.raises(CommandFailed, match=r"sshd\d: `false` exited 1: no output"):
        conn.run(["false"], check=True)


def test_the_connection_really_goes_to_its_address(conn: SSHConnection) -> None:
    # sshd sets SSH_CONNECTION to "client_ip client_port server_ip server_port".
    server_ip = conn.run('echo "$SSH_CONNECTION"').stdout.split()[2]
    assert server_ip == conn.host.address


def test_stdin_and_env_reach_the_command(conn: SSHConnection) -> None:
    assert conn.run("cat", stdin="one\ntwo\n").stdout == "one\ntwo\n"
    assert conn.run("cat", timeout=10).stdout == "", "stdin is closed when not given"
    result = conn.run('printf %s "$NM_VALUE"', env={"NM_VALUE": "a b; $(id) `id`"})
    assert result.stdout == "a b; $(id) `id`"


def test_sudo_as_root_login_is_run(conn: SSHConnection) -> None:
    result = conn.sudo(["id", "-u"])
    assert (result.rc, result.stdout, result.command) == (0, "0\n", "id -u")


def test_timeout_stops_the_remote_command_and_its_children(
    conn: SSHConnection, remote_dir: str
) -> None:
    pids = f"{remote_dir}/pids"
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match="ran longer than 1s and was stopped"):
        conn.run(f"echo $$ > {pids}; sleep 300 & echo $! >> {pids}; wait", timeout=1)
    assert time.monotonic() - started < 4
    shell, child = (int(pid) for pid in conn.run(["cat", pids]).stdout.split())
    deadline = time.monotonic() + 5
    while (pid_alive(shell) or pid_alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    # The sshd hosts are this machine, so their processes are visible here.
    assert not pid_alive(shell)
    assert not pid_alive(child)


def test_quoted_arguments_never_execute(conn: SSHConnection, remote_dir: str) -> None:
    canary = f"/tmp/canary-{uuid.uuid4().hex}"
    payloads = [
        f"$(touch {canary})",
        f"`touch {canary}`",
        f"; touch {canary}",
        f"&& touch {canary}",
        f"| touch {canary}",
        f"' ; touch {canary}; '",
        '"',
        "\\",
    ]
    result = conn.run(["printf", "%s\\n", *payloads], check=True)
    assert result.stdout.splitlines() == payloads
    # The same through sudo, env and transfer paths.
    conn.sudo(["printf", "%s\\n", *payloads], check=True, env={"X": payloads[0]})
    name = f"{remote_dir}/$(touch {Path(canary).name}); `id`.txt"
    local = Path(f"/tmp/nm-local-{uuid.uuid4().hex}")
    local.write_text("data\n")
    try:
        conn.put(local, name)
        assert conn.run(["cat", name]).stdout == "data\n"
        conn.get(name, local)
    finally:
        local.unlink()
    assert conn.run(["test", "-e", canary]).rc == 1
    assert conn.run(["test", "-e", f"/root/{Path(canary).name}"]).rc == 1
    assert not Path(canary).exists()


def test_put_and_get_are_verified_by_sha256(
    conn: SSHConnection, remote_dir: str, tmp_path: Path
) -> None:
    data = os.urandom(2_000_000)
    source = tmp_path / "payload.bin"
    source.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    remote = f"{remote_dir}/payload.bin"

    put = conn.put(source, remote, mode=0o600)
    assert (put.sha256, put.size, put.destination) == (digest, len(data), remote)
    assert conn.run(["sha256sum", remote]).stdout.split()[0] == digest
    assert conn.run(["stat", "-c", "%a", remote]).stdout.strip() == "600"

    got = conn.get(remote, tmp_path / "back" / "payload.bin")
    assert (got.sha256, got.size) == (digest, len(data))
    assert (tmp_path / "back" / "payload.bin").read_bytes() == data
    leftovers = conn.run(f"ls -A {remote_dir} | grep -c netmatrix-").stdout.strip()
    assert leftovers == "0"


def test_put_corrupted_in_flight_never_gets_the_final_name(
    conn: SSHConnection, remote_dir: str, tmp_path: Path
) -> None:
    source = tmp_path / "file.txt"
    source.write_text("original\n")
    remote = f"{remote_dir}/file.txt"
    seen: list[str] = []

    def corrupt(direction: str, path: str) -> None:
        seen.append(direction)
        conn.run(["sh", "-c", 'printf tampered >> "$1"', "sh", path], check=True)

    conn.before_verify = corrupt
    with pytest.raises(TransferError, match=r"put .* sha256 mismatch"):
        conn.put(source, remote)
    assert seen == ["put"]
    assert conn.run(["test", "-e", remote]).rc == 1, "final name never written"
    assert conn.run(["ls", "-A", remote_dir]).stdout == "", "temporary file removed"


def test_get_corrupted_in_flight_never_gets_the_final_name(
    conn: SSHConnection, remote_dir: str, tmp_path: Path
) -> None:
    remote = f"{remote_dir}/file.txt"
    conn.run(["sh", "-c", 'echo original > "$1"', "sh", remote], check=True)
    local = tmp_path / "out" / "file.txt"

    def corrupt(direction: str, path: str) -> None:
        assert direction == "get"
        with open(path, "a") as stream:
            stream.write("tampered")

    conn.before_verify = corrupt
    with pytest.raises(TransferError, match=r"get .* sha256 mismatch"):
        conn.get(remote, local)
    assert not local.exists()
    assert list(local.parent.iterdir()) == []


def test_get_of_a_missing_file_is_a_transfer_error(conn: SSHConnection, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="sha256sum /nonexistent-nm failed"):
        conn.get("/nonexistent-nm", tmp_path / "x")


def test_put_into_a_missing_directory_is_a_transfer_error(
    conn: SSHConnection, tmp_path: Path
) -> None:
    source = tmp_path / "f"
    source.write_text("x")
    with pytest.raises(TransferError, match=r"put .* -> /nonexistent-nm/f"):
        conn.put(source, "/nonexistent-nm/f")


def test_closed_port_is_unreachable_after_retries(unreachable_host: Host) -> None:
    started = time.monotonic()
    with pytest.raises(UnreachableError) as caught:
        connect(unreachable_host, connect_timeout=2, retries=2)
    elapsed = time.monotonic() - started
    port = unreachable_host.port
    assert str(caught.value) == f"closed1 (127.0.0.4:{port}): connection refused (3 attempts)"
    assert 1.4 <= elapsed < 2 * 3, "backed off 0.5 s + 1 s, within the connect timeouts"


def test_wrong_key_is_an_authentication_failure_not_retried(
    sshd_hosts: tuple[Host, ...], tmp_path: Path
) -> None:
    keygen(tmp_path / "stranger", "stranger")
    host = Host(
        "sshd1",
        {**sshd_hosts[0].vars, "ansible_ssh_private_key_file": str(tmp_path / "stranger")},
    )
    started = time.monotonic()
    with pytest.raises(UnreachableError, match=r"127.0.0.2:\d+\): authentication failed for user"):
        connect(host, retries=3, backoff=1)
    assert time.monotonic() - started < 1, "no backoff: authentication is not retried"


# --------------------------------------------------------------------------- host keys


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME whose ~/.ssh/known_hosts knows no key: only what a test writes counts."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home


def fingerprint(public_key: Path) -> str:
    """`<type> <fingerprint>` of a public key file, as OpenSSH's ssh-keygen prints them."""
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(public_key)], capture_output=True, text=True, check=True
    ).stdout.split()  # "256 SHA256:… comment (ED25519)"
    kind = {"(ED25519)": "ssh-ed25519"}[listed[-1]]
    return f"{kind} {listed[1]}"


def test_recorded_host_key_is_accepted(
    empty_home: Path, sshd_lab: SshdLab, sshd_hosts: tuple[Host, ...]
) -> None:
    server = sshd_lab.servers[0]
    assert f"[{server.address}]:{server.port} {server.host_key_line}" in (
        sshd_lab.known_hosts.read_text().splitlines()
    )
    with connect(sshd_hosts[0]) as conn:  # type: ignore[attr-defined]
        assert conn.run(["true"]).ok


def test_unknown_host_key_is_refused_with_the_fix_and_the_fix_works(
    empty_home: Path, sshd_lab: SshdLab, sshd_hosts: tuple[Host, ...], tmp_path: Path
) -> None:
    server = sshd_lab.servers[1]
    nothing_known = tmp_path / "nothing.known_hosts"
    host = Host("sshd2", {**sshd_hosts[1].vars, "netmatrix_known_hosts": str(nothing_known)})
    with pytest.raises(UnreachableError) as caught:
        connect(host, retries=2)
    fix = f"ssh-keyscan -p {server.port} {server.address} >> ~/.ssh/known_hosts"
    assert str(caught.value) == (
        f"sshd2 ({server.address}:{server.port}): unknown host key "
        f"({fingerprint(server.host_public_key)}): if it is the host's, record it with "
        f"`{fix}`, or set host_key_checking: false in the inventory"
    )
    assert not nothing_known.exists(), "refusing records nothing"
    subprocess.run(["sh", "-c", fix], check=True, capture_output=True)  # as the user would
    with connect(host) as conn:  # type: ignore[attr-defined]
        assert conn.run(["true"]).ok


def test_changed_host_key_is_refused(
    empty_home: Path, sshd_lab: SshdLab, sshd_hosts: tuple[Host, ...], tmp_path: Path
) -> None:
    server = sshd_lab.servers[0]
    impostor = keygen(tmp_path / "impostor", "impostor")
    known = tmp_path / "known_hosts"
    known.write_text(f"[{server.address}]:{server.port} {impostor}\n")
    host = Host("sshd1", {**sshd_hosts[0].vars, "netmatrix_known_hosts": str(known)})
    started = time.monotonic()
    with pytest.raises(UnreachableError) as caught:
        connect(host, retries=3, backoff=1)
    assert str(caught.value) == (
        f"sshd1 ({server.address}:{server.port}): host key differs from the known one "
        f"({fingerprint(server.host_public_key)}); someone may be intercepting, or the host "
        "was reinstalled: if so, remove its old key from the known_hosts file"
    )
    assert time.monotonic() - started < 1, "no backoff: a host-key refusal is not retried"


def test_checking_off_connects_to_a_host_whose_key_nobody_knows(
    empty_home: Path, sshd_hosts: tuple[Host, ...], tmp_path: Path
) -> None:
    host = Host(
        "sshd1",
        {
            **sshd_hosts[0].vars,
            "netmatrix_known_hosts": str(tmp_path / "nothing.known_hosts"),
            "host_key_checking": False,
        },
    )
    with connect(host) as conn:  # type: ignore[attr-defined]
        assert conn.run(["true"]).ok
    assert not (empty_home / ".ssh" / "known_hosts").exists()


# --------------------------------------------------------------------------- sudo as non-root

SUDO_USER = "nmsudo"
SUDOERS = Path("/etc/sudoers.d/netmatrix-tests")


@pytest.fixture(scope="module")
def sudo_user() -> Iterator[tuple[str, str]]:
    """A throwaway login user who may sudo with a password; removed afterwards."""
    password = uuid.uuid4().hex
    assert Path("/usr/bin/sudo").exists(), "sudo is needed for this test (apt-get install sudo)"
    existed = subprocess.run(["id", SUDO_USER], capture_output=True).returncode == 0
    if not existed:
        subprocess.run(
            ["useradd", "--no-create-home", "--home-dir", "/tmp", "--shell", "/bin/sh", SUDO_USER],
            check=True,
        )
    subprocess.run(["chpasswd"], input=f"{SUDO_USER}:{password}\n", text=True, check=True)
    SUDOERS.write_text(f"{SUDO_USER} ALL=(ALL) ALL\n")
    SUDOERS.chmod(0o440)
    try:
        yield SUDO_USER, password
    finally:
        SUDOERS.unlink(missing_ok=True)
        if not existed:
            # userdel refuses while the user's sshd session is still winding down.
            deadline = time.monotonic() + 10
            while subprocess.run(["userdel", SUDO_USER], capture_output=True).returncode == 8:
                if time.monotonic() > deadline:
                    subprocess.run(["userdel", "--force", SUDO_USER], check=True)
                    break
                time.sleep(0.2)


def test_sudo_with_password_as_non_root(
    sudo_user: tuple[str, str], sshd_hosts: tuple[Host, ...]
) -> None:
    user, password = sudo_user
    host = Host(
        "sshd1",
        {**sshd_hosts[0].vars, "ansible_user": user, "ansible_become_password": password},
    )
    with connect(host) as conn:  # type: ignore[attr-defined]
        assert conn.run(["id", "-un"]).stdout == f"{user}\n"
        result = conn.sudo(["sh", "-c", 'id -u; cat; printf %s "$X"'], stdin="in\n", env={"X": "e"})
        assert (result.rc, result.stdout) == (0, "0\nin\ne")
        assert password not in result.command + result.stdout + result.stderr
        assert conn.sudo("id -u", timeout=10).stdout == "0\n"


def test_sudo_with_a_wrong_password_fails_cleanly(
    sudo_user: tuple[str, str], sshd_hosts: tuple[Host, ...]
) -> None:
    user, _ = sudo_user
    host = Host(
        "sshd1",
        {**sshd_hosts[0].vars, "ansible_user": user, "ansible_become_password": "wrong"},
    )
    with connect(host) as conn:  # type: ignore[attr-defined]
        result = conn.sudo(["id", "-u"], timeout=30)
    assert result.rc != 0
    assert "0\n" not in result.stdout
