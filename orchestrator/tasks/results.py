"""`results.*`: what the database holds, for tables and figures.

Every flag is checked before the database is opened: a bad value is one line and exit 2,
whatever the database holds (see `_cli`).
"""

from __future__ import annotations

from invoke import task

from orchestrator.flags import choice_flag, count_flag, factor_flag, share_flag
from orchestrator.tasks._cli import user_errors

_DIFF_FORMATS = ("table", "json")

# The queries load SQLAlchemy: imported inside each task, so other tasks start fast.


@task(
    help={
        "campaign": "campaign name (default: every campaign)",
        "format": "table, json or csv (json and csv always have every column)",
        "wide": "every column at full width; the table otherwise keeps the columns that fit "
        "the terminal (COLUMNS, else 80) and names the ones it left out",
    }
)
@user_errors
def runs(c, campaign=None, format="table", wide=False):
    """One row per run: cell, host, kernel, status, throughput, trace events, error."""
    from orchestrator.reports import queries
    from orchestrator.reports.rows import FORMATS
    from orchestrator.reports.runs_table import print_runs

    choice_flag("--format", format, FORMATS)
    print_runs(queries.runs(campaign), format, wide=wide)


@task(
    help={
        "mode": "the mode to compare, e.g. bridge",
        "baseline": "the mode to compare against (default: loopback; with --baseline-kernel, "
        "the same mode)",
        "host": "only runs on this host",
        "campaign": "campaign name (default: the newest)",
        "format": "table or json",
        "factor": "a shared function is 'changed' when its share moves by more than this "
        "(default 2) and beyond the runs' spread",
        "presence": "an added function is in at least this share of the target's runs "
        "(default 1.0: every run)",
        "all": "the raw view: every run pooled, no repetition test",
        "kernel": "only runs on kernels this matches (a release or a pattern, as "
        "results.runs shows them); with --baseline-kernel, the target's alone",
        "baseline_kernel": "only the baseline's runs on kernels this matches (default: --kernel)",
    }
)
@user_errors
def diff(
    c,
    mode,
    baseline=None,
    host=None,
    campaign=None,
    format="table",
    factor=None,
    presence=None,
    all=False,
    kernel=None,
    baseline_kernel=None,
):
    """Kernel functions a mode adds or drops against a baseline, where repetitions agree."""
    from orchestrator.reports import diff as stored

    choice_flag("--format", format, _DIFF_FORMATS)
    factor = factor_flag("--factor", factor, default=2.0)
    presence = share_flag("--presence", presence, default=1.0)
    sides = stored.load_sides(campaign, host, mode, baseline, kernel, baseline_kernel)
    stored.print_stored_diff(*sides, format, raw=all, presence=presence, factor=factor)


@task(
    help={
        "campaign": "campaign name (default: the newest)",
        "metric": "mbps, mbps_traced, msgs, p99, probe (traced / plain throughput) or "
        "ftrace_probe (ftrace pass / plain throughput)",
        "rows": "axis on the rows: mode, size, proto, host or kernel (default: mode)",
        "cols": "axis on the columns (default: size)",
        "by": "one table per value of this axis, e.g. kernel or host",
        "baseline": "also show each cell's ratio to this mode's, e.g. loopback",
        "format": "table, markdown, csv or latex",
    }
)
@user_errors
def table(
    c,
    campaign=None,
    metric="mbps",
    rows="mode",
    cols="size",
    by=None,
    baseline=None,
    format="table",
):
    """Mean ± 95% CI and n per cell of the latest ok runs, with ratios to a baseline."""
    import sys

    from orchestrator.reports import queries
    from orchestrator.reports.table_formats import FORMATS, render_table
    from orchestrator.reports.tables import TableSpec, build_table, check_spec

    choice_flag("--format", format, FORMATS)
    spec = TableSpec(metric, rows, cols, by, baseline)
    check_spec(spec)
    data = queries.load_campaign(campaign, functions=False)
    sys.stdout.write(render_table(build_table(data.info.name, data.runs, spec), format))


@task(
    help={
        "kind": "throughput, overhead (against the baseline), functions (heatmap) or probe",
        "out": "the figure file: .png, .pdf or .svg",
        "campaign": "campaign name (default: the newest)",
        "metric": "for throughput and overhead: mbps, mbps_traced, msgs or p99",
        "baseline": "the mode to compare against (default: the spec's baseline)",
        "top": "for functions: how many added functions per mode at most (default 12)",
    }
)
@user_errors
def plot(c, kind, out, campaign=None, metric="mbps", baseline=None, top=None):
    """Draw a figure of the campaign: throughput, overhead, functions or probe."""
    from pathlib import Path

    from orchestrator.reports import queries
    from orchestrator.reports.figures import KINDS, TOP_FUNCTIONS, make_figure
    from orchestrator.reports.plots import save_figure
    from orchestrator.reports.tables import METRICS

    choice_flag("--kind", kind, KINDS)
    choice_flag("--metric", metric, METRICS)
    top = count_flag("--top", top, default=TOP_FUNCTIONS)
    data = queries.load_campaign(campaign, functions=kind == "functions")
    figure = make_figure(data, kind, metric=metric, baseline=baseline, top=top)
    print(save_figure(figure, Path(out)))


@task(
    help={
        "mode": "the mode, e.g. bridge",
        "top": "how many functions per kernel (default 20)",
        "campaign": "campaign name (default: the newest)",
        "format": "table, json or csv",
    }
)
@user_errors
def functions(c, mode, top=None, campaign=None, format="table"):
    """The top kernel functions in a mode's stacks, with their share, per kernel."""
    from orchestrator.reports import queries
    from orchestrator.reports.functions import top_functions
    from orchestrator.reports.rows import FORMATS, print_rows

    choice_flag("--format", format, FORMATS)
    top = count_flag("--top", top, default=20)
    data = queries.load_campaign(campaign)
    print_rows(top_functions(data.functions, mode, top), format, title=f"{mode}: functions")


@task(
    help={
        "query": 'one SQL statement, e.g. "SELECT mode, count(*) FROM cell GROUP BY mode"',
        "format": "table, json or csv",
    }
)
@user_errors
def sql(c, query, format="table"):
    """Run SQL on the results database opened read-only (docs/results.md has queries)."""
    from orchestrator.reports import queries
    from orchestrator.reports.rows import FORMATS, print_rows

    choice_flag("--format", format, FORMATS)
    result = queries.sql(query)
    print_rows(result.rows, format, columns=result.columns)


@task(
    help={
        "out": "a new (or empty) directory",
        "campaign": "campaign name (default: the newest)",
        "results": "the results directory with the artifacts (default: $NETMATRIX_RESULTS "
        "or results)",
    }
)
@user_errors
def export(c, out, campaign=None, results=None):
    """Write a campaign as CSV, spec, hosts, artifacts, database and SHA256SUMS."""
    from pathlib import Path

    from orchestrator.experiment.context import RESULTS_DIR
    from orchestrator.reports.export import export_campaign

    files = export_campaign(campaign, Path(out), Path(results) if results else RESULTS_DIR)
    print(f"{out}: {len(files)} files, checksums in SHA256SUMS")


@task(
    name="import",
    help={
        "path": "a netmatrix database file, or a directory holding netmatrix.db",
        "keep_both": "import a campaign whose spec differs from one of the same name here "
        "as a second campaign of that name",
        "results": "where the artifacts go (default: $NETMATRIX_RESULTS or results)",
    },
)
@user_errors
def import_(c, path, keep_both=False, results=None):
    """Merge another netmatrix database into this one; importing twice adds nothing."""
    from pathlib import Path

    from orchestrator.errors import NetmatrixError
    from orchestrator.experiment.context import RESULTS_DIR
    from orchestrator.reports.merge import import_database

    report = import_database(
        Path(path), Path(results) if results else RESULTS_DIR, keep_both=keep_both
    )
    print("\n".join(report.lines()))
    if report.conflicts:
        raise NetmatrixError(
            f"{len(report.conflicts)} conflict(s), listed above, kept out of this database"
        )


@task(
    help={
        "out": "the page to write, e.g. report.html",
        "campaign": "campaign name (default: the newest)",
        "baseline": "the mode to compare against (default: the spec's baseline)",
    }
)
@user_errors
def report(c, out, campaign=None, baseline=None):
    """One static HTML page: spec, provenance, tables, figures, function diffs."""
    from pathlib import Path

    from orchestrator.reports import queries
    from orchestrator.reports.html import write_report

    print(write_report(queries.load_campaign(campaign), Path(out), baseline))


@task(
    help={
        "function": "a function the spec graphed (trace.ftrace.graph_functions), "
        "e.g. br_dev_queue_push_xmit",
        "stat": "each run's figure: mean, p50, p90, p99 (durations, µs) or calls",
        "rows": "axis on the rows: mode, size, proto, host or kernel (default: mode)",
        "cols": "axis on the columns (default: kernel)",
        "by": "one table per value of this axis",
        "campaign": "campaign name (default: the newest)",
        "format": "table, markdown, csv or latex",
        "plot": "also draw each run's p50, p90 and p99 per mode and kernel: a .png, .pdf or .svg",
    }
)
@user_errors
def latency(
    c,
    function,
    stat="mean",
    rows="mode",
    cols="kernel",
    by=None,
    campaign=None,
    format="table",
    plot=None,
):
    """A graphed function's ftrace durations per cell: mean ± 95% CI across repetitions."""
    import sys
    from pathlib import Path

    from orchestrator.reports.latency import STATISTICS, latency_table, load_latency, spec_for
    from orchestrator.reports.latency_plot import latency_figure
    from orchestrator.reports.plots import FORMATS as FIGURE_FORMATS
    from orchestrator.reports.plots import save_figure
    from orchestrator.reports.table_formats import FORMATS, render_table
    from orchestrator.reports.tables import check_spec

    choice_flag("--stat", stat, STATISTICS)
    choice_flag("--format", format, FORMATS)
    if plot is not None:
        choice_flag("--plot's suffix", Path(plot).suffix.lstrip("."), FIGURE_FORMATS)
    spec = spec_for(rows, cols, by)
    check_spec(spec)
    data = load_latency(function, campaign)
    sys.stdout.write(render_table(latency_table(data, spec, stat), format))
    if plot is not None:
        print(save_figure(latency_figure(data), Path(plot)))
