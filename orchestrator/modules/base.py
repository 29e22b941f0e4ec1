"""What every task module shares: its result value, its argument spec, the context it runs in.

A module is a `Module` value: a name, an `ArgSpec` (checked when the playbook is loaded, for
names, and again after templating, for values), and a `run(ctx, params)` function returning a
`TaskResult`. Modules read the host's state first and do nothing when it already holds
(`changed=False`, saying why); in check mode they report what they would change and change
nothing. Every value from data reaches the host as one element of an argument sequence
(quoted by the connection), never spliced into shell text.

One file of about 500 lines: it is the whole contract a module is written against (result,
arguments, context, and the shared ways of reading a host's state first), so that a module
author reads one file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from orchestrator.connection import CommandResult, Connection, last_line
from orchestrator.errors import NetmatrixError
from orchestrator.host import Host


@dataclass(frozen=True)
class TaskResult:
    """One task's outcome on one host, in Ansible's shape (`as_dict()`)."""

    changed: bool = False
    failed: bool = False
    skipped: bool = False
    msg: str = ""
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def as_dict(self) -> dict[str, Any]:
        """Ansible's result dict: the seven common keys, `*_lines`, then module extras."""
        result: dict[str, Any] = {
            "changed": self.changed,
            "failed": self.failed,
            "skipped": self.skipped,
            "msg": self.msg,
            "rc": self.rc,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "stdout_lines": self.stdout.splitlines(),
            "stderr_lines": self.stderr.splitlines(),
        }
        result.update(self.extra)
        return result

    def with_(self, **changes: Any) -> TaskResult:
        """A copy with some fields changed (`extra` is merged, not replaced)."""
        if "extra" in changes:
            changes["extra"] = MappingProxyType({**self.extra, **changes["extra"]})
        return replace(self, **changes)


def ok(msg: str = "", **extra: Any) -> TaskResult:
    return TaskResult(msg=msg, extra=MappingProxyType(extra))


def changed(msg: str = "", **extra: Any) -> TaskResult:
    return TaskResult(changed=True, msg=msg, extra=MappingProxyType(extra))


def failed(msg: str, *, result: CommandResult | None = None, **extra: Any) -> TaskResult:
    if result is None:
        return TaskResult(failed=True, msg=msg, extra=MappingProxyType(extra))
    return TaskResult(
        failed=True,
        msg=msg,
        rc=result.rc,
        stdout=result.stdout,
        stderr=result.stderr,
        extra=MappingProxyType({"cmd": result.command, **extra}),
    )


def skipped(msg: str, **extra: Any) -> TaskResult:
    return TaskResult(skipped=True, msg=msg, extra=MappingProxyType(extra))


def from_command(result: CommandResult, *, changed: bool, msg: str = "", **extra) -> TaskResult:
    """A result carrying a command's rc/stdout/stderr; failed when it exited non-zero."""
    return TaskResult(
        changed=changed,
        failed=not result.ok,
        msg=msg or ("" if result.ok else "non-zero return code"),
        rc=result.rc,
        stdout=result.stdout.rstrip("\r\n"),
        stderr=result.stderr.rstrip("\r\n"),
        extra=MappingProxyType({"cmd": result.command, **extra}),
    )


# --- arguments ------------------------------------------------------------------------------


class ModuleArgError(NetmatrixError):
    """A module argument is missing, unknown, of the wrong type or not one of its choices."""


_TRUE = {"yes", "on", "1", "true", "y", "t"}
_FALSE = {"no", "off", "0", "false", "n", "f", ""}


@dataclass(frozen=True)
class Param:
    """One module argument: its type, default, choices and aliases."""

    type: str = "str"  # str | int | float | bool | list | dict | raw
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] = ()
    aliases: tuple[str, ...] = ()
    elements: str | None = None  # type of list elements


def _convert(module: str, name: str, param: Param, value: Any) -> Any:
    kind = param.type
    try:
        if value is None or kind == "raw":
            return value
        if kind == "str":
            if isinstance(value, Mapping | list | tuple):
                raise ValueError("expected a string")
            return str(value)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("expected an integer")
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError("expected a boolean (yes/no, true/false)")
        if kind == "list":
            if isinstance(value, str):
                items: list[Any] = [v.strip() for v in value.split(",") if v.strip()]
            elif isinstance(value, list | tuple):
                items = list(value)
            else:
                items = [value]
            if param.elements:
                element = Param(type=param.elements)
                items = [_convert(module, name, element, item) for item in items]
            return items
        if kind == "dict":
            if not isinstance(value, Mapping):
                raise ValueError("expected a mapping")
            return dict(value)
    except (TypeError, ValueError) as error:
        raise ModuleArgError(f"{module}: argument {name!r}: {error}, got {value!r}") from None
    raise AssertionError(f"unknown parameter type {kind}")


@dataclass(frozen=True)
class ArgSpec:
    """A module's arguments. `free_keys` accepts any name (set_fact)."""

    params: Mapping[str, Param] = field(default_factory=dict)
    free_keys: bool = False
    required_one_of: tuple[tuple[str, ...], ...] = ()
    mutually_exclusive: tuple[tuple[str, ...], ...] = ()

    def canonical(self, key: str) -> str | None:
        if key in self.params:
            return key
        for name, param in self.params.items():
            if key in param.aliases:
                return name
        return None

    def check_names(self, module: str, args: Mapping[str, Any]) -> None:
        """Load-time check: every name known, required ones present (values may be templates)."""
        if self.free_keys:
            return
        present = set()
        for key in args:
            name = self.canonical(key)
            if name is None:
                known = ", ".join(sorted(self.params))
                raise ModuleArgError(f"{module} has no argument {key!r}; its arguments: {known}")
            present.add(name)
        for name, param in self.params.items():
            if param.required and name not in present:
                raise ModuleArgError(f"{module}: missing required argument {name!r}")
        for group in self.required_one_of:
            if not present.intersection(group):
                raise ModuleArgError(f"{module}: one of {', '.join(group)} is required")
        for group in self.mutually_exclusive:
            both = sorted(present.intersection(group))
            if len(both) > 1:
                raise ModuleArgError(f"{module}: {' and '.join(both)} are mutually exclusive")

    def parse(self, module: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """Run-time check after templating: names, types, choices; defaults filled in."""
        self.check_names(module, args)
        if self.free_keys:
            return dict(args)
        values: dict[str, Any] = {}
        for key, value in args.items():
            name = self.canonical(key)
            assert name is not None
            values[name] = value
        parsed: dict[str, Any] = {}
        for name, param in self.params.items():
            value = values.get(name, param.default)
            value = _convert(module, name, param, value)
            if param.choices and value is not None and value not in param.choices:
                choices = ", ".join(str(c) for c in param.choices)
                raise ModuleArgError(
                    f"{module}: argument {name!r} must be one of: {choices}; got {value!r}"
                )
            parsed[name] = value
        return parsed


# --- where a module runs --------------------------------------------------------------------


class ModuleContext(Protocol):
    """What a module may use. The engine provides it; tests can use `SimpleContext`."""

    host: Host
    check: bool
    become: bool
    base_dir: Path

    @property
    def conn(self) -> Connection: ...

    def run(
        self,
        command: Sequence[str],
        *,
        timeout: float | None = None,
        stdin: str | None = None,
        become: bool | None = None,
    ) -> CommandResult: ...

    def put_bytes(self, data: bytes, remote: str) -> None: ...

    def put_file(self, local: Path, remote: str) -> None: ...

    def render(self, text: str) -> str: ...

    def evaluate(self, expression: str) -> Any: ...

    def reconnect(self) -> Connection: ...

    def sleep(self, seconds: float) -> None: ...

    def clock(self) -> float: ...


@dataclass
class SimpleContext:
    """A ModuleContext over one connection: used by the engine and by unit tests.

    `environment` (a task's `environment:`) is applied by prefixing `env K=V` to every command,
    which survives sudo (sudo resets the environment).
    """

    connection: Connection
    host: Host = field(default=None)  # type: ignore[assignment]
    check: bool = False
    become: bool = False
    base_dir: Path = field(default_factory=Path.cwd)
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None
    renderer: Callable[[str], str] | None = None
    evaluator: Callable[[str], Any] | None = None
    reconnector: Callable[[], Connection] | None = None
    sleeper: Callable[[float], None] = time.sleep
    clocker: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if self.host is None:
            self.host = self.connection.host

    @property
    def conn(self) -> Connection:
        return self.connection

    def run(self, command, *, timeout=None, stdin=None, become=None) -> CommandResult:
        argv = list(command)
        if self.environment:
            argv = ["env", *(f"{k}={v}" for k, v in self.environment.items()), *argv]
        use_sudo = self.become if become is None else become
        call = self.connection.sudo if use_sudo else self.connection.run
        return call(argv, timeout=timeout if timeout is not None else self.timeout, stdin=stdin)

    def put_bytes(self, data: bytes, remote: str) -> None:
        fd, name = tempfile.mkstemp(prefix="netmatrix-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            self.connection.put(name, remote)
        finally:
            os.unlink(name)

    def put_file(self, local: Path, remote: str) -> None:
        self.connection.put(local, remote)

    def render(self, text: str) -> str:
        if self.renderer is None:
            raise NetmatrixError("templating is not available here")
        return self.renderer(text)

    def evaluate(self, expression: str) -> Any:
        if self.evaluator is None:
            raise NetmatrixError("expressions are not available here")
        return self.evaluator(expression)

    def reconnect(self) -> Connection:
        if self.reconnector is None:
            raise NetmatrixError(f"{self.host.name}: cannot reconnect from here")
        self.connection = self.reconnector()
        return self.connection

    def sleep(self, seconds: float) -> None:
        self.sleeper(seconds)

    def clock(self) -> float:
        return self.clocker()


@dataclass(frozen=True)
class Module:
    """A task module: what the registry maps a name to."""

    name: str
    spec: ArgSpec
    run: Callable[[ModuleContext, dict[str, Any]], TaskResult]
    summary: str
    free_form: bool = False  # takes `module: text` (command, shell)
    free_form_keys: tuple[str, ...] = ()  # `key=value` words in that text meant for the module
    needs_connection: bool = True  # debug and set_fact run on the controller only


# --- remote files (shared by copy, template, file, sysctl) ----------------------------------


@dataclass(frozen=True)
class RemoteStat:
    """What `stat` says about a path on the host."""

    kind: str  # "file", "directory", "link", "other"
    mode: int
    owner: str
    group: str

    @property
    def is_dir(self) -> bool:
        return self.kind == "directory"


def remote_stat(ctx: ModuleContext, path: str) -> RemoteStat | None:
    """The path's type, mode and ownership, or None when it does not exist."""
    result = ctx.run(["stat", "-c", "%F|%a|%U|%G", "--", path])
    if not result.ok:
        return None
    kind_text, mode, owner, group = result.stdout.strip().split("|")
    if "directory" in kind_text:
        kind = "directory"
    elif "symbolic link" in kind_text:
        kind = "link"
    elif "regular" in kind_text:
        kind = "file"
    else:
        kind = "other"
    return RemoteStat(kind=kind, mode=int(mode, 8), owner=owner, group=group)


def remote_sha256(ctx: ModuleContext, path: str) -> str | None:
    """sha256 of a file on the host, or None when it cannot be read."""
    result = ctx.run(["sha256sum", "--", path])
    if not result.ok or not result.stdout.strip():
        return None
    return result.stdout.split()[0].lstrip("\\")


def parse_mode(module: str, value: Any) -> int | None:
    """A file mode as an int. YAML's `0644` is already octal; strings must be octal digits."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if text and all(c in "01234567" for c in text) and len(text) <= 4:
        return int(text, 8)
    raise ModuleArgError(f"{module}: mode must be octal like '0644', got {value!r}")


def apply_attributes(
    ctx: ModuleContext,
    path: str,
    stat: RemoteStat | None,
    *,
    mode: int | None,
    owner: str | None,
    group: str | None,
) -> list[str]:
    """Bring mode/owner/group in line; return what changed (or would, in check mode)."""
    changes: list[str] = []
    if mode is not None and (stat is None or stat.mode != mode):
        changes.append(f"mode {mode:04o}")
        if not ctx.check:
            must(ctx, ["chmod", f"{mode:o}", "--", path])
    if owner is not None and (stat is None or stat.owner != str(owner)):
        changes.append(f"owner {owner}")
        if not ctx.check:
            must(ctx, ["chown", str(owner), "--", path])
    if group is not None and (stat is None or stat.group != str(group)):
        changes.append(f"group {group}")
        if not ctx.check:
            must(ctx, ["chgrp", str(group), "--", path])
    return changes


def must(ctx: ModuleContext, argv: Sequence[str], **kwargs: Any) -> CommandResult:
    """Run a command that has to succeed; its failure becomes the task's failure message."""
    result = ctx.run(argv, **kwargs)
    if not result.ok:
        raise NetmatrixError(f"`{' '.join(argv)}` failed: {last_line(result)}")
    return result


def remote_temp_path(suffix: str = "") -> str:
    """A fresh name in /tmp for staging an upload before it is moved into place."""
    return f"/tmp/.netmatrix-{uuid.uuid4().hex}{suffix}"


@dataclass(frozen=True)
class WriteOutcome:
    changed: bool
    msg: str
    checksum: str


def write_file(
    ctx: ModuleContext,
    dest: str,
    data: bytes,
    *,
    mode: int | None = None,
    owner: str | None = None,
    group: str | None = None,
) -> WriteOutcome:
    """Make `dest` hold exactly `data` (sha256 compared first) with the given attributes.

    The bytes are uploaded as the connecting user to /tmp, then copied into place with the
    task's privileges, so become works for root-owned destinations.
    """
    checksum = hashlib.sha256(data).hexdigest()
    current = remote_sha256(ctx, dest)
    changes: list[str] = []
    if current != checksum:
        changes.append("content" if current is not None else "created")
        if not ctx.check:
            staging = remote_temp_path()
            try:
                ctx.put_bytes(data, staging)
                must(ctx, ["cp", "--", staging, dest])
            finally:
                ctx.run(["rm", "-f", "--", staging])
    stat = remote_stat(ctx, dest) if not (ctx.check and current is None) else None
    changes += apply_attributes(ctx, dest, stat, mode=mode, owner=owner, group=group)
    if not changes:
        return WriteOutcome(False, f"{dest} already up to date", checksum)
    verb = "would change" if ctx.check else "changed"
    return WriteOutcome(True, f"{dest}: {verb} {', '.join(changes)}", checksum)


def find_controller_file(ctx: ModuleContext, src: str, subdir: str) -> Path:
    """A controller-side file named in a task: absolute, or under the playbook's `subdir/`
    (files/, templates/), or relative to the playbook, as Ansible looks for it."""
    path = Path(src).expanduser()
    candidates = [path] if path.is_absolute() else [ctx.base_dir / subdir / src, ctx.base_dir / src]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise NetmatrixError(f"could not find {src!r} on the controller (looked at {tried})")
