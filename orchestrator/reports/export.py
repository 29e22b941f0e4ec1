"""`results.export`: a campaign as a directory to publish next to a paper.

```
DIR/campaign.json     name, spec hash, netmatrix version and commit, creation time
DIR/spec.yml          the spec exactly as it was run
DIR/hosts.json        every host snapshot the runs were measured with (all facts)
DIR/runs.csv          one line per run, superseded ones too (`superseded` says so)
DIR/metrics.csv       run_id, name, value, unit
DIR/function_counts.csv, event_counts.csv, device_counts.csv, artifacts.csv
DIR/ftrace_functions.csv  per run and graphed function: ftrace's status, calls and durations
DIR/artifacts/…       the runs' files, at the paths the database names
DIR/netmatrix.db      the same campaign as a netmatrix database (`results.import DIR`)
DIR/SHA256SUMS        sha256 of every other file, as `sha256sum -c SHA256SUMS` checks it
```

The directory has the layout of a results directory, so `results.import DIR` takes the data
and the files. Every artifact is checked against its recorded sha256 before anything is
written: an export never publishes a file that is not the one measured.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from orchestrator.connection.transfer import sha256_file
from orchestrator.db import repository
from orchestrator.db.session import open_database
from orchestrator.errors import NetmatrixError
from orchestrator.reports.artifact_files import check_artifacts, copy_artifacts

MANIFEST = "SHA256SUMS"
DATABASE = "netmatrix.db"
RUN_FIELDS = (
    "global_id",
    "cell",
    "mode",
    "size",
    "proto",
    "netem",
    "host",
    "kernel",
    "repetition",
    "status",
    "superseded",
    "superseded_by",
    "started_at",
    "finished_at",
    "error",
    "snapshot",
)


def export_campaign(campaign: str | None, out: Path, results: Path) -> list[Path]:
    """Write the campaign named (default: the newest) to `out`; returns the files written.

    Args:
        results: the results directory the database's artifact paths are relative to.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NetmatrixError(f"{out} exists and is not an empty directory: choose a new --out")
    with open_database(read_only=True) as db:
        dump = repository.dump_campaign(db, repository.find_campaign(db, campaign))
    artifacts = [entry for run in dump.runs for entry in run.artifacts]
    problems = check_artifacts(artifacts, results)
    if problems:
        raise NetmatrixError(
            f"{len(problems)} artifact(s) of campaign {dump.campaign.name} cannot be exported, "
            f"first: {problems[0]}"
        )
    out.mkdir(parents=True, exist_ok=True)
    _write_tables(dump, out)
    copy_artifacts(artifacts, results, out)
    with open_database(f"sqlite:///{(out / DATABASE).resolve()}") as exported:
        repository.import_campaign(exported, dump)
    files = sorted(path for path in out.rglob("*") if path.is_file())
    (out / MANIFEST).write_text(
        "".join(f"{sha256_file(path)[0]}  {path.relative_to(out).as_posix()}\n" for path in files)
    )
    return [*files, out / MANIFEST]


def _write_tables(dump: repository.CampaignDump, out: Path) -> None:
    info = dump.campaign
    (out / "spec.yml").write_text(info.spec_text)
    (out / "campaign.json").write_text(
        _json({**_fields(info, skip="spec_text"), "runs": len(dump.runs)})
    )
    (out / "hosts.json").write_text(
        _json(
            [
                {"snapshot": index, **_fields(item), "facts": dict(item.facts)}
                for index, item in enumerate(dump.snapshots)
            ]
        )
    )
    _csv(out / "runs.csv", RUN_FIELDS, ([getattr(run, f) for f in RUN_FIELDS] for run in dump.runs))
    _csv(
        out / "metrics.csv",
        ("run_id", "name", "value", "unit"),
        (
            (run.global_id, name, repr(value), unit)
            for run in dump.runs
            for name, (value, unit) in sorted(run.metrics.items())
        ),
    )
    for name, key, column in (
        ("function_counts", "function", "samples"),
        ("event_counts", "event", "count"),
        ("device_counts", "device", "count"),
    ):
        _csv(
            out / f"{name}.csv",
            ("run_id", key, column),
            (
                (run.global_id, item, number)
                for run in dump.runs
                for item, number in sorted(getattr(run, name).items())
            ),
        )
    _csv(
        out / "ftrace_functions.csv",
        ("run_id", *repository.FTRACE_COLUMNS),
        (
            (run.global_id, *(_cell_text(row[name]) for name in repository.FTRACE_COLUMNS))
            for run in dump.runs
            for row in run.ftrace
        ),
    )
    _csv(
        out / "artifacts.csv",
        ("run_id", "kind", "path", "sha256", "bytes"),
        ((run.global_id, *entry) for run in dump.runs for entry in run.artifacts),
    )


def _cell_text(value: Any) -> Any:
    """A CSV cell: lists (an ftrace row's top callees) as JSON, the rest as they are."""
    return json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value


def _csv(path: Path, header: Sequence[str], rows: Iterable[Iterable[Any]]) -> None:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if value is None else _text(value) for value in row] for row in rows)


def _fields(value: Any, skip: str = "") -> dict[str, Any]:
    """A dataclass's fields, shallow (its mappings are read-only views `asdict` cannot copy)."""
    return {field.name: getattr(value, field.name) for field in fields(value) if field.name != skip}


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=_text) + "\n"
