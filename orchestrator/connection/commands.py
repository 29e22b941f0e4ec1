"""Command text, results and errors: what every connection shares before any byte moves.

A command is a sequence of arguments (each quoted with `shlex.quote`) or one string of shell
text; `wire_command` wraps it as the module docstring of `orchestrator.connection` says.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
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


class MissingKeyFile(UnreachableError):
    """`ansible_ssh_private_key_file` names a file that does not exist."""


KILL_AFTER = 5
"""Seconds `timeout` waits after SIGTERM before it sends SIGKILL."""

TRANSPORT_GRACE = 10
"""Seconds beyond a command's timeout (and KILL_AFTER) before the client gives up on it too."""

TransferHook = Callable[[str, str], None]
"""`hook(direction, path)`: a test seam called between a transfer and its verification."""


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


def timed_out(rc: int, elapsed: float, timeout: float | None) -> bool:
    # timeout(1) exits 124 after SIGTERM worked, 137 after it had to SIGKILL; a command
    # that exits 124 by itself before its deadline is not a timeout.
    return timeout is not None and rc in (124, 137) and elapsed >= timeout * 0.98


def checked(host: Host, result: CommandResult, check: bool) -> CommandResult:
    if check and not result.ok:
        raise CommandFailed(host.name, result)
    return result


def last_line(result: CommandResult) -> str:
    """The most telling line of a failed command's output (its error, else its output)."""
    lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
    return lines[-1] if lines else f"exit status {result.rc}"


def first_line(text: str) -> str:
    """A command's first line, shortened: enough to recognise it in a one-line error."""
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= 80 else first[:77] + "..."


def timeout_error(host: Host, text: str, timeout: float | None) -> CommandTimeout:
    return CommandTimeout(
        f"{host.name}: `{first_line(text)}` ran longer than {timeout:g}s and was stopped"
    )
