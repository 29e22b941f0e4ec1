"""`copy`: a file on the host with given content (`content:`) or a controller file's (`src:`).

The sha256 on the host is compared first; nothing is transferred when it already matches.
`src` is looked up as Ansible does: absolute, the playbook's `files/`, the playbook's folder.
A `dest` that is a directory (or ends in `/`) receives the file under the source's name.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from orchestrator.modules.base import (
    ArgSpec,
    Module,
    ModuleArgError,
    ModuleContext,
    Param,
    TaskResult,
    find_controller_file,
    ok,
    parse_mode,
    remote_stat,
    write_file,
)

FILE_PARAMS = {
    "dest": Param(required=True),
    "mode": Param(type="raw"),
    "owner": Param(),
    "group": Param(),
    "force": Param(type="bool", default=True),
}

SPEC = ArgSpec(
    params={"src": Param(), "content": Param(type="raw"), **FILE_PARAMS},
    required_one_of=(("src", "content"),),
    mutually_exclusive=(("src", "content"),),
)


def place(ctx: ModuleContext, dest: str, data: bytes, params: dict[str, Any]) -> TaskResult:
    """Copy semantics shared with `template`: force, mode, owner, group, check mode."""
    if not params["force"] and remote_stat(ctx, dest) is not None:
        return ok(f"{dest} exists and force is off", dest=dest)
    outcome = write_file(
        ctx,
        dest,
        data,
        mode=parse_mode("copy", params["mode"]),
        owner=params["owner"],
        group=params["group"],
    )
    return TaskResult(
        changed=outcome.changed,
        msg=outcome.msg,
        extra={"dest": dest, "checksum": outcome.checksum},
    )


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    dest = params["dest"]
    if params["content"] is not None:
        content = params["content"]
        if not isinstance(content, str):
            content = json.dumps(content, sort_keys=True)
        data = content.encode()
        if dest.endswith("/"):
            raise ModuleArgError("copy: with `content`, dest must be a file name, not a folder")
    else:
        source = find_controller_file(ctx, params["src"], "files")
        data = source.read_bytes()
        if dest.endswith("/") or ((stat := remote_stat(ctx, dest)) is not None and stat.is_dir):
            dest = posixpath.join(dest, source.name)
    return place(ctx, dest, data, params)


MODULE = Module(
    name="copy",
    spec=SPEC,
    run=run,
    summary="a file with given content or a controller file's (sha256 compared first)",
)
