"""A fake Connection for unit tests: commands map to canned (rc, stdout[, stderr]) answers.

Rules are matched in order against the command text (after quoting a sequence), by regular
expression `search`. Every call is recorded so tests can assert what would have run.
Files put on the fake host land in `files`; `get` reads from it.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.connection import (
    Command,
    CommandFailed,
    CommandResult,
    TransferResult,
    UnreachableError,
)
from orchestrator.host import Host

Answer = tuple[int, str] | tuple[int, str, str] | Callable[[str], tuple[int, str, str]]


def command_text(command: Command) -> str:
    """The shell text a command becomes: sequences are quoted argument by argument."""
    return command if isinstance(command, str) else shlex.join(command)


@dataclass
class FakeConnection:
    """A Connection whose host is a table of answers. Unknown commands exit 127."""

    host: Host = field(default_factory=lambda: Host("fake"))
    rules: list[tuple[str, Answer]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    calls: list[tuple[str, bool]] = field(default_factory=list)
    unreachable: bool = False

    def on(self, pattern: str, answer: Answer) -> FakeConnection:
        """Answer commands matching `pattern` (regex search) with `answer`; chainable."""
        self.rules.append((pattern, answer))
        return self

    @property
    def commands(self) -> list[str]:
        return [text for text, _ in self.calls]

    def _answer(self, text: str) -> CommandResult:
        if self.unreachable:
            raise UnreachableError(f"{self.host.name}: unreachable (fake)")
        for pattern, answer in self.rules:
            if re.search(pattern, text):
                if callable(answer):
                    rc, out, err = answer(text)
                else:
                    rc, out, err = (*answer, "")[:3]
                return CommandResult(command=text, rc=rc, stdout=out, stderr=err)
        return CommandResult(command=text, rc=127, stdout="", stderr=f"fake: no rule for {text}")

    def run(self, command: Command, *, timeout=None, check=False, stdin=None, env=None):
        text = command_text(command)
        self.calls.append((text, False))
        return self._checked(self._answer(text), check)

    def sudo(self, command: Command, *, timeout=None, check=False, stdin=None, env=None):
        text = command_text(command)
        self.calls.append((text, True))
        return self._checked(self._answer(text), check)

    def _checked(self, result: CommandResult, check: bool) -> CommandResult:
        if check and not result.ok:
            raise CommandFailed(self.host.name, result)
        return result

    def put(self, local: Path | str, remote: str, *, mode: int | None = None) -> TransferResult:
        data = Path(local).read_bytes()
        self.files[remote] = data
        return TransferResult(str(local), remote, hashlib.sha256(data).hexdigest(), len(data))

    def get(self, remote: str, local: Path | str) -> TransferResult:
        data = self.files[remote]
        Path(local).write_bytes(data)
        return TransferResult(remote, str(local), hashlib.sha256(data).hexdigest(), len(data))

    def close(self) -> None:
        pass


def fake(rules: Sequence[tuple[str, Answer]] = (), **host_vars: object) -> FakeConnection:
    """A FakeConnection on a host named `fake` with the given variables and rules."""
    return FakeConnection(host=Host("fake", dict(host_vars)), rules=list(rules))
