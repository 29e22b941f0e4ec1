"""`results.import PATH`: merge another netmatrix database (another workstation, another lab)
into this one, with the artifact files of the runs it adds.

PATH is a database file or a directory holding `netmatrix.db` (a results directory or a
`results.export`); artifact paths are relative to the directory the database is in. Runs
are matched by their global id, so importing twice adds nothing, and a run the other side
has since superseded is marked superseded here too. What cannot be merged without
changing the meaning of the data — a campaign of the same name with another spec, a cell
measured on another kernel under the same key — is reported and left out, never merged
silently. Each campaign is merged in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url

from orchestrator.db import repository
from orchestrator.db.session import database_url, open_database
from orchestrator.errors import NetmatrixError
from orchestrator.reports.artifact_files import CopyResult, copy_artifacts
from orchestrator.reports.export import DATABASE


@dataclass(frozen=True)
class MergeReport:
    """What an import did, per campaign, and what happened to the artifact files."""

    campaigns: tuple[repository.ImportResult, ...]
    files: CopyResult

    @property
    def conflicts(self) -> tuple[str, ...]:
        return tuple(line for result in self.campaigns for line in result.conflicts)

    def lines(self) -> list[str]:
        """The report as the task prints it."""
        out = [
            f"{result.campaign}: not imported (conflicting spec)"
            if result.campaign_conflict
            else f"{result.campaign}: {len(result.added)} run(s) added, {result.known} already "
            f"here, {result.superseded} newly superseded"
            for result in self.campaigns
        ]
        out.append(
            f"artifacts: {self.files.copied} copied, {self.files.present} already here, "
            f"{len(self.files.problems)} not copied"
        )
        out += [f"artifact not copied: {problem}" for problem in self.files.problems]
        out += [f"conflict: {line}" for line in self.conflicts]
        return out


def source_database(path: Path) -> Path:
    """The database file PATH names (the file, or `netmatrix.db` in the directory)."""
    found = path / DATABASE if path.is_dir() else path
    if not found.is_file():
        raise NetmatrixError(f"no netmatrix database at {found}")
    return found


def import_database(path: Path, results: Path, *, keep_both: bool = False) -> MergeReport:
    """Merge the database at PATH into this one (`NETMATRIX_DB`), files into `results`."""
    source = source_database(path)
    target = make_url(database_url())
    sqlite_file = target.get_backend_name() == "sqlite" and target.database
    if sqlite_file and Path(target.database).resolve() == source.resolve():
        raise NetmatrixError(f"{source} is this very database: nothing to import")
    results_done: list[repository.ImportResult] = []
    entries: list[repository.ArtifactEntry] = []
    with (
        open_database(f"sqlite:///{source.resolve()}", read_only=True) as other,
        open_database() as here,
    ):
        for campaign in repository.all_campaigns(other):
            dump = repository.dump_campaign(other, campaign)
            result = repository.import_campaign(here, dump, keep_both=keep_both)
            results_done.append(result)
            added = set(result.added)
            entries += [
                entry for run in dump.runs if run.global_id in added for entry in run.artifacts
            ]
    return MergeReport(tuple(results_done), copy_artifacts(entries, source.parent, results))
