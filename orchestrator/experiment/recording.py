"""What a run leaves behind: its request, named after its database row, and its outcome
stored in one transaction; SQLite's "database or disk is full" is the `DiskFull` it is."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.exc import OperationalError

from orchestrator.artifacts import run_dir
from orchestrator.db import repository
from orchestrator.db.models import RunStatus
from orchestrator.db.session import Database
from orchestrator.errors import DiskFull
from orchestrator.experiment import modes, run
from orchestrator.experiment.cells import Cell
from orchestrator.experiment.context import LabHost, MatrixOptions
from orchestrator.experiment.spec import Spec


def run_request(
    spec: Spec,
    cell: Cell,
    repetition: int,
    run_id: str,
    host: LabHost,
    options: MatrixOptions,
    campaign: repository.CampaignRef,
) -> run.RunRequest:
    """The request of one run: its tag (unique per attempt, so a rerun never meets its
    leftovers), its artifact directory and the host's lab NIC and macvlan subnet."""
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


def store_outcome(db: Database, run_id: str, outcome: run.RunOutcome, results: Path) -> None:
    """The run's outcome, figures and artifacts (paths relative to `results`)."""
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
        ftrace=outcome.ftrace,
    )


@contextlib.contextmanager
def database_full_is_disk_full() -> Iterator[None]:
    """SQLite's "database or disk is full" as the `DiskFull` it is."""
    try:
        yield
    except OperationalError as error:
        if "full" not in str(error.orig):
            raise
        raise DiskFull(f"cannot write the results database: {error.orig}") from None
