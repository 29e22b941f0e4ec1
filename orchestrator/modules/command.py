"""`command`: run a program with arguments, no shell. Free-form text is split like a shell
would split words (`shlex`), but nothing in it is ever interpreted by a shell.

As in Ansible, a command that runs reports `changed`; use `creates`/`removes` or
`changed_when` to make it idempotent. In check mode it does not run: it is reported skipped,
unless `creates`/`removes` decide it would not run anyway.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from orchestrator.modules.base import (
    ArgSpec,
    Module,
    ModuleArgError,
    ModuleContext,
    Param,
    TaskResult,
    from_command,
    ok,
    skipped,
)

# Free-form `key=value` words that are arguments of the module, not of the command.
FREE_FORM_KEYS = ("creates", "removes", "chdir", "stdin")

COMMON = {
    "_raw_params": Param(),
    "cmd": Param(),
    "chdir": Param(),
    "creates": Param(),
    "removes": Param(),
    "stdin": Param(),
}

SPEC = ArgSpec(
    params={**COMMON, "argv": Param(type="list", elements="str")},
    required_one_of=(("_raw_params", "cmd", "argv"),),
    mutually_exclusive=(("_raw_params", "cmd", "argv"),),
)

_GLOB_EXISTS = 'IFS=; for f in $1; do [ -e "$f" ] && exit 0; done; exit 1'
_IN_DIRECTORY = 'cd -- "$1" && shift && exec "$@"'


def _exists(ctx: ModuleContext, pattern: str) -> bool:
    """Does anything match the glob `pattern` on the host? (The pattern is data: `$1`.)"""
    return ctx.run(["sh", "-c", _GLOB_EXISTS, "sh", pattern]).ok


def execute(ctx: ModuleContext, argv: Sequence[str], params: dict[str, Any], shown: Any):
    """Run `argv` honouring chdir/creates/removes/stdin and check mode (command and shell)."""
    verb = "Would" if ctx.check else "Did"
    creates, removes = params.get("creates"), params.get("removes")
    if creates and _exists(ctx, creates):
        return ok(f"{verb} not run command since '{creates}' exists", cmd=shown).with_(
            rc=0, stdout=f"skipped, since {creates} exists"
        )
    if removes and not _exists(ctx, removes):
        return ok(f"{verb} not run command since '{removes}' does not exist", cmd=shown).with_(
            rc=0, stdout=f"skipped, since {removes} does not exist"
        )
    if ctx.check:
        if creates is None and removes is None:
            return skipped("Command would have run if not in check mode", cmd=shown)
        return TaskResult(changed=True, msg="Command would have run if not in check mode")
    if params.get("chdir"):
        argv = ["sh", "-c", _IN_DIRECTORY, "sh", params["chdir"], *argv]
    stdin = params.get("stdin")
    result = ctx.run(list(argv), stdin=None if stdin is None else f"{stdin}\n")
    return from_command(result, changed=True).with_(extra={"cmd": shown})


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    if params.get("argv"):
        argv = [str(a) for a in params["argv"]]
    else:
        text = params.get("_raw_params") or params.get("cmd") or ""
        try:
            argv = shlex.split(text)
        except ValueError as error:
            raise ModuleArgError(f"command: cannot split {text!r} into words: {error}") from None
    if not argv:
        raise ModuleArgError("command: no command given")
    return execute(ctx, argv, params, argv)


MODULE = Module(
    name="command",
    spec=SPEC,
    run=run,
    summary="run a program with arguments (no shell)",
    free_form=True,
    free_form_keys=FREE_FORM_KEYS,
)
