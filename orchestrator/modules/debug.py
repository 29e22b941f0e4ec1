"""`debug`: print a message or a variable's value (runs on the controller, never changes)."""

from __future__ import annotations

from typing import Any

from orchestrator.modules.base import ArgSpec, Module, ModuleContext, Param, TaskResult

SPEC = ArgSpec(
    params={"msg": Param(type="raw"), "var": Param()},
    mutually_exclusive=(("msg", "var"),),
)


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    if params["var"]:
        return TaskResult(extra={params["var"]: ctx.evaluate(params["var"])})
    msg = params["msg"]
    return TaskResult(msg="Hello world!" if msg is None else msg)


MODULE = Module(
    name="debug",
    spec=SPEC,
    run=run,
    summary="print a message or a variable",
    needs_connection=False,
)
