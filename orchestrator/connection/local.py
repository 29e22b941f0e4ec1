"""The controller itself as a host (`ansible_connection: local`), through subprocess."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from orchestrator.connection.commands import (
    KILL_AFTER,
    TRANSPORT_GRACE,
    CommandResult,
    TransferError,
    TransferHook,
    TransferResult,
    timed_out,
    timeout_error,
)
from orchestrator.connection.sudo import SudoMixin
from orchestrator.connection.transfer import (
    VerifiedCopy,
    download_error,
    sha256_file,
    temp_name,
    upload_error,
    verify_then_rename,
)
from orchestrator.host import Host

log = logging.getLogger(__name__)


class LocalConnection(SudoMixin):
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
            raise timeout_error(self.host, text, timeout) from None
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        elapsed = time.monotonic() - started
        if timed_out(proc.returncode, elapsed, timeout):
            raise timeout_error(self.host, text, timeout)
        return CommandResult(
            command=text,
            rc=proc.returncode,
            stdout=out.decode("utf-8", "replace"),
            stderr=err.decode("utf-8", "replace"),
        )

    def _copy_verified(self, source: Path, final: Path, direction: str, mode: int | None) -> str:
        digest, _ = sha256_file(source)
        temp = Path(temp_name(str(final)))

        def copy() -> None:
            shutil.copyfile(source, temp)
            if mode is not None:
                os.chmod(temp, mode)

        job = VerifiedCopy(
            f"{self.host.name}: {direction} {source} -> {final}",
            direction,
            str(temp),
            copy,
            digest=lambda: sha256_file(temp)[0],
            rename=lambda: os.replace(temp, final),
            discard=lambda: temp.unlink(missing_ok=True),
        )
        verify_then_rename(
            job,
            digest,
            sides=("source", "copy"),
            os_error=download_error if direction == "get" else upload_error,
            hook=self.before_verify,
        )
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
