"""Running a plan: one thread per hardware lane, each lane's stages in order (a kernel switch
before a stage that needs one), its runs one at a time, each in its own transaction.

Ctrl-C stops every lane: the runs in flight are torn down on their hosts from the main thread
and recorded `interrupted`. A full controller disk halts the lanes after the runs in flight.
A host that stops answering fails its remaining runs in that lane, with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from orchestrator.connection import UnreachableError
from orchestrator.db import repository
from orchestrator.errors import DiskFull, NetmatrixError
from orchestrator.experiment import modes, run
from orchestrator.experiment.cells import PlannedRun
from orchestrator.experiment.context import LabHost, LaneHosts, MatrixResult, RunContext
from orchestrator.experiment.hosttools import install_host_files
from orchestrator.experiment.kernel_stage import restore_default, switch_host
from orchestrator.experiment.preflight import readiness_problems
from orchestrator.experiment.recording import (
    database_full_is_disk_full,
    run_request,
    store_outcome,
)
from orchestrator.experiment.schedule import Lane, Plan, Stage
from orchestrator.experiment.traffic_image import require_traffic_image
from orchestrator.outcome import Status

log = logging.getLogger(__name__)


class RunInterrupted(NetmatrixError):
    """Raised at a run's next step once the user pressed Ctrl-C."""


def execute_plan(context: RunContext, the_plan: Plan) -> MatrixResult:
    """Every lane of the plan in its own thread; how the matrix ended."""
    progress, stop, spec = context.progress, context.stop, context.spec
    pool = ThreadPoolExecutor(max_workers=max(1, len(the_plan.lanes)))
    futures = [pool.submit(run_lane, context, lane) for lane in the_plan.lanes]
    try:
        for future in futures:
            future.result()
    except KeyboardInterrupt:
        progress.log("interrupted: tearing down the runs in flight")
        stop.interrupt()
        _interrupt_active(context)
        pool.shutdown(wait=True)
        progress.log(progress.recap())
        return MatrixResult(spec.name, dict(progress.counts), interrupted=True)
    pool.shutdown(wait=True)
    progress.log(progress.recap())
    if stop.halted is not None:
        raise DiskFull(
            f"{stop.halted}: the matrix stopped; free space and run the same command again "
            "to finish what is missing"
        )
    return MatrixResult(spec.name, dict(progress.counts))


def _interrupt_active(context: RunContext) -> None:
    """Tear down in-flight runs from the main thread, which ends their remote commands."""
    with context.stop.lock:
        active = dict(context.stop.active)
    for host_name, request in active.items():
        try:
            conn = context.connect(context.hosts[host_name].host, retries=1)
        except NetmatrixError:
            continue
        try:
            run.teardown(conn, request)
        finally:
            conn.close()


def run_lane(context: RunContext, lane: Lane) -> None:
    """The stages of one lane, one after another; each run in its own transaction.

    Before a stage that needs another kernel its host is switched and looked at again (a
    new snapshot); a failed switch fails that stage's runs with the reason, and the lane goes
    on. At the end, hosts that switched are rebooted into their default kernel.
    """
    stop = context.stop
    hosts = LaneHosts()
    try:
        for stage in lane.stages:
            if stop.stopped:
                return
            skip = hosts.unreachable  # hosts whose runs fail without being tried, and why
            if stage.switch is not None and stage.switch.host not in hosts.unreachable:
                try:
                    failure = _switch(context, stage, hosts)
                except UnreachableError as error:
                    hosts.unreachable[stage.switch.host] = failure = f"unreachable: {error}"
                if failure:
                    # A switch stage holds its host's runs only: the copy covers them all.
                    skip = {**hosts.unreachable, stage.switch.host: failure}
            for planned in stage.runs:
                if stop.stopped:
                    return
                with database_full_is_disk_full():
                    _one_run(context, planned, hosts, skip)
    except DiskFull as error:
        # SQLite rolled the transaction back: the run stays `running`, which the next
        # matrix turns into `interrupted` and runs again.
        stop.halt(error)
    finally:
        if not stop.stopped:
            _restore_defaults(context, lane, hosts)
        for conn in hosts.connections.values():
            conn.close()


def _switch(context: RunContext, stage: Stage, hosts: LaneHosts) -> str | None:
    """Switch the stage's host to its kernel; None when done, else why the stage fails.

    Raises:
        UnreachableError: the host could not be reached to start the switch.
    """
    switch = stage.switch
    assert switch is not None
    lab_host = context.hosts[switch.host]
    context.progress.log(
        f"{switch.host}: switching to kernel {switch.kernel} ({switch.package}): "
        f"grub-reboot, reboot, verify uname -r"
    )
    previous = hosts.connections.pop(switch.host, None)
    try:
        switched = switch_host(lab_host.host, switch, previous, context.connect)
    except UnreachableError:
        raise
    except NetmatrixError as error:
        return f"kernel {switch.kernel}: {error}"
    # Runs connect afresh after a reboot: sweep and host files again, as on a new host.
    switched.conn.close()
    problems = readiness_problems(lab_host.host, switched.facts, context.spec)
    context.hosts[switch.host] = replace(lab_host, facts=switched.facts)
    context.snapshots[switch.host] = repository.record_host_snapshot(
        context.db, switch.host, switched.facts
    )
    context.progress.log(f"{switch.host}: running kernel {switched.facts['kernel_release']}")
    return f"kernel {switch.kernel}: {'; '.join(problems)}" if problems else None


def _restore_defaults(context: RunContext, lane: Lane, hosts: LaneHosts) -> None:
    for name in lane.restores:
        if name in hosts.unreachable:
            continue
        context.progress.log(f"{name}: rebooting back to its default kernel")
        host = context.hosts[name]
        warning = restore_default(
            host.host, host.running, hosts.connections.pop(name, None), context.connect
        )
        context.progress.log(warning or f"{name}: back on kernel {host.running}")


def _one_run(
    context: RunContext, planned: PlannedRun, hosts: LaneHosts, skip: dict[str, str]
) -> None:
    """One planned run, from its row to its stored outcome; `skip` names hosts whose runs
    fail untried (unreachable, or a failed kernel switch), with why."""
    db, stop, progress = context.db, context.stop, context.progress
    cell = planned.cell
    host = context.hosts[cell.host]
    name = host.host.name
    cell_ref = repository.get_or_create_cell(
        db,
        context.campaign,
        cell.key,
        cell.mode,
        cell.size,
        cell.proto,
        cell.host,
        cell.kernel,
        netem=cell.netem,
    )
    run_id = repository.start_run(db, cell_ref, planned.repetition, context.snapshots[name])
    request = run_request(
        context.spec, cell, planned.repetition, run_id, host, context.options, context.campaign
    )

    def say(phase: str) -> None:
        # After Ctrl-C a run goes no further than the step it is in: the main thread has
        # torn it down already, and a step started now (perf record…) would outlive it.
        if stop.interrupted and phase != "teardown":
            raise RunInterrupted("interrupted by the user (Ctrl-C)")
        progress.phase(name, cell.key, planned.repetition, phase)

    with stop.lock:
        stop.active[name] = request
    try:
        if name in skip:
            outcome = run.RunOutcome(Status.FAILED, error=skip[name])
        else:
            outcome = _attempt(context, host, request, hosts, say)
    except UnreachableError as error:
        skip[name] = hosts.unreachable[name] = f"unreachable: {error}"
        hosts.connections.pop(name, None)
        outcome = run.RunOutcome(Status.FAILED, error=skip[name])
    except DiskFull as error:
        stop.halt(error)
        outcome = run.RunOutcome(Status.FAILED, error=str(error))
    except NetmatrixError as error:
        outcome = run.RunOutcome(Status.FAILED, error=str(error))
    except Exception as error:  # a bug must not cost the rest of an overnight matrix
        log.exception("run %s rep %s on %s", cell.key, planned.repetition, name)
        outcome = run.RunOutcome(Status.FAILED, error=f"internal error: {error!r}")
    finally:
        with stop.lock:
            stop.active.pop(name, None)
    if stop.interrupted and outcome.status != Status.OK:
        outcome = run.RunOutcome(Status.INTERRUPTED, error="interrupted by the user (Ctrl-C)")
    store_outcome(db, run_id, outcome, context.options.results)
    progress.finished(name, cell.key, planned.repetition, outcome.status, outcome.error)


def _attempt(
    context: RunContext,
    host: LabHost,
    request: run.RunRequest,
    hosts: LaneHosts,
    say: Callable[[str], None],
) -> run.RunOutcome:
    conn = hosts.connections.get(host.host.name)
    if conn is None:
        conn = context.connect(host.host)
        try:
            run.sweep(conn)
            install_host_files(conn)
        except BaseException:
            conn.close()  # not kept: the next run connects and installs again
            raise
        hosts.connections[host.host.name] = conn
    # Every container run, not just the first run of a connection (often a loopback one).
    if modes.driver_for(request.cell.mode).containers:
        require_traffic_image(conn)
    return run.execute(conn, request, say)
