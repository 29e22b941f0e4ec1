"""`results.*`: what the database holds, for tables and figures."""

from __future__ import annotations

from invoke import task

from orchestrator.tasks._cli import user_errors

# The queries load SQLAlchemy: imported inside each task, so other tasks start fast.


@task(
    help={
        "campaign": "campaign name (default: every campaign)",
        "format": "table, json or csv",
    }
)
@user_errors
def runs(c, campaign=None, format="table"):
    """One row per run: cell, host, kernel, status, throughput, trace events, error."""
    from orchestrator.reports import queries
    from orchestrator.reports.rows import print_rows

    print_rows(queries.runs(campaign), format, title="runs", columns=queries.RUN_COLUMNS)


@task(
    help={
        "mode": "the mode to compare, e.g. bridge",
        "baseline": "the mode to compare against (default: loopback)",
        "host": "only runs on this host",
        "campaign": "campaign name (default: the newest)",
        "format": "table or json",
        "factor": "a shared function is 'changed' when its share moves by more than this",
    }
)
@user_errors
def diff(c, mode, baseline="loopback", host=None, campaign=None, format="table", factor=2.0):
    """Kernel functions a mode's stacks add over (or lack against) the baseline's."""
    from orchestrator.reports import queries

    queries.print_diff(queries.mode_diff(mode, baseline, host, campaign, float(factor)), format)
