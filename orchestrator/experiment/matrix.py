"""A whole matrix: hosts and facts, cells, plan, lanes in parallel, one transaction per run.

Order of work: load and validate the spec; select hosts; gather facts (the kernel axis); refuse
hosts that cannot do the experiment (no Docker, no perf: "run invoke provision"); plan what is
left (resume skips runs already ok for this spec); then run each hardware lane in its own
thread. Ctrl-C stops every lane: the runs in flight are torn down on their hosts and recorded
`interrupted`, and the next `invoke matrix` redoes only those.

The parts: `preflight` (hosts, facts, readiness), `lanes` (threads, stages, stop, one run),
`recording` (a run's request and stored outcome), over the values in `context`.
"""

from __future__ import annotations

from orchestrator import __version__
from orchestrator.connection import connect as ssh_or_local
from orchestrator.db import repository
from orchestrator.db.session import open_database
from orchestrator.experiment import preflight
from orchestrator.experiment.cells import RunKey, expand, parse_cell_selector, select_cells
from orchestrator.experiment.context import (
    ConnectFn,
    MatrixOptions,
    MatrixResult,
    RunContext,
    Stop,
)
from orchestrator.experiment.graph_roots import check_graph_roots
from orchestrator.experiment.lanes import execute_plan
from orchestrator.experiment.lock import campaign_guard
from orchestrator.experiment.progress import MatrixProgress
from orchestrator.experiment.recording import database_full_is_disk_full
from orchestrator.experiment.schedule import plan
from orchestrator.experiment.spec import load_spec, spec_hash
from orchestrator.facts import gather_hosts


def run_matrix(
    options: MatrixOptions,
    progress_stream=None,
    *,
    connect: ConnectFn = ssh_or_local,
    gather: preflight.GatherFn = gather_hosts,
) -> MatrixResult:
    """Run (or with `dry_run`, plan) a matrix; see the module docstring for the order.

    Args:
        connect: how hosts are reached (default: SSH, or local for `ansible_connection: local`).
        gather: how their facts are gathered (default `orchestrator.facts.gather_hosts`).
    """
    spec = load_spec(options.spec_path)
    # Every argument is checked before a host is contacted.
    selector = parse_cell_selector(options.cell) if options.cell else None
    # The campaign is the spec as written: `rerun --repetitions` runs part of it again.
    campaign_hash = spec_hash(spec)
    if options.repetitions is not None:
        spec = preflight.with_repetitions(spec, options.repetitions)
    hosts = preflight.select_hosts(options)
    lab = preflight.gather(hosts, spec, gather)
    check_graph_roots(lab, spec, connect)
    running = [(item.host, item.running) for item in lab]
    cells = expand(spec, running)
    if selector is not None:
        cells = select_cells(cells, selector)
    if options.dry_run:
        print(plan(spec, cells, set(), running).render())
        return MatrixResult(spec.name, {})
    names = [item.host.name for item in lab]
    with (
        database_full_is_disk_full(),
        open_database() as db,
        campaign_guard(db, options.results, spec.name, campaign_hash, names),
    ):
        campaign = repository.get_or_create_campaign(
            db,
            spec.name,
            options.spec_path.read_text(),
            campaign_hash,
            __version__,
            preflight.source_commit(),
        )
        repository.mark_stale_runs_interrupted(db, campaign, names)
        if options.cell:
            for cell in cells:
                repository.supersede_cell_runs(db, campaign, cell.key)
        done = (
            {RunKey(key, rep) for key, rep in repository.completed_runs(db, campaign)}
            if options.resume and not options.cell
            else set()
        )
        the_plan = plan(spec, cells, done, running)
        with MatrixProgress(the_plan.todo, stream=progress_stream) as progress:
            progress.log(
                f"campaign {spec.name}: {the_plan.todo} runs to do, {the_plan.done} already done"
            )
            snapshots = {
                item.host.name: repository.record_host_snapshot(db, item.host.name, item.facts)
                for item in lab
            }
            context = RunContext(
                db,
                campaign,
                spec,
                options,
                progress,
                Stop(),
                {item.host.name: item for item in lab},
                snapshots,
                connect,
            )
            return execute_plan(context, the_plan)
