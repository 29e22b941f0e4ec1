"""`mount`: a filesystem mounted or not, decided from /proc/mounts (e.g. tracefs at
/sys/kernel/tracing).

`mounted` (alias `ephemeral`) mounts now, creating the mount point if needed, and does not
touch /etc/fstab — experiment hosts are set up again after a reboot by the playbook itself.
`src` defaults to the filesystem type, which is what pseudo filesystems (tracefs, debugfs)
take.
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
)

SPEC = ArgSpec(
    params={
        "path": Param(required=True, aliases=("name",)),
        "src": Param(),
        "fstype": Param(),
        "opts": Param(),
        "state": Param(required=True, choices=("mounted", "ephemeral", "unmounted")),
    }
)


def _unescape(field: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts(ctx: ModuleContext) -> dict[str, tuple[str, str, str]]:
    """{mount point: (source, fstype, options)} from /proc/mounts (the last mount wins)."""
    table: dict[str, tuple[str, str, str]] = {}
    for line in ctx.run(["cat", "/proc/mounts"], become=False).stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            table[_unescape(fields[1]).rstrip("/") or "/"] = (
                _unescape(fields[0]),
                fields[2],
                fields[3],
            )
    return table


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    path = params["path"].rstrip("/") or "/"
    current = mounts(ctx).get(path)
    extra = {"path": path, "state": params["state"]}
    would = "would be " if ctx.check else ""
    if params["state"] == "unmounted":
        if current is None:
            return TaskResult(msg=f"{path} not mounted", extra=extra)
        if not ctx.check:
            result = ctx.run(["umount", "--", path])
            if not result.ok:
                return failed(f"umount {path} failed: {last_line(result)}", result=result)
        return TaskResult(changed=True, msg=f"{path} {would}unmounted", extra=extra)

    fstype = params["fstype"]
    if not fstype:
        raise ModuleArgError("mount: `fstype` is required with state=mounted")
    if current is not None:
        if current[1] != fstype:
            return failed(f"{path} is already mounted as {current[1]}, not {fstype}", **extra)
        return TaskResult(msg=f"{path} already mounted ({fstype})", extra=extra)
    if not ctx.check:
        ctx.run(["mkdir", "-p", "--", path])
        options = ["-o", params["opts"]] if params["opts"] else []
        src = params["src"] or fstype
        result = ctx.run(["mount", "-t", fstype, *options, "--", src, path])
        if not result.ok:
            return failed(f"mount {fstype} on {path} failed: {last_line(result)}", result=result)
    return TaskResult(changed=True, msg=f"{path} {would}mounted ({fstype})", extra=extra)


MODULE = Module(
    name="mount",
    spec=SPEC,
    run=run,
    summary="a filesystem mounted or unmounted (checks /proc/mounts)",
)
