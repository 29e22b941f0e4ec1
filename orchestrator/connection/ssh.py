"""SSH connections (Fabric over paramiko): connect with retries, keep a watch on the peer,
run commands, and transfer files that survive a dropped connection."""

from __future__ import annotations

import contextlib
import functools
import getpass
import io
import logging
import os
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import fabric
import invoke
import paramiko

from orchestrator import hostkeys
from orchestrator.connection.commands import (
    KILL_AFTER,
    TRANSPORT_GRACE,
    ChecksumMismatch,
    CommandResult,
    MissingKeyFile,
    TransferError,
    TransferHook,
    TransferResult,
    UnreachableError,
    first_line,
    timed_out,
    timeout_error,
)
from orchestrator.connection.sudo import SudoMixin
from orchestrator.connection.transfer import (
    TRANSFER_ATTEMPTS,
    VerifiedCopy,
    download_error,
    sha256_file,
    temp_name,
    upload_error,
    verify_then_rename,
)
from orchestrator.errors import NetmatrixError
from orchestrator.host import Host

log = logging.getLogger(__name__)
# paramiko's transport thread logs every failed handshake with its traceback; unconfigured,
# Python prints those on stderr ("Exception (client): Error reading SSH protocol banner"),
# page after page while a host reboots. The failure reaches the caller as UnreachableError.
logging.getLogger("paramiko.transport").addHandler(logging.NullHandler())
logging.getLogger("paramiko.transport").propagate = False

NO_EXIT_STATUS = -1
"""What paramiko reports for a channel that closed without sending its command's status."""

DEAD_PEER_KEEPALIVE = 15
"""Seconds between SSH keepalives (and before the first TCP keepalive probe of an idle link)."""

DEAD_PEER_SECONDS = 45
"""Seconds sent data may stay unacknowledged before the connection counts as lost."""

_T = TypeVar("_T")


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


def connect_ssh(
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
        connect_ssh,
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


class SSHConnection(SudoMixin):
    """A `Connection` over an open Fabric connection."""

    def __init__(
        self,
        host: Host,
        conn: fabric.Connection,
        reopen: Callable[[], SSHConnection],
    ) -> None:
        """`reopen` opens a new connection after this one dropped, with the settings the
        first connect was given (`connect_ssh` passes them)."""
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
            raise timeout_error(self.host, text, timeout) from None
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
        if timed_out(result.return_code, elapsed, timeout):
            raise timeout_error(self.host, text, timeout)
        if result.return_code == NO_EXIT_STATUS and not self._answers():
            # The channel closed without an exit status because the whole connection went:
            # the host rebooted or died under the command.
            raise UnreachableError(
                f"{_where(self.host)}: connection lost during `{first_line(text)}`"
            )
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

        def copy() -> None:
            sftp.put(str(local), temp, confirm=True)
            if mode is not None:
                sftp.chmod(temp, mode)

        def rename() -> None:
            try:
                sftp.posix_rename(temp, remote)
            except OSError:  # server without the posix-rename extension
                self.run(["mv", "-f", "--", temp, remote], check=True)

        def discard() -> None:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                sftp.remove(temp)

        what = f"{self.host.name}: put {local} -> {remote}"
        job = VerifiedCopy(
            what, "put", temp, copy, lambda: self._remote_sha256(temp), rename, discard
        )
        verify_then_rename(
            job, digest, sides=("local", "remote"), os_error=upload_error, hook=self.before_verify
        )

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
        job = VerifiedCopy(
            f"{self.host.name}: get {remote} -> {local}",
            "get",
            str(temp),
            copy=lambda: self._sftp().get(remote, str(temp)),
            digest=lambda: sha256_file(temp)[0],
            rename=lambda: os.replace(temp, local),
            discard=lambda: temp.unlink(missing_ok=True),
        )
        verify_then_rename(
            job,
            remote_digest,
            sides=("remote", "local"),
            os_error=download_error,
            hook=self.before_verify,
        )
        return TransferResult(remote, str(local), remote_digest, local.stat().st_size)

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
            temp = temp_name(final)
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
