"""`invoke demo` (what `make demo` runs): the whole path on the embedded default lab."""

from __future__ import annotations

from pathlib import Path

from invoke import task

from orchestrator.tasks._cli import user_errors


@task(help={"figures": "where the demo's figure goes (default: figures/)"})
@user_errors
def demo(c, figures="figures"):
    """Bring up lab1+lab2 (Docker), provision, run the demo matrix, print tables and a diff."""
    from orchestrator.demo import run_demo

    run_demo(Path(figures))
