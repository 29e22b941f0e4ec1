"""`shell`: run shell text through `/bin/sh -c` (or `executable`).

The text is the playbook author's; values templated into it with `{{ … }}` are quoted as
single shell words (see `orchestrator.templating`), so data never becomes shell code.
The text is passed to the shell as one argument, which keeps redirections inside sudo.
"""

from __future__ import annotations

from typing import Any

from orchestrator.modules.base import ArgSpec, Module, ModuleArgError, ModuleContext, Param
from orchestrator.modules.command import COMMON, execute

FREE_FORM_KEYS = ("creates", "removes", "chdir", "stdin", "executable")

SPEC = ArgSpec(
    params={**COMMON, "executable": Param()},
    required_one_of=(("_raw_params", "cmd"),),
    mutually_exclusive=(("_raw_params", "cmd"),),
)


def run(ctx: ModuleContext, params: dict[str, Any]):
    text = params.get("_raw_params") or params.get("cmd") or ""
    if not text.strip():
        raise ModuleArgError("shell: no command given")
    argv = [params.get("executable") or "/bin/sh", "-c", text]
    return execute(ctx, argv, params, text)


MODULE = Module(
    name="shell",
    spec=SPEC,
    run=run,
    summary="run shell text (values from {{ }} are quoted)",
    free_form=True,
    free_form_keys=FREE_FORM_KEYS,
)
