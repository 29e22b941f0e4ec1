"""`reboot`: reboot the host, reconnect, and verify it really rebooted (its boot id changed).

The reboot is started detached (`setsid`, one second later) so the command returns before
the connection drops. Then the engine's connect function is called again until the host
answers with a new `/proc/sys/kernel/random/boot_id`, or `reboot_timeout` passes. A reboot
always reports a change; in check mode nothing happens.
"""

from __future__ import annotations

import contextlib
import shlex
from typing import Any

from orchestrator.connection import last_line
from orchestrator.modules.base import (
    ArgSpec,
    Module,
    ModuleContext,
    Param,
    TaskResult,
    changed,
    failed,
)

SPEC = ArgSpec(
    params={
        "reboot_timeout": Param(type="float", default=600.0),
        "pre_reboot_delay": Param(type="float", default=0.0),
        "post_reboot_delay": Param(type="float", default=0.0),
        "connect_delay": Param(type="float", default=5.0),
        "retry_interval": Param(type="float", default=5.0),
        "test_command": Param(default="whoami"),
    }
)

BOOT_ID = ["cat", "/proc/sys/kernel/random/boot_id"]
_REBOOT = "(sleep 1; shutdown -r now || reboot) >/dev/null 2>&1 </dev/null &"


def boot_id(ctx: ModuleContext) -> str:
    result = ctx.run(BOOT_ID, become=False, timeout=30)
    return result.stdout.strip() if result.ok else ""


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    if ctx.check:
        return changed("would reboot", rebooted=False)
    before = boot_id(ctx)
    if not before:
        return failed("cannot read the boot id before rebooting")
    if params["pre_reboot_delay"]:
        ctx.sleep(params["pre_reboot_delay"])
    start = ctx.clock()
    # The connection may drop while the command returns; that is expected.
    with contextlib.suppress(Exception):
        ctx.run(["setsid", "sh", "-c", _REBOOT], timeout=30)
    ctx.sleep(params["connect_delay"])
    deadline = start + params["reboot_timeout"]
    while True:
        try:
            ctx.reconnect()
            after = boot_id(ctx)
            if after and after != before:
                break
        except Exception:  # host still down (refused, timeout, auth not ready): keep trying
            pass
        if ctx.clock() >= deadline:
            return failed(
                f"timed out after {params['reboot_timeout']:.0f}s waiting for the host to come "
                "back with a new boot id (did the reboot run as root? set become)"
            )
        ctx.sleep(params["retry_interval"])
    if params["post_reboot_delay"]:
        ctx.sleep(params["post_reboot_delay"])
    test = ctx.run(shlex.split(params["test_command"]))
    elapsed = round(ctx.clock() - start, 1)
    if not test.ok:
        return failed(f"rebooted, but the test command failed: {last_line(test)}", result=test)
    return changed(f"rebooted in {elapsed}s", rebooted=True, elapsed=elapsed)


MODULE = Module(
    name="reboot",
    spec=SPEC,
    run=run,
    summary="reboot, reconnect, verify the boot id changed",
)
