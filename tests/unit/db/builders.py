"""Cells and finished runs in a few words, for the repository tests."""

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from orchestrator.analysis.ftrace_reduce import GraphedFunction
from orchestrator.db import repository
from orchestrator.db.models import FtraceFunction, Run, RunStatus
from orchestrator.db.repository import CampaignRef, CellRef, SnapshotRef
from orchestrator.db.repository.rows import insert_rows
from orchestrator.db.session import Database, open_database

KERNEL = "6.1.0-13-amd64"
FACTS: Mapping[str, Any] = {
    "kernel_release": KERNEL,
    "distro": {"id": "debian", "version_id": "12", "pretty_name": "Debian GNU/Linux 12"},
    "cpus": 2,
    "mem_mb": 1987,
    "docker_version": "20.10.24+dfsg1",
    "perf_version": "6.1.55",
    "tracers": ["function_graph", "nop"],
}
ARTIFACT = ("client", "artifacts/demo/cell/rep-1/client.json", "0" * 64, 120)


def add_cell(
    db: Database, campaign: CampaignRef, mode: str = "bridge", size: int = 1400, host: str = "lab1"
) -> CellRef:
    key = f"mode={mode},size={size},proto=tcp,host={host}"
    return repository.get_or_create_cell(db, campaign, key, mode, size, "tcp", host, KERNEL)


def finished_run(
    db: Database,
    cell: CellRef,
    repetition: int,
    snapshot: SnapshotRef,
    status: RunStatus = RunStatus.OK,
    **results: Any,
) -> str:
    """Start a run and finish it as `status`; an ok run gets one artifact unless told others."""
    run_id = repository.start_run(db, cell, repetition, snapshot)
    if status == RunStatus.OK:
        results.setdefault("artifacts", [ARTIFACT])
    repository.finish_run(db, run_id, status, **results)
    return run_id


def campaigns_made_at_once(url: str, writers: int = 8) -> tuple[list[CampaignRef], list[Exception]]:
    """`writers` netmatrix opening a new database at once and asking for the same campaign:
    the campaign each got, and what any of them raised."""
    start, ids, errors = threading.Barrier(writers), [], []

    def one() -> None:
        start.wait()
        try:
            with open_database(url) as db:
                ids.append(repository.get_or_create_campaign(db, "demo", "", "a" * 64, "0", None))
        except Exception as error:  # reported to the caller, with the others
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ids, errors


def add_ftrace(db: Database, run_id: str, functions: Sequence[GraphedFunction]) -> None:
    """ftrace rows for a run a fixture database already holds finished (a matrix stores a
    run's rows with `finish_run`, in one transaction with the rest)."""
    with db.transaction() as session:
        pk = session.scalar(select(Run.id).where(Run.global_id == run_id))
        rows = [{"run_id": pk, **item.as_dict()} for item in functions]
        insert_rows(session, FtraceFunction, rows)
