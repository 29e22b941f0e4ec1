"""The one seam for remote execution: run, sudo, put, get on a host, over SSH or locally.

Everything that touches a host goes through a `Connection`. Unit tests replace it with
`tests.fakes.FakeConnection`; integration tests use a real sshd.

Commands are given either as a sequence of arguments (each quoted with `shlex.quote`, so
values from data are never interpreted by a shell) or as one string of shell text (the
`shell` module's case, written by the playbook author).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orchestrator.errors import NetmatrixError
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
