"""A whole matrix: hosts and facts, cells, plan, lanes in parallel, one transaction per run.

Order of work: load and validate the spec; select hosts; gather facts (the kernel axis); refuse
hosts that cannot do the experiment (no Docker, no perf: "run invoke provision"); plan what is
left (resume skips runs already ok for this spec); then run each hardware lane in its own
thread. Ctrl-C stops every lane: the runs in flight are torn down on their hosts and recorded
`interrupted`, and the next `invoke matrix` redoes only those.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from orchestrator import __version__
from orchestrator.artifacts import run_dir
from orchestrator.connection import Connection, UnreachableError, connect
from orchestrator.db import ftrace_store, repository
from orchestrator.db.models import RunStatus
from orchestrator.db.session import Database, open_database
from orchestrator.errors import DiskFull, NetmatrixError
from orchestrator.experiment import modes, run
from orchestrator.experiment.cells import (
    Cell,
    PlannedRun,
    RunKey,
    expand,
    parse_cell_selector,
    select_cells,
)
from orchestrator.experiment.hosttools import install_host_files
from orchestrator.experiment.kernel_stage import restore_default, switch_host
from orchestrator.experiment.lock import campaign_guard
from orchestrator.experiment.progress import MatrixProgress
from orchestrator.experiment.schedule import Lane, Plan, Stage, plan
from orchestrator.experiment.spec import Spec, load_spec, spec_hash
from orchestrator.experiment.traffic_image import require_traffic_image
from orchestrator.facts import gather_hosts
from orchestrator.host import Host
from orchestrator.inventory import load_inventory

log = logging.getLogger(__name__)

RESULTS_DIR = Path(os.environ.get("NETMATRIX_RESULTS", "results"))

_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class MatrixOptions:
    """What `invoke matrix` and `invoke rerun` were asked to do."""

    spec_path: Path
    hosts: str
    inventory: Path = Path("inventories/lab.yml")
    resume: bool = True
    dry_run: bool = False
    cell: str | None = None
    repetitions: int | None = None
    keep_script: bool = False
    results: Path = RESULTS_DIR


@dataclass(frozen=True)
class MatrixResult:
    """How a matrix ended: the campaign and the number of runs per status."""

    campaign: str
    counts: dict[str, int]
    interrupted: bool = False


@dataclass(frozen=True)
class LabHost:
    """A selected host with what the matrix learned about it: its facts and the kernel it
    ran when the matrix began (after a kernel switch, `facts` are those under the new one)."""

    host: Host
    facts: dict[str, Any]
    running: str


def run_matrix(options: MatrixOptions, progress_stream=None) -> MatrixResult:
    """Run (or with `dry_run`, plan) a matrix; see the module docstring for the order."""
    spec = load_spec(options.spec_path)
    # Every argument is checked before a host is contacted.
    selector = parse_cell_selector(options.cell) if options.cell else None
    # The campaign is the spec as written: `rerun --repetitions` runs part of it again.
    campaign_hash = spec_hash(spec)
    if options.repetitions is not None:
        spec = _with_repetitions(spec, options.repetitions)
    hosts = _select_hosts(options)
    lab = _gather(hosts, spec)
    running = [(item.host, item.running) for item in lab]
    cells = expand(spec, running)
    if selector is not None:
        cells = select_cells(cells, selector)
    if options.dry_run:
        print(plan(spec, cells, set(), running).render())
        return MatrixResult(spec.name, {})
    names = [item.host.name for item in lab]
    with (
        _database_full_is_disk_full(),
        open_database() as db,
        campaign_guard(db, options.results, spec.name, campaign_hash, names),
    ):
        campaign = repository.get_or_create_campaign(
            db, spec.name, options.spec_path.read_text(), campaign_hash, __version__, _commit()
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
        return _execute(db, campaign, spec, the_plan, lab, options, progress_stream)


def _with_repetitions(spec: Spec, repetitions: int) -> Spec:
    if not 1 <= repetitions <= 1000:
        raise NetmatrixError(f"--repetitions: {repetitions} is out of range (1..1000)")
    return replace(spec, repetitions=repetitions)


def _select_hosts(options: MatrixOptions) -> list[Host]:
    if not options.inventory.exists():
        raise NetmatrixError(
            f"{options.inventory}: no such inventory; bring a lab up with invoke lab.up "
            "or pass --inventory"
        )
    hosts = load_inventory(options.inventory).select(options.hosts or "all")
    for host in hosts:
        _check_host(options.inventory, host)
    return hosts


def _check_host(inventory: Path, host: Host) -> None:
    """Refuse, before any host is contacted, a host the matrix cannot use safely.

    Host names become cell keys, directory names and report labels, so they keep to the
    characters of a file name (Ansible allows more; `invoke inventory` still shows them).
    """
    if not _HOST_NAME.fullmatch(host.name):
        raise NetmatrixError(
            f"{inventory}: host {host.name!r}: a matrix host name may hold only letters, "
            "digits, '.', '_' and '-'"
        )
    try:
        host.port  # noqa: B018  (the property validates ansible_port)
    except NetmatrixError as error:
        raise NetmatrixError(f"{inventory}: {error}") from None


def _gather(hosts: Sequence[Host], spec: Spec) -> list[LabHost]:
    """Facts of every host, refusing those that cannot run this spec (one line each)."""
    answers = gather_hosts(hosts)
    problems = []
    lab = []
    for host in hosts:
        answer = answers[host.name]
        if isinstance(answer, NetmatrixError):
            problems.append(f"{host.name}: {answer}")
            continue
        facts = answer.as_dict()
        problems += _readiness_problems(host, facts, spec)
        lab.append(LabHost(host, facts, facts["kernel_release"] or "?"))
    if problems:
        raise NetmatrixError("; ".join(problems))
    return lab


def _readiness_problems(host: Host, facts: dict[str, Any], spec: Spec) -> list[str]:
    missing = []
    containers = any(modes.driver_for(mode).containers for mode in spec.axes.mode)
    if containers and not facts.get("docker_version"):
        missing.append("docker")
    if "traced" in spec.phases and not facts.get("perf_version"):
        missing.append("perf")
    if "traced" in spec.phases and not (facts.get("tracefs") or {}).get("mounted"):
        missing.append("tracefs")
    if not missing:
        return []
    return [f"{host.name}: {', '.join(missing)} missing: run invoke provision --hosts {host.name}"]


def _commit() -> str | None:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parents[2],
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.strip() or None


class RunInterrupted(NetmatrixError):
    """Raised at a run's next step once the user pressed Ctrl-C."""


class _Stop:
    """Shared between lanes: set on Ctrl-C (in-flight runs are then interrupted) or when the
    controller's disk fills (`halted` says why; runs in flight finish as they can)."""

    def __init__(self) -> None:
        self.interrupted = False
        self.halted: DiskFull | None = None
        self.active: dict[str, run.RunRequest] = {}
        self.lock = threading.Lock()

    @property
    def stopped(self) -> bool:
        return self.interrupted or self.halted is not None

    def interrupt(self) -> None:
        self.interrupted = True

    def halt(self, reason: DiskFull) -> None:
        with self.lock:
            self.halted = self.halted or reason


def _execute(
    db: Database,
    campaign: repository.CampaignRef,
    spec: Spec,
    the_plan: Plan,
    lab: Sequence[LabHost],
    options: MatrixOptions,
    progress_stream,
) -> MatrixResult:
    by_name = {item.host.name: item for item in lab}
    stop = _Stop()
    with MatrixProgress(the_plan.todo, stream=progress_stream) as progress:
        progress.log(
            f"campaign {spec.name}: {the_plan.todo} runs to do, {the_plan.done} already done"
        )
        snapshots = {
            item.host.name: repository.record_host_snapshot(db, item.host.name, item.facts)
            for item in lab
        }

        def lane_worker(lane: Lane) -> None:
            _run_lane(db, campaign, spec, lane, by_name, snapshots, options, progress, stop)

        pool = ThreadPoolExecutor(max_workers=max(1, len(the_plan.lanes)))
        futures = [pool.submit(lane_worker, lane) for lane in the_plan.lanes]
        try:
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            progress.log("interrupted: tearing down the runs in flight")
            stop.interrupt()
            _interrupt_active(stop, by_name)
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


@contextlib.contextmanager
def _database_full_is_disk_full() -> Iterator[None]:
    """SQLite's "database or disk is full" as the `DiskFull` it is."""
    try:
        yield
    except OperationalError as error:
        if "full" not in str(error.orig):
            raise
        raise DiskFull(f"cannot write the results database: {error.orig}") from None


def _interrupt_active(stop: _Stop, by_name: dict[str, LabHost]) -> None:
    """Tear down in-flight runs from the main thread, which ends their remote commands."""
    with stop.lock:
        active = dict(stop.active)
    for host_name, request in active.items():
        try:
            conn = connect(by_name[host_name].host, retries=1)
        except NetmatrixError:
            continue
        try:
            run.teardown(conn, request)
        finally:
            conn.close()


def _run_lane(
    db: Database,
    campaign: repository.CampaignRef,
    spec: Spec,
    lane: Lane,
    by_name: dict[str, LabHost],
    snapshots: dict[str, repository.SnapshotRef],
    options: MatrixOptions,
    progress: MatrixProgress,
    stop: _Stop,
) -> None:
    """The stages of one lane, one after another; each run in its own transaction.

    Before a stage that needs another kernel its host is switched and looked at again (a
    new snapshot); a failed switch fails that stage's runs with the reason, and the lane goes
    on. At the end, hosts that switched are rebooted into their default kernel.
    """
    connections: dict[str, Connection] = {}
    unreachable: dict[str, str] = {}
    try:
        for stage in lane.stages:
            if stop.stopped:
                return
            skip = unreachable  # hosts whose runs fail without being tried, and why
            if stage.switch is not None and stage.switch.host not in unreachable:
                try:
                    failure = _switch(db, spec, stage, by_name, snapshots, progress, connections)
                except UnreachableError as error:
                    unreachable[stage.switch.host] = failure = f"unreachable: {error}"
                if failure:
                    # A switch stage holds its host's runs only: the copy covers them all.
                    skip = {**unreachable, stage.switch.host: failure}
            for planned in stage.runs:
                if stop.stopped:
                    return
                host = by_name[planned.cell.host]
                with _database_full_is_disk_full():
                    _one_run(
                        db,
                        campaign,
                        spec,
                        planned,
                        host,
                        snapshots,
                        options,
                        progress,
                        stop,
                        connections,
                        skip,
                    )
    except DiskFull as error:
        # SQLite rolled the transaction back: the run stays `running`, which the next
        # matrix turns into `interrupted` and runs again.
        stop.halt(error)
    finally:
        if not stop.stopped:
            _restore_defaults(lane, by_name, progress, connections, unreachable)
        for conn in connections.values():
            conn.close()


def _switch(
    db: Database,
    spec: Spec,
    stage: Stage,
    by_name: dict[str, LabHost],
    snapshots: dict[str, repository.SnapshotRef],
    progress: MatrixProgress,
    connections: dict[str, Connection],
) -> str | None:
    """Switch the stage's host to its kernel; None when done, else why the stage fails.

    Raises:
        UnreachableError: the host could not be reached to start the switch.
    """
    switch = stage.switch
    assert switch is not None
    lab_host = by_name[switch.host]
    progress.log(
        f"{switch.host}: switching to kernel {switch.kernel} ({switch.package}): "
        f"grub-reboot, reboot, verify uname -r"
    )
    try:
        switched = switch_host(lab_host.host, switch, connections.pop(switch.host, None), connect)
    except UnreachableError:
        raise
    except NetmatrixError as error:
        return f"kernel {switch.kernel}: {error}"
    # Runs connect afresh after a reboot: sweep and host files again, as on a new host.
    switched.conn.close()
    problems = _readiness_problems(lab_host.host, switched.facts, spec)
    by_name[switch.host] = replace(lab_host, facts=switched.facts)
    snapshots[switch.host] = repository.record_host_snapshot(db, switch.host, switched.facts)
    progress.log(f"{switch.host}: running kernel {switched.facts['kernel_release']}")
    return f"kernel {switch.kernel}: {'; '.join(problems)}" if problems else None


def _restore_defaults(
    lane: Lane,
    by_name: dict[str, LabHost],
    progress: MatrixProgress,
    connections: dict[str, Connection],
    unreachable: dict[str, str],
) -> None:
    for name in lane.restores:
        if name in unreachable:
            continue
        progress.log(f"{name}: rebooting back to its default kernel")
        warning = restore_default(
            by_name[name].host, by_name[name].running, connections.pop(name, None), connect
        )
        progress.log(warning or f"{name}: back on kernel {by_name[name].running}")


def _one_run(
    db: Database,
    campaign: repository.CampaignRef,
    spec: Spec,
    planned: PlannedRun,
    host: LabHost,
    snapshots: dict[str, repository.SnapshotRef],
    options: MatrixOptions,
    progress: MatrixProgress,
    stop: _Stop,
    connections: dict[str, Connection],
    unreachable: dict[str, str],
) -> None:
    cell = planned.cell
    name = host.host.name
    cell_ref = repository.get_or_create_cell(
        db, campaign, cell.key, cell.mode, cell.size, cell.proto, cell.host, cell.kernel
    )
    run_id = repository.start_run(db, cell_ref, planned.repetition, snapshots[name])
    request = _request(spec, cell, planned.repetition, run_id, host, options, campaign)

    def say(phase: str) -> None:
        # After Ctrl-C a run goes no further than the step it is in: the main thread has
        # torn it down already, and a step started now (perf record…) would outlive it.
        if stop.interrupted and phase != "teardown":
            raise RunInterrupted("interrupted by the user (Ctrl-C)")
        progress.phase(name, cell.key, planned.repetition, phase)

    with stop.lock:
        stop.active[name] = request
    try:
        if name in unreachable:
            outcome = run.RunOutcome("failed", error=unreachable[name])
        else:
            outcome = _attempt(host, request, connections, say)
    except UnreachableError as error:
        unreachable[name] = f"unreachable: {error}"
        connections.pop(name, None)
        outcome = run.RunOutcome("failed", error=unreachable[name])
    except DiskFull as error:
        stop.halt(error)
        outcome = run.RunOutcome("failed", error=str(error))
    except NetmatrixError as error:
        outcome = run.RunOutcome("failed", error=str(error))
    except Exception as error:  # a bug must not cost the rest of an overnight matrix
        log.exception("run %s rep %s on %s", cell.key, planned.repetition, name)
        outcome = run.RunOutcome("failed", error=f"internal error: {error!r}")
    finally:
        with stop.lock:
            stop.active.pop(name, None)
    if stop.interrupted and outcome.status != "ok":
        outcome = run.RunOutcome("interrupted", error="interrupted by the user (Ctrl-C)")
    _store(db, run_id, outcome, options.results)
    progress.finished(name, cell.key, planned.repetition, outcome.status, outcome.error)


def _attempt(
    host: LabHost,
    request: run.RunRequest,
    connections: dict[str, Connection],
    say: Callable[[str], None],
) -> run.RunOutcome:
    conn = connections.get(host.host.name)
    if conn is None:
        conn = connect(host.host)
        try:
            run.sweep(conn)
            install_host_files(conn)
        except BaseException:
            conn.close()  # not kept: the next run connects and installs again
            raise
        connections[host.host.name] = conn
    # Every container run, not just the first run of a connection (often a loopback one).
    if modes.driver_for(request.cell.mode).containers:
        require_traffic_image(conn)
    return run.execute(conn, request, say)


def _request(
    spec: Spec,
    cell: Cell,
    repetition: int,
    run_id: str,
    host: LabHost,
    options: MatrixOptions,
    campaign: repository.CampaignRef,
) -> run.RunRequest:
    variables = host.host.vars
    return run.RunRequest(
        spec=spec,
        cell=cell,
        repetition=repetition,
        tag=run_id.split("-")[0] + uuid.uuid4().hex[:4],
        facts=host.facts,
        artifact_dir=run_dir(options.results, campaign.name, cell.key, repetition) / run_id,
        lab_nic=variables.get("lab_nic") or host.facts.get("default_nic"),
        subnet=str(variables.get("netmatrix_macvlan_subnet", modes.DEFAULT_MACVLAN_SUBNET)),
        keep_script=options.keep_script,
    )


def _store(db: Database, run_id: str, outcome: run.RunOutcome, results: Path) -> None:
    artifacts = [
        (item.kind, os.path.relpath(item.path, results), item.sha256, item.bytes)
        for item in outcome.artifacts
    ]
    repository.finish_run(
        db,
        run_id,
        RunStatus(outcome.status),
        error=outcome.error,
        metrics=dict(outcome.metrics),
        event_counts=dict(outcome.event_counts),
        device_counts=dict(outcome.device_counts),
        function_counts=dict(outcome.function_counts),
        artifacts=artifacts,
    )
    ftrace_store.store_ftrace(db, run_id, outcome.ftrace)
