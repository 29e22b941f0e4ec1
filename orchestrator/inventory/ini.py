"""Ansible's INI inventory format, read the way ansible-core's `ini` plugin reads it.

- Lines before any section are hosts of `ungrouped`; `[g]` lists hosts, `[g:children]` child
  groups, `[g:vars]` one `key=value` per line; `;` and `#` start comment lines. Group names
  are kept as written (`web-servers` stays), as with Ansible's default settings.
- A group named in `[p:children]`, or given `[g:vars]`, must be declared by a `[g]` or
  `[g:children]` section somewhere in the file.
- Host lines are split like a shell would (quotes, `#` comments), then each `key=value` value
  goes through Python's `ast.literal_eval`: `x=1` is an int, `y=True` a bool, `w=[1,2]` a list,
  while `y=true` stays the string "true". `[g:vars]` values are evaluated the same way but
  without the shell split, so `z="quoted"` loses its quotes there by evaluation and `v=a # b`
  keeps its "comment". Tuples and sets become lists, `...` and complex numbers strings, and a
  bytes literal an unsafe string — exactly what `ansible-inventory --list` shows.
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from typing import Any

from orchestrator.inventory.addresses import expand_host_entry
from orchestrator.inventory.builder import InventoryBuilder
from orchestrator.inventory.errors import InventoryError, where
from orchestrator.inventory.values import Unsafe

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:\#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:\#.*)?$")


def decode_ini(data: bytes, source: str) -> list[str]:
    """The file's lines; undecodable bytes are tolerated in comment lines only (as in Ansible)."""
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        pass
    lines = []
    for number, raw in enumerate(data.splitlines(), 1):
        if raw[:1] in (b";", b"#"):
            lines.append("")
            continue
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise InventoryError(
                f"{where(source, number, error.start + 1)}: not valid UTF-8"
            ) from None
    return lines


def parse_ini(lines: list[str], builder: InventoryBuilder) -> None:
    """Add the groups, hosts and variables of an INI inventory to `builder`."""
    source = builder.source
    pending: dict[str, dict[str, Any]] = {}  # groups referenced before being declared
    group, state = "ungrouped", "hosts"
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        at = where(source, number, len(raw) - len(raw.lstrip()) + 1)
        section = _SECTION.match(line)
        if section:
            group, state = section.group(1), section.group(2)
            state = state or "hosts"
            if state not in ("hosts", "children", "vars"):
                raise InventoryError(
                    f"{at}: section [{section.group(1)}:{state}] has unknown type {state!r} "
                    "(use hosts, children or vars)"
                )
            if group not in builder.groups:
                # [g:vars] alone does not declare g: it must be declared somewhere else
                if state == "vars" and group not in pending:
                    pending[group] = {"at": at, "state": state}
                builder.add_group(group, at)
            if group in pending and state != "vars":
                if pending[group]["state"] == "children":
                    _add_pending_children(builder, group, pending)
                else:
                    del pending[group]
            continue
        if line.startswith("[") and line.endswith("]"):
            raise InventoryError(
                f"{at}: invalid section header: use [group], [group:vars] or [group:children] "
                "without spaces"
            )
        if state == "hosts":
            _parse_host_line(builder, line, group, at)
        elif state == "vars":
            if "=" not in line:
                raise InventoryError(f"{at}: expected key=value in [{group}:vars]")
            key, value = (part.strip() for part in line.split("=", 1))
            builder.set_variable(group, key, parse_value(value, at), at)
        else:
            match = _GROUP_NAME.match(line)
            if not match:
                raise InventoryError(f"{at}: expected a group name in [{group}:children]")
            child = match.group(1)
            if child in builder.groups:
                builder.add_child(group, child, at)
            elif child in pending:
                pending[child].setdefault("parents", []).append(group)
            else:
                pending[child] = {"at": at, "state": "children", "parents": [group]}
    for name, declaration in pending.items():
        if declaration["state"] == "vars":
            raise InventoryError(
                f"{declaration['at']}: section [{name}:vars] is for group {name!r}, "
                f"which is never declared (add a [{name}] section)"
            )
        raise InventoryError(
            f"{declaration['at']}: section [{declaration['parents'][-1]}:children] names group "
            f"{name!r}, which is never declared (add a [{name}] section)"
        )


def _add_pending_children(
    builder: InventoryBuilder, group: str, pending: dict[str, dict[str, Any]]
) -> None:
    declaration = pending[group]
    for parent in declaration.get("parents", []):
        builder.add_child(parent, group, declaration["at"])
        if parent in pending and pending[parent]["state"] == "children":
            _add_pending_children(builder, parent, pending)
    pending.pop(group, None)


def _parse_host_line(builder: InventoryBuilder, line: str, group: str, at: str) -> None:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as error:  # the line is not quoted; it may hold a password
        raise InventoryError(f"{at}: cannot split host line: {error}") from None
    if not tokens:
        return
    entry = tokens[0]
    try:
        names, port = expand_host_entry(entry)
    except InventoryError as error:
        raise InventoryError(f"{at}: {error}") from None
    if entry.strip().endswith(":") and port is None:
        raise InventoryError(f"{at}: host {entry!r} ends in ':', which is reserved for a port")
    if any(name.strip() == "---" for name in names):
        raise InventoryError(f"{at}: host '---' looks like YAML: is this a YAML inventory?")
    variables = {}
    for position, token in enumerate(tokens[1:], 2):
        if "=" not in token:
            raise InventoryError(
                f"{at}: word {position} of the host line is not a key=value variable"
            )
        key, value = token.split("=", 1)
        variables[key] = parse_value(value, at)
    for name in names:
        builder.add_host(name, group, port, at)
        for key, value in variables.items():
            builder.set_variable(name, key, value, at)


def parse_value(text: str, at: str) -> Any:
    """An INI value typed as Ansible types it: a Python literal if it is one, else the text."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    except (TypeError, MemoryError, RecursionError):  # Ansible fails on these as well
        raise InventoryError(f"{at}: a value cannot be evaluated as a Python literal") from None
    return _coerce(value)


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_coerce(item) for item in value]
    if isinstance(value, dict):
        return {key: _coerce(item) for key, item in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return Unsafe(value.decode("utf-8", "surrogateescape"))
    return value
