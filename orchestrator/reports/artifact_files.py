"""Copying runs' artifact files between results directories, checked against their sha256.

An export copies a campaign's files next to its data; an import copies the files of the runs
it adds. Either way the database's checksum is the truth: a file that is missing or differs
is reported, never copied as if it were the one measured. Paths come from a database that may
be someone else's, so a path that is absolute or climbs out of the directory (`..`) is
refused rather than followed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from orchestrator.connection.transfer import sha256_file
from orchestrator.db.repository import ArtifactEntry


@dataclass(frozen=True)
class CopyResult:
    """Files copied, files already in place with the right checksum, and problems by path."""

    copied: int
    present: int
    problems: tuple[str, ...]


def safe_relative(path: str) -> PurePosixPath | None:
    """The artifact path if it stays inside its directory, else None."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return None
    return relative


def check_artifacts(entries: Iterable[ArtifactEntry], source: Path) -> list[str]:
    """What is wrong with the files of `entries` under `source`: missing, changed, unsafe."""
    problems = []
    for _, path, sha256, _ in entries:
        relative = safe_relative(path)
        if relative is None:
            problems.append(f"{path}: refused, the path leaves the results directory")
        elif not (source / relative).is_file():
            problems.append(f"{path}: missing under {source}")
        elif sha256_file(source / relative)[0] != sha256:
            problems.append(f"{path}: its sha256 differs from the database's")
    return problems


def copy_artifacts(entries: Iterable[ArtifactEntry], source: Path, target: Path) -> CopyResult:
    """Copy each file from `source` to the same relative path under `target`, verified."""
    copied = present = 0
    problems: list[str] = []
    for entry in entries:
        _, path, sha256, _ = entry
        wrong = check_artifacts([entry], source)
        if wrong:
            problems += wrong
            continue
        destination = target / path
        if destination.is_file():
            if sha256_file(destination)[0] == sha256:
                present += 1
            else:
                problems.append(f"{path}: a different file of that name is already in {target}")
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        shutil.copyfile(source / path, partial)
        partial.replace(destination)
        copied += 1
    return CopyResult(copied, present, tuple(problems))
