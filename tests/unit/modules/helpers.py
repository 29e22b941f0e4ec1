"""Running one task module against a FakeConnection, the way the engine does."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from orchestrator import modules
from orchestrator.modules.base import SimpleContext, TaskResult
from tests.fakes import FakeClock, FakeConnection


def run_module(
    name: str,
    conn: FakeConnection,
    args: dict[str, Any],
    *,
    check: bool = False,
    become: bool = False,
    base_dir: Path | None = None,
    clock: FakeClock | None = None,
    **context: Any,
) -> TaskResult:
    """Check `args` like the loader and the engine do, then run the module once."""
    module = modules.get(name)
    assert module is not None
    params = module.spec.parse(module.name, args)
    clock = clock or FakeClock()
    ctx = SimpleContext(
        connection=conn,
        check=check,
        become=become,
        base_dir=base_dir or Path.cwd(),
        sleeper=clock.sleep,
        clocker=clock.clock,
        **context,
    )
    return module.run(ctx, params)


def argv_of(conn: FakeConnection, program: str) -> list[list[str]]:
    """The argument vectors of every command starting with `program` (as the host parses)."""
    return [shlex.split(text) for text in conn.commands if shlex.split(text)[:1] == [program]]


def ran(conn: FakeConnection, *programs: str) -> list[str]:
    """Commands whose program (argv[0], after an `env K=V` prefix) is one of `programs`."""
    found = []
    for text in conn.commands:
        argv = shlex.split(text)
        while argv and (argv[0] == "env" or "=" in argv[0]):
            argv = argv[1:]
        if argv and argv[0] in programs:
            found.append(text)
    return found
