"""`sysctl`: a kernel parameter set now (`sysctl -w`) and persisted in /etc/sysctl.d.

The running value is read with `sysctl -n` and compared after normalising whitespace
(`net.ipv4.tcp_rmem` prints tabs). The setting is kept in `sysctl_file`
(default /etc/sysctl.d/99-netmatrix.conf, one `name = value` line per key) so it survives a
reboot; the file is rewritten only when its line differs. `reload: false` only persists.
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.connection import last_line
from orchestrator.modules.base import (
    ArgSpec,
    Module,
    ModuleArgError,
    ModuleContext,
    Param,
    TaskResult,
    failed,
    write_file,
)

DEFAULT_FILE = "/etc/sysctl.d/99-netmatrix.conf"

SPEC = ArgSpec(
    params={
        "name": Param(required=True, aliases=("key",)),
        "value": Param(type="raw", aliases=("val",)),
        "state": Param(default="present", choices=("present", "absent")),
        "reload": Param(type="bool", default=True),
        "sysctl_set": Param(type="bool", default=True),
        "sysctl_file": Param(default=DEFAULT_FILE),
    }
)

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/*]*$")


def _normal(value: str) -> str:
    return " ".join(value.split())


def _key(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped.startswith(("#", ";")) or "=" not in stripped:
        return None
    return stripped.split("=", 1)[0].strip().replace("/", ".")


def _edit(text: str, name: str, value: str | None) -> str:
    """The file's text with `name`'s line replaced, added (value) or removed (None)."""
    lines, found = [], False
    for line in text.splitlines():
        if _key(line) == name.replace("/", "."):
            if value is not None and not found:
                lines.append(f"{name} = {value}")
            found = True
            continue
        lines.append(line)
    if value is not None and not found:
        lines.append(f"{name} = {value}")
    return "\n".join(lines) + "\n" if lines else ""


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    name, state = params["name"], params["state"]
    if not _NAME.match(name):
        raise ModuleArgError(f"sysctl: {name!r} is not a kernel parameter name")
    value = params["value"]
    if state == "present":
        if value is None:
            raise ModuleArgError("sysctl: `value` is required with state=present")
        if isinstance(value, bool):  # kernel switches are 1/0
            value = int(value)
        if isinstance(value, dict | list):
            raise ModuleArgError("sysctl: value must be a number or text")
        value = _normal(str(value))  # also folds newlines: one line in the file
    done: list[str] = []

    current = ctx.run(["sysctl", "-n", name])
    if not current.ok:
        return failed(f"sysctl: unknown key {name}: {last_line(current)}", result=current)

    path = params["sysctl_file"]
    existing = ctx.run(["cat", "--", path], become=False)
    text = existing.stdout if existing.ok else ""
    wanted = _edit(text, name, value if state == "present" else None)
    if wanted != text and (state == "present" or existing.ok):
        outcome = write_file(ctx, path, wanted.encode())
        if outcome.changed:
            done.append(f"{path} updated")

    live = state == "present" and params["sysctl_set"] and params["reload"]
    if live and _normal(current.stdout) != value:
        done.append(f"{name} {_normal(current.stdout)} -> {value}")
        if not ctx.check:
            written = ctx.run(["sysctl", "-w", f"{name}={value}"])
            if not written.ok:
                return failed(f"sysctl -w {name} failed: {last_line(written)}", result=written)
    extra = {"name": name, "value": value, "sysctl_file": path}
    if not done:
        return TaskResult(msg=f"{name} = {_normal(current.stdout)} already", extra=extra)
    prefix = "would change: " if ctx.check else ""
    return TaskResult(changed=True, msg=prefix + "; ".join(done), extra=extra)


MODULE = Module(
    name="sysctl",
    spec=SPEC,
    run=run,
    summary="kernel parameter set with sysctl -w and persisted in /etc/sysctl.d",
)
