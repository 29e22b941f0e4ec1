"""`template`: render a Jinja2 file on the controller with the task's variables, then place
it on the host with `copy`'s semantics (sha256 compared first, mode/owner/group).

`src` is looked up as Ansible does: absolute, the playbook's `templates/`, its folder.
"""

from __future__ import annotations

from typing import Any

from orchestrator.modules.base import (
    ArgSpec,
    Module,
    ModuleContext,
    Param,
    TaskResult,
    find_controller_file,
)
from orchestrator.modules.copy import FILE_PARAMS, place

SPEC = ArgSpec(params={"src": Param(required=True), **FILE_PARAMS})


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    source = find_controller_file(ctx, params["src"], "templates")
    rendered = ctx.render(source.read_text())
    return place(ctx, params["dest"], rendered.encode(), params)


MODULE = Module(
    name="template",
    spec=SPEC,
    run=run,
    summary="render a Jinja2 file on the controller and place it like copy",
)
