"""The one seam for remote execution: run, sudo, put, get on a host, over SSH or locally.

Everything that touches a host goes through a `Connection`. Unit tests replace it with
`tests.fakes.FakeConnection`; integration tests use a real sshd.

Commands are given either as a sequence of arguments (each quoted with `shlex.quote`, so
values from data are never interpreted by a shell) or as one string of shell text (the
`shell` module's case, written by the playbook author).

How a command reaches the host (`wire_command`): the text runs under `/bin/sh -c` (Ansible's
`shell` default, the same whatever the login shell), inside `timeout -k` when it has a
timeout (GNU timeout signals the whole process group, so children die with it), inside
`sudo` for `sudo` (so the timeout runs as root and can kill root's processes). A
`CommandResult` keeps only the caller's text: never the wrappers, never a password.

`connect(host)` picks `SSHConnection` (Fabric/paramiko) or `LocalConnection` (subprocess)
from `ansible_connection`. Host keys are checked as `orchestrator.hostkeys` says.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import hashlib
import io
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import fabric
import invoke
import paramiko

from orchestrator import hostkeys
from orchestrator.errors import NetmatrixError, disk_full
from orchestrator.host import Host

Command = str | Sequence[str]


@dataclass(frozen=True)
class CommandResult:
    """What a command did on a host."""

    command: str
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass(frozen=True)
class TransferResult:
    """A verified file transfer: both ends computed the same sha256."""

    source: str
    destination: str
    sha256: str
    size: int


class UnreachableError(NetmatrixError):
    """The host cannot be reached (connect refused, timed out, authentication failed)."""


class CommandTimeout(NetmatrixError):
    """A command ran longer than its timeout and was stopped."""


class CommandFailed(NetmatrixError):
    """A command exited non-zero where success was required (`check=True`)."""

    def __init__(self, host: str, result: CommandResult) -> None:
        detail = (result.stderr or result.stdout).strip().splitlines()
        last = detail[-1] if detail else "no output"
        super().__init__(f"{host}: `{result.command}` exited {result.rc}: {last}")
        self.result = result


class TransferError(NetmatrixError):
    """A transfer failed or its checksums disagree."""


class ChecksumMismatch(TransferError):
    """The bytes that arrived are not the bytes that left: never retried, never trusted."""


class Connection(Protocol):
    """What every connection (SSH, local, fake) offers."""

    host: Host

    def run(
        self,
        command: Command,
        *,
        timeout: float | None = None,
        check: bool = False,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> CommandResult: ...

    def sudo(
        self,
        command: Command,
        *,
        timeout: float | None = None,
        check: bool = False,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> CommandResult: ...

    def put(self, local: Path | str, remote: str, *, mode: int | None = None) -> TransferResult: ...

    def get(self, remote: str, local: Path | str) -> TransferResult: ...

    def close(self) -> None: ...


log = logging.getLogger(__name__)
# paramiko's transport thread logs every failed handshake with its traceback; unconfigured,
# Python prints those on stderr ("Exception (client): Error reading SSH protocol banner"),
# page after page while a host reboots. The failure reaches the caller as UnreachableError.
logging.getLogger("paramiko.transport").addHandler(logging.NullHandler())
logging.getLogger("paramiko.transport").propagate = False

KILL_AFTER = 5
"""Seconds `timeout` waits after SIGTERM before it sends SIGKILL."""

TRANSPORT_GRACE = 10
"""Seconds beyond a command's timeout (and KILL_AFTER) before the client gives up on it too."""

NO_EXIT_STATUS = -1
"""What paramiko reports for a channel that closed without sending its command's status."""

DEAD_PEER_KEEPALIVE = 15
"""Seconds between SSH keepalives (and before the first TCP keepalive probe of an idle link)."""

DEAD_PEER_SECONDS = 45
"""Seconds sent data may stay unacknowledged before the connection counts as lost."""

TRANSFER_ATTEMPTS = 3
"""Tries of one put/get: a connection that drops mid-transfer is reopened and it starts over."""

_T = TypeVar("_T")

TransferHook = Callable[[str, str], None]
"""`hook(direction, path)`: a test seam called between a transfer and its verification."""


# --------------------------------------------------------------------------- command text


def command_text(command: Command) -> str:
    """The shell text a command becomes: a sequence is quoted argument by argument."""
    if isinstance(command, str):
        return command
    args = [str(arg) for arg in command]
    if not args:
        raise ValueError("empty command")
    return shlex.join(args)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _seconds(value: float) -> str:
    """`timeout`'s duration argument: plain decimal, no exponent."""
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def wire_command(
    text: str,
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    sudo: Sequence[str] | None = None,
) -> str:
    """The full shell text sent to the host for `text` (see the module docstring).

    Environment values are exported inside the command (quoted), because sshd drops
    variables it was not told to accept and sudo resets the environment.
    """
    inner = text
    if env:
        for name in env:
            if not _ENV_NAME.fullmatch(name):
                raise ValueError(f"invalid environment variable name {name!r}")
        exports = " ".join(f"{name}={shlex.quote(str(value))}" for name, value in env.items())
        inner = f"export {exports}; {text}"
    argv = ["/bin/sh", "-c", inner]
    if timeout is not None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        argv = ["timeout", "-k", str(KILL_AFTER), _seconds(timeout), *argv]
    if sudo:
        argv = [*sudo, "--", *argv]
    return shlex.join(argv)


def _timed_out(rc: int, elapsed: float, timeout: float | None) -> bool:
    # timeout(1) exits 124 after SIGTERM worked, 137 after it had to SIGKILL; a command
    # that exits 124 by itself before its deadline is not a timeout.
    return timeout is not None and rc in (124, 137) and elapsed >= timeout * 0.98


def _checked(host: Host, result: CommandResult, check: bool) -> CommandResult:
    if check and not result.ok:
        raise CommandFailed(host.name, result)
    return result


def _first(text: str) -> str:
    """A command's first line, shortened: enough to recognise it in a one-line error."""
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= 80 else first[:77] + "..."


def _timeout_error(host: Host, text: str, timeout: float | None) -> CommandTimeout:
    return CommandTimeout(
        f"{host.name}: `{_first(text)}` ran longer than {timeout:g}s and was stopped"
    )


def _notice_dead_peers(transport: paramiko.Transport | None) -> None:
    """Make a host that vanishes without closing the connection (powered off, rebooted into
    silence, unplugged) an error within about a minute rather than TCP's fifteen.

    SSH keepalives every 15 s keep data in flight; TCP_USER_TIMEOUT ends the connection when
    data stays unacknowledged for 45 s, and TCP keepalives probe an idle one. Idempotent.
    """
    if transport is None or getattr(transport, "_netmatrix_watched", False):
        return
    transport.set_keepalive(DEAD_PEER_KEEPALIVE)
    sock = transport.sock
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError, AttributeError):  # not Linux, or not TCP
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, DEAD_PEER_KEEPALIVE)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 5)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 6)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, DEAD_PEER_SECONDS * 1000)
    transport._netmatrix_watched = True  # type: ignore[attr-defined]


def _download_error(error: OSError, what: str) -> NetmatrixError:
    """A failed download: a full controller disk is `DiskFull` (SFTP reports the host's own
    errors without an errno, so ENOSPC here is always the local side), else `TransferError`."""
    return disk_full(error, what) or TransferError(f"{what}: {error}")


def sha256_file(path: Path | str) -> tuple[str, int]:
    """(hex digest, size in bytes) of a local file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _temp_name(final: str) -> str:
    """A sibling of `final` (same directory, so the rename is atomic) no one else uses."""
    head, _, base = final.rpartition("/")
    name = f".{base}.netmatrix-{uuid.uuid4().hex[:12]}.tmp"
    return f"{head}/{name}" if head or final.startswith("/") else name


class _SudoMixin:
    """`run` and `sudo` for both connections, on top of their `_execute`.

    Decides how `sudo` wraps a command for the login user; asks the host at most once.
    """

    host: Host
    _sudo_prefix: list[str] | bool | None = False  # False: not decided yet

    def _is_root(self) -> bool:
        raise NotImplementedError

    def _execute(
        self, text: str, wire: str, timeout: float | None, stdin: str | None
    ) -> CommandResult:
        raise NotImplementedError

    def _raw_rc(self, text: str) -> int:
        return self._execute(text, wire_command(text, timeout=30), 30, None).rc

    def run(
        self,
        command: Command,
        *,
        timeout: float | None = None,
        check: bool = False,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        text = command_text(command)
        wire = wire_command(text, timeout=timeout, env=env)
        return _checked(self.host, self._execute(text, wire, timeout, stdin), check)

    def sudo(
        self,
        command: Command,
        *,
        timeout: float | None = None,
        check: bool = False,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        text = command_text(command)
        prefix, password = self._sudo()
        wire = wire_command(text, timeout=timeout, env=env, sudo=prefix)
        if password is not None:
            stdin = password + "\n" + (stdin or "")
        return _checked(self.host, self._execute(text, wire, timeout, stdin), check)

    def _sudo(self) -> tuple[list[str] | None, str | None]:
        """(sudo argv prefix or None when already root, password to feed on stdin)."""
        if self._sudo_prefix is False:
            if self._is_root():
                self._sudo_prefix = None
            elif self.host.become_password is None or self._raw_rc("sudo -n true") == 0:
                # Passwordless sudo: never send a password a NOPASSWD rule would not read
                # (it would end up on the command's stdin).
                self._sudo_prefix = ["sudo", "-n"]
            else:
                # -k: ignore cached credentials so sudo always reads the password line.
                self._sudo_prefix = ["sudo", "-k", "-S", "-p", ""]
        prefix = self._sudo_prefix
        password = self.host.become_password if prefix and "-S" in prefix else None
        return prefix, password


# --------------------------------------------------------------------------- connect


class MissingKeyFile(UnreachableError):
    """`ansible_ssh_private_key_file` names a file that does not exist."""


def connect(
    host: Host,
    *,
    connect_timeout: float = 10,
    retries: int = 3,
    backoff: float = 0.5,
) -> Connection:
    """An open connection to `host`: local for `ansible_connection: local`, else SSH.

    SSH connection attempts that fail for network reasons are retried `retries` times,
    waiting `backoff`, 2×`backoff`, 4×`backoff`… seconds in between. Authentication and
    host-key failures are not retried: trying again cannot fix them.

    Raises:
        UnreachableError: the host could not be reached; one line naming host:port and why.
    """
    if host.connection == "local":
        return LocalConnection(host)
    if host.connection not in ("ssh", "paramiko", "smart"):
        raise UnreachableError(
            f"{host.name}: unsupported ansible_connection {host.connection!r} "
            "(netmatrix speaks ssh and local)"
        )
    return _connect_ssh(host, connect_timeout=connect_timeout, retries=retries, backoff=backoff)


def _fabric_connection(host: Host, connect_timeout: float) -> fabric.Connection:
    """A not-yet-open Fabric connection configured only from the inventory.

    SSH config files are ignored on purpose: the inventory is the one source of truth.
    """
    connect_kwargs: dict[str, Any] = {
        "timeout": connect_timeout,
        "banner_timeout": connect_timeout,
        "auth_timeout": connect_timeout,
    }
    if host.key_file:
        # An explicit key means exactly that key: no agent, no ~/.ssh/id_* guessing.
        connect_kwargs.update(
            key_filename=str(Path(host.key_file).expanduser()),
            look_for_keys=False,
            allow_agent=False,
        )
    password = host.vars.get("ansible_password") or host.vars.get("ansible_ssh_pass")
    if password:
        connect_kwargs["password"] = str(password)
    config = fabric.Config(
        lazy=True,
        ssh_config=paramiko.SSHConfig(),
        overrides={"run": {"encoding": "utf-8"}, "load_ssh_configs": False},
    )
    conn = fabric.Connection(
        host=host.address,
        user=host.user,
        port=host.port,
        config=config,
        connect_kwargs=connect_kwargs,
    )
    hostkeys.host_key_policy(conn.client, host)
    return conn


def _where(host: Host) -> str:
    if host.name == host.address:
        return f"{host.address}:{host.port}"
    return f"{host.name} ({host.address}:{host.port})"


def _reason(error: BaseException, connect_timeout: float) -> str:
    if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
        codes = {getattr(e, "errno", None) for e in error.errors.values()}
        if codes and codes <= {111, 61}:  # ECONNREFUSED on Linux, macOS
            return "connection refused"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError | socket.timeout):
        return f"timed out after {connect_timeout:g}s"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve address ({error.strerror})"
    text = " ".join(str(error).split()) or type(error).__name__
    return text


def _connect_ssh(
    host: Host,
    *,
    connect_timeout: float,
    retries: int,
    backoff: float,
    open_connection: Callable[[Host, float], fabric.Connection] = _fabric_connection,
    sleep: Callable[[float], None] = time.sleep,
) -> SSHConnection:
    where = _where(host)
    if host.key_file and not Path(host.key_file).expanduser().is_file():
        # The path is left out: this message reaches play output and the results database.
        raise MissingKeyFile(
            f"{where}: the file named by ansible_ssh_private_key_file does not exist"
        )
    # A reconnect (after a dropped connection) tries as this connect was told to.
    reopen = functools.partial(
        _connect_ssh,
        host,
        connect_timeout=connect_timeout,
        retries=retries,
        backoff=backoff,
        open_connection=open_connection,
        sleep=sleep,
    )
    attempts = max(0, retries) + 1
    last: BaseException | None = None
    for attempt in range(attempts):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        conn = open_connection(host, connect_timeout)
        try:
            conn.open()
        except paramiko.AuthenticationException as error:
            conn.close()
            user = conn.user or "?"
            raise UnreachableError(
                f"{where}: authentication failed for user {user}: {_reason(error, 0)}"
            ) from None
        except (paramiko.BadHostKeyException, hostkeys.UnknownHostKey) as error:
            conn.close()
            raise UnreachableError(f"{where}: {hostkeys.refusal(error)}") from None
        except (OSError, EOFError, paramiko.SSHException) as error:
            conn.close()
            last = error
            log.debug("%s: connect attempt %d/%d failed: %s", where, attempt + 1, attempts, error)
            continue
        return SSHConnection(host, conn, reopen=reopen)
    assert last is not None
    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    raise UnreachableError(f"{where}: {_reason(last, connect_timeout)} ({tries})")


# --------------------------------------------------------------------------- SSH


class SSHConnection(_SudoMixin):
    """A `Connection` over an open Fabric connection."""

    def __init__(
        self,
        host: Host,
        conn: fabric.Connection,
        reopen: Callable[[], SSHConnection],
    ) -> None:
        """`reopen` opens a new connection after this one dropped, with the settings the
        first connect was given (`_connect_ssh` passes them)."""
        self.host = host
        self._reopen_connection = reopen
        self._sftp_client: paramiko.SFTPClient | None = None
        self._sudo_prefix = False
        #: Test seam: called as `hook("put", remote_temp)` after an upload or
        #: `hook("get", local_temp)` after a download, before the checksums are compared.
        self.before_verify: TransferHook | None = None
        self._adopt(conn)

    def _adopt(self, conn: fabric.Connection) -> None:
        self._conn = conn
        _notice_dead_peers(conn.transport)

    @property
    def user(self) -> str:
        return self._conn.user or getpass.getuser()

    def _is_root(self) -> bool:
        return self.user == "root"

    def _execute(
        self, text: str, wire: str, timeout: float | None, stdin: str | None
    ) -> CommandResult:
        log.debug("%s: run %s", self.host.name, text)
        client_timeout = None if timeout is None else timeout + KILL_AFTER + TRANSPORT_GRACE
        started = time.monotonic()
        try:
            # Fabric reopens a connection that dropped since the last command; the new
            # transport needs the same watch on its peer.
            self._conn.open()
            _notice_dead_peers(self._conn.transport)
            # An empty stream rather than none: the remote side must see end-of-file, or a
            # command that reads stdin would wait forever.
            result = self._conn.run(
                wire,
                warn=True,
                hide=True,
                pty=False,
                in_stream=io.StringIO(stdin or ""),
                timeout=client_timeout,
            )
        except invoke.CommandTimedOut:
            raise _timeout_error(self.host, text, timeout) from None
        except invoke.ThreadException as error:  # an I/O thread died: the channel broke
            inner = error.exceptions[0].value if error.exceptions else error
            raise UnreachableError(
                f"{_where(self.host)}: connection lost: {_reason(inner, 0)}"
            ) from None
        except (OSError, EOFError, paramiko.SSHException) as error:
            raise UnreachableError(
                f"{_where(self.host)}: connection lost: {_reason(error, 0)}"
            ) from None
        elapsed = time.monotonic() - started
        if _timed_out(result.return_code, elapsed, timeout):
            raise _timeout_error(self.host, text, timeout)
        if result.return_code == NO_EXIT_STATUS and not self._answers():
            # The channel closed without an exit status because the whole connection went:
            # the host rebooted or died under the command.
            raise UnreachableError(f"{_where(self.host)}: connection lost during `{_first(text)}`")
        return CommandResult(
            command=text, rc=result.return_code, stdout=result.stdout, stderr=result.stderr
        )

    def _sftp(self) -> paramiko.SFTPClient:
        """An SFTP session on the current transport. Not Fabric's cached one: Fabric reopens a
        dropped connection by itself for the next command, and its cache would keep handing
        out the session of the dead transport."""
        self._conn.open()  # a no-op while connected
        transport = self._conn.transport
        if (
            self._sftp_client is None
            or self._sftp_client.get_channel().get_transport() is not transport
        ):
            self._close_sftp()
            self._sftp_client = self._conn.client.open_sftp()
        return self._sftp_client

    def _remote_sha256(self, path: str) -> str:
        result = self.run(["sha256sum", "--", path])
        words = result.stdout.split()
        if not result.ok or not words or not re.fullmatch(r"[0-9a-f]{64}", words[0]):
            detail = (result.stderr or result.stdout).strip() or f"exit {result.rc}"
            raise TransferError(f"{self.host.name}: sha256sum {path} failed: {detail}")
        return words[0]

    def put(self, local: Path | str, remote: str, *, mode: int | None = None) -> TransferResult:
        """Upload to a temporary sibling, verify its sha256 on the host, then rename."""
        local = Path(local)
        if not local.is_file():
            raise TransferError(f"{self.host.name}: put {local}: no such local file")
        digest, size = sha256_file(local)

        def once(temp: str) -> None:
            self._put_once(local, remote, temp, digest, mode)

        def forget(temp: str) -> None:  # the dropped attempt could not remove its own file
            self.run(["rm", "-f", "--", temp], timeout=30)

        self._transfer(f"put {local} -> {remote}", remote, once, forget)
        return TransferResult(str(local), remote, digest, size)

    def _put_once(self, local: Path, remote: str, temp: str, digest: str, mode: int | None) -> None:
        sftp = self._sftp()
        try:
            sftp.put(str(local), temp, confirm=True)
            if mode is not None:
                sftp.chmod(temp, mode)
            if self.before_verify is not None:
                self.before_verify("put", temp)
            remote_digest = self._remote_sha256(temp)
            if remote_digest != digest:
                raise ChecksumMismatch(
                    f"{self.host.name}: put {local} -> {remote}: sha256 mismatch "
                    f"(local {digest[:12]}…, remote {remote_digest[:12]}…)"
                )
            try:
                sftp.posix_rename(temp, remote)
            except OSError:  # server without the posix-rename extension
                self.run(["mv", "-f", "--", temp, remote], check=True)
        except BaseException as error:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                sftp.remove(temp)
            if isinstance(error, OSError):
                raise TransferError(f"{self.host.name}: put {local} -> {remote}: {error}") from None
            raise

    def get(self, remote: str, local: Path | str) -> TransferResult:
        """Hash on the host, download to a temporary sibling, verify, then rename."""
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        return self._transfer(
            f"get {remote} -> {local}",
            str(local),
            lambda temp: self._get_once(remote, local, Path(temp)),
        )

    def _get_once(self, remote: str, local: Path, temp: Path) -> TransferResult:
        remote_digest = self._remote_sha256(remote)
        try:
            self._sftp().get(remote, str(temp))
            if self.before_verify is not None:
                self.before_verify("get", str(temp))
            digest, size = sha256_file(temp)
            if digest != remote_digest:
                raise ChecksumMismatch(
                    f"{self.host.name}: get {remote} -> {local}: sha256 mismatch "
                    f"(remote {remote_digest[:12]}…, local {digest[:12]}…)"
                )
            os.replace(temp, local)
        except BaseException as error:
            temp.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise _download_error(error, f"{self.host.name}: get {remote} -> {local}") from None
            raise
        return TransferResult(remote, str(local), digest, size)

    def _transfer(
        self,
        what: str,
        final: str,
        once: Callable[[str], _T],
        forget: Callable[[str], None] | None = None,
    ) -> _T:
        """Run `once(temp)` — one whole transfer to a temporary sibling of `final` — and, when
        the connection dropped under it, reconnect and do it again from the start; what the
        attempt that went through returned.

        Only a dead connection is retried: a checksum mismatch means damaged bytes, and an
        error over a connection that still answers (a full disk) would fail the same way again.
        """
        for attempt in range(1, TRANSFER_ATTEMPTS + 1):
            temp = _temp_name(final)
            try:
                return once(temp)
            except ChecksumMismatch:
                raise
            except (TransferError, UnreachableError, EOFError, paramiko.SSHException) as error:
                if self._answers():
                    if isinstance(error, NetmatrixError):
                        raise
                    raise TransferError(f"{self.host.name}: {what}: {error}") from None
                if attempt == TRANSFER_ATTEMPTS:
                    raise UnreachableError(
                        f"{_where(self.host)}: connection lost during {what} "
                        f"({TRANSFER_ATTEMPTS} attempts)"
                    ) from None
                log.warning(
                    "%s: connection lost during %s (attempt %d of %d); reconnecting",
                    self.host.name,
                    what,
                    attempt,
                    TRANSFER_ATTEMPTS,
                )
            self._reopen()
            if forget is not None:
                forget(temp)

    def _answers(self) -> bool:
        """Whether the connection is still up. Asked by opening a channel, not read from the
        transport's flag alone: one whose peer just vanished still calls itself active for a
        moment. (Not through `run`: Fabric would quietly reconnect a closed connection.)"""
        transport = self._conn.transport
        if transport is None or not transport.is_active():
            return False
        try:
            transport.open_session(timeout=10).close()
        except (OSError, EOFError, paramiko.SSHException):
            return False
        return True

    def _reopen(self) -> None:
        """A new SSH connection in place of a dropped one (same host, same checks)."""
        self._close_sftp()
        self._conn.close()
        self._adopt(self._reopen_connection()._conn)

    def _close_sftp(self) -> None:
        if self._sftp_client is not None:
            with contextlib.suppress(Exception):
                self._sftp_client.close()
            self._sftp_client = None

    def close(self) -> None:
        self._close_sftp()
        self._conn.close()

    def __enter__(self) -> SSHConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- local


class LocalConnection(_SudoMixin):
    """A `Connection` to the controller itself (`ansible_connection: local`).

    Same command text and semantics as SSH; the command runs in its own session, so on a
    timeout its whole process group is killed even if `timeout(1)` could not do it.
    """

    def __init__(self, host: Host) -> None:
        self.host = host
        self._sudo_prefix = False
        #: Test seam, as on `SSHConnection`.
        self.before_verify: TransferHook | None = None

    def _is_root(self) -> bool:
        return os.geteuid() == 0

    def _execute(
        self, text: str, wire: str, timeout: float | None, stdin: str | None
    ) -> CommandResult:
        log.debug("%s: run %s", self.host.name, text)
        client_timeout = None if timeout is None else timeout + KILL_AFTER + TRANSPORT_GRACE
        started = time.monotonic()
        proc = subprocess.Popen(
            ["/bin/sh", "-c", wire],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate((stdin or "").encode(), timeout=client_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise _timeout_error(self.host, text, timeout) from None
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        elapsed = time.monotonic() - started
        if _timed_out(proc.returncode, elapsed, timeout):
            raise _timeout_error(self.host, text, timeout)
        return CommandResult(
            command=text,
            rc=proc.returncode,
            stdout=out.decode("utf-8", "replace"),
            stderr=err.decode("utf-8", "replace"),
        )

    def _copy_verified(self, source: Path, final: Path, direction: str, mode: int | None) -> str:
        digest, _ = sha256_file(source)
        temp = Path(_temp_name(str(final)))
        try:
            with open(source, "rb") as reader, open(temp, "wb") as writer:
                while chunk := reader.read(1 << 20):
                    writer.write(chunk)
            if mode is not None:
                os.chmod(temp, mode)
            if self.before_verify is not None:
                self.before_verify(direction, str(temp))
            copied, _ = sha256_file(temp)
            if copied != digest:
                raise ChecksumMismatch(
                    f"{self.host.name}: {direction} {source} -> {final}: sha256 mismatch "
                    f"(source {digest[:12]}…, copy {copied[:12]}…)"
                )
            os.replace(temp, final)
        except BaseException as error:
            temp.unlink(missing_ok=True)
            if isinstance(error, OSError):
                what = f"{self.host.name}: {direction} {source} -> {final}"
                if direction == "get":
                    raise _download_error(error, what) from None
                raise TransferError(f"{what}: {error}") from None
            raise
        return digest

    def put(self, local: Path | str, remote: str, *, mode: int | None = None) -> TransferResult:
        source = Path(local)
        if not source.is_file():
            raise TransferError(f"{self.host.name}: put {source}: no such local file")
        digest = self._copy_verified(source, Path(remote), "put", mode)
        return TransferResult(str(source), remote, digest, Path(remote).stat().st_size)

    def get(self, remote: str, local: Path | str) -> TransferResult:
        source = Path(remote)
        if not source.is_file():
            raise TransferError(f"{self.host.name}: get {remote}: no such file")
        target = Path(local)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = self._copy_verified(source, target, "get", None)
        return TransferResult(remote, str(target), digest, target.stat().st_size)

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
