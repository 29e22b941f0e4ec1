"""`wait_for`: wait until a TCP port accepts connections (or stops) or a path exists (or
goes away), as seen from the host.

Probing happens on the host: the port with bash's `/dev/tcp` (host and port passed as
positional parameters, never spliced into the script), the path with `test -e`. In check
mode the condition is probed once and never waited for, since the service that would make
it true was not really started.
"""

from __future__ import annotations

from typing import Any

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
        "host": Param(default="127.0.0.1"),
        "port": Param(type="int"),
        "path": Param(),
        "state": Param(default="started", choices=("started", "stopped", "present", "absent")),
        "timeout": Param(type="float", default=300.0),
        "delay": Param(type="float", default=0.0),
        "sleep": Param(type="float", default=1.0),
        "connect_timeout": Param(type="int", default=5),
        "msg": Param(),
    },
    required_one_of=(("port", "path"),),
    mutually_exclusive=(("port", "path"),),
)

_TCP_CONNECT = 'exec 3<>"/dev/tcp/$1/$2"'


def _probe(ctx: ModuleContext, params: dict[str, Any]) -> bool:
    if params["port"] is not None:
        argv = [
            "timeout", str(params["connect_timeout"]),
            "bash", "-c", _TCP_CONNECT, "wait_for", params["host"], str(params["port"]),
        ]  # fmt: skip
        return ctx.run(argv, become=False).ok
    return ctx.run(["test", "-e", params["path"]], become=False).ok


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    if params["port"] is not None and params["state"] in ("present", "absent"):
        raise ModuleArgError("wait_for: use state started/stopped with a port")
    want_present = params["state"] in ("started", "present")
    target = f"{params['host']}:{params['port']}" if params["port"] is not None else params["path"]
    what = "to be up" if want_present else "to go away"
    if ctx.check:
        holds = _probe(ctx, params) == want_present
        note = "already" if holds else "not yet; would wait"
        return TaskResult(msg=f"{target} {what}: {note}", extra={"elapsed": 0})
    start = ctx.clock()
    if params["delay"]:
        ctx.sleep(params["delay"])
    deadline = start + params["timeout"]
    while True:
        if _probe(ctx, params) == want_present:
            return TaskResult(
                msg=f"{target} {what}: done", extra={"elapsed": round(ctx.clock() - start, 1)}
            )
        if ctx.clock() >= deadline:
            elapsed = round(ctx.clock() - start, 1)
            message = params["msg"] or f"Timeout when waiting for {target} {what}"
            return failed(message, elapsed=elapsed)
        ctx.sleep(params["sleep"])


MODULE = Module(
    name="wait_for",
    spec=SPEC,
    run=run,
    summary="wait for a port to open/close or a path to appear/vanish",
)
