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


# --- helpers for the playbook engine and task modules ----------------------------------------


@dataclass
class FakeFilesystem:
    """A small stateful filesystem behind a FakeConnection, for file-like task modules.

    File contents live in the connection's `files` (so `put` lands there too); directories,
    modes and owners live here. It answers the commands the modules send, given as quoted
    argument sequences: stat, sha256sum, cat, cp, rm, mkdir, touch, chmod, chown, chgrp.
    A second run of a module against it sees what the first one left.
    """

    conn: FakeConnection
    dirs: set[str] = field(default_factory=lambda: {"/", "/tmp", "/etc", "/etc/sysctl.d"})
    meta: dict[str, list] = field(default_factory=dict)  # path -> [mode, owner, group]

    COMMANDS = ("stat", "sha256sum", "cat", "cp", "rm", "mkdir", "touch", "chmod", "chown", "chgrp")

    def install(self) -> FakeConnection:
        """Add this filesystem's rule to the connection (after any rules already there)."""
        self.conn.on(rf"^({'|'.join(self.COMMANDS)})( |$)", self._answer)
        return self.conn

    def write(self, path: str, data: bytes | str, mode: int = 0o644, owner: str = "root"):
        """Put a file on the fake host, as if it had been there before the test."""
        self.conn.files[path] = data.encode() if isinstance(data, str) else data
        self.meta[path] = [mode, owner, owner]

    def mode(self, path: str) -> int:
        return self.meta[path][0]

    def _stat(self, path: str) -> tuple[int, str, str]:
        if path in self.dirs:
            mode, owner, group = self.meta.get(path, [0o755, "root", "root"])
            return 0, f"directory|{mode:o}|{owner}|{group}\n", ""
        if path in self.conn.files:
            mode, owner, group = self.meta.setdefault(path, [0o644, "root", "root"])
            kind = "regular file" if self.conn.files[path] else "regular empty file"
            return 0, f"{kind}|{mode:o}|{owner}|{group}\n", ""
        return 1, "", f"stat: cannot statx '{path}': No such file or directory"

    def _answer(self, text: str) -> tuple[int, str, str]:
        argv = shlex.split(text)
        command, args = argv[0], [a for a in argv[1:] if a != "--"]
        files = self.conn.files
        missing = (1, "", f"{command}: No such file or directory")
        if command == "stat":
            return self._stat(args[-1])
        if command == "sha256sum":
            path = args[-1]
            if path not in files:
                return missing
            return 0, f"{hashlib.sha256(files[path]).hexdigest()}  {path}\n", ""
        if command == "cat":
            path = args[-1]
            return (0, files[path].decode(), "") if path in files else missing
        if command == "cp":
            source, dest = args[-2], args[-1]
            if source not in files:
                return missing
            files[dest] = files[source]
            self.meta.setdefault(dest, [0o644, "root", "root"])
            return 0, "", ""
        if command == "rm":
            path = args[-1]
            for name in [f for f in files if f == path or f.startswith(path.rstrip("/") + "/")]:
                del files[name]
            self.dirs = {d for d in self.dirs if d != path and not d.startswith(path + "/")}
            return 0, "", ""
        if command == "mkdir":
            path = args[-1]
            while path not in ("", "/"):
                self.dirs.add(path)
                path = path.rsplit("/", 1)[0]
            return 0, "", ""
        if command == "touch":
            files.setdefault(args[-1], b"")
            self.meta.setdefault(args[-1], [0o644, "root", "root"])
            return 0, "", ""
        path = args[-1]
        if path not in files and path not in self.dirs:
            return missing
        entry = self.meta.setdefault(path, [0o755 if path in self.dirs else 0o644, "root", "root"])
        if command == "chmod":
            entry[0] = int(args[0], 8)
        elif command == "chown":
            entry[1] = args[0]
        else:
            entry[2] = args[0]
        return 0, "", ""


@dataclass
class FakeClock:
    """Time that passes only when something sleeps: for wait loops without waiting."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now
