"""`file`: a path that is a directory, an existing file, absent, or touched; mode and owner.

`touch` creates a missing file and otherwise only fixes attributes: timestamps are preserved
(Ansible's `access_time/modification_time: preserve`), so a second run reports no change.
"""

from __future__ import annotations

from typing import Any

from orchestrator.modules.base import (
    ArgSpec,
    Module,
    ModuleContext,
    Param,
    TaskResult,
    apply_attributes,
    failed,
    must,
    parse_mode,
    remote_stat,
)

SPEC = ArgSpec(
    params={
        "path": Param(required=True, aliases=("dest", "name")),
        "state": Param(choices=("file", "directory", "absent", "touch")),
        "mode": Param(type="raw"),
        "owner": Param(),
        "group": Param(),
    }
)


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    path = params["path"]
    mode = parse_mode("file", params["mode"])
    stat = remote_stat(ctx, path)
    state = params["state"] or ("file" if stat is None or not stat.is_dir else "directory")
    would = "would be " if ctx.check else ""
    done: list[str] = []

    if state == "absent":
        if stat is None:
            return TaskResult(msg=f"{path} already absent", extra={"path": path, "state": state})
        if not ctx.check:
            must(ctx, ["rm", "-rf", "--", path])
        return TaskResult(
            changed=True, msg=f"{path} {would}removed", extra={"path": path, "state": state}
        )

    if state == "file" and stat is None:
        return failed(f"file ({path}) is absent, cannot continue", path=path, state=state)
    if state == "file" and stat.is_dir:
        return failed(f"{path} is a directory, not a file", path=path, state=state)
    if state == "directory" and stat is not None and not stat.is_dir:
        return failed(f"{path} exists and is not a directory", path=path, state=state)
    if state == "touch" and stat is not None and stat.is_dir:
        return failed(f"{path} is a directory, cannot touch it as a file", path=path)

    if stat is None:
        done.append("created")
        if not ctx.check:
            if state == "directory":
                must(ctx, ["mkdir", "-p", "--", path])
            else:
                must(ctx, ["touch", "--", path])
            stat = remote_stat(ctx, path)
    done += apply_attributes(
        ctx, path, stat, mode=mode, owner=params["owner"], group=params["group"]
    )
    extra = {"path": path, "state": state}
    if not done:
        return TaskResult(msg=f"{path} already {state} as wanted", extra=extra)
    return TaskResult(changed=True, msg=f"{path} {would}{', '.join(done)}", extra=extra)


MODULE = Module(
    name="file",
    spec=SPEC,
    run=run,
    summary="directory/file/absent/touch with mode, owner, group",
)
