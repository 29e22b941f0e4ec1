"""`set_fact`: set host variables from templated values (controller only, no change).

The engine stores the returned `ansible_facts` as the host's variables for the rest of the
run, above play vars, as Ansible does. Values are templated once, here, and never again.
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.modules.base import ArgSpec, Module, ModuleArgError, ModuleContext, TaskResult

SPEC = ArgSpec(free_keys=True)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    facts = {k: v for k, v in params.items() if k != "cacheable"}
    if not facts:
        raise ModuleArgError("set_fact: give at least one name: value")
    for name in facts:
        if not _IDENTIFIER.match(name):
            raise ModuleArgError(f"set_fact: {name!r} is not a valid variable name")
    return TaskResult(extra={"ansible_facts": facts})


MODULE = Module(
    name="set_fact",
    spec=SPEC,
    run=run,
    summary="set host variables for later tasks",
    needs_connection=False,
)
