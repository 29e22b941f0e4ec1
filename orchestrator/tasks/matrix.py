"""`invoke matrix` and `invoke rerun`: run the experiment matrix, or one cell of it again."""

from __future__ import annotations

from pathlib import Path

from invoke import Exit, task

from orchestrator.flags import count_flag
from orchestrator.tasks._cli import user_errors

_HELP = {
    "hosts": "host pattern: lab1,lab2, a group, all, lab*, all:!controller",
    "spec": "matrix spec (YAML)",
    "inventory": "inventory file (YAML or INI)",
    "keep_script": "also fetch the compressed perf script text of traced runs",
}


def _run(**options) -> None:
    """Run the matrix (imported here: it loads SQLAlchemy, Fabric and Docker's SDK)."""
    from orchestrator.experiment.matrix import MatrixOptions, run_matrix

    result = run_matrix(MatrixOptions(**options))
    if result.interrupted:
        raise Exit("interrupted: run the same command again to finish what is missing", code=130)


@task(
    help={
        **_HELP,
        "no_resume": "run every run again, even those already ok for this spec",
        "dry_run": "print the plan (cells, runs, estimated time) and touch nothing",
    }
)
@user_errors
def matrix(
    c,
    hosts="all",
    spec="playbooks/matrix.yml",
    inventory="inventories/lab.yml",
    no_resume=False,
    dry_run=False,
    keep_script=False,
):
    """Run the experiment matrix on the selected hosts (resumes by default)."""
    _run(
        spec_path=Path(spec),
        hosts=hosts,
        inventory=Path(inventory),
        resume=not no_resume,
        dry_run=dry_run,
        keep_script=keep_script,
    )


@task(
    help={
        **_HELP,
        "cell": "cells to run again, e.g. mode=bridge,size=1400 (keys: mode size proto host "
        "kernel)",
        "repetitions": "how many repetitions (default: the spec's)",
    }
)
@user_errors
def rerun(
    c,
    cell,
    hosts="all",
    spec="playbooks/matrix.yml",
    inventory="inventories/lab.yml",
    repetitions=None,
    keep_script=False,
):
    """Run cells again; their earlier runs stay in the database, marked superseded."""
    _run(
        spec_path=Path(spec),
        hosts=hosts,
        inventory=Path(inventory),
        cell=cell,
        repetitions=None if repetitions is None else count_flag("--repetitions", repetitions, 0),
        keep_script=keep_script,
    )
