"""Where a run's files live on the controller, and how they get there with their checksums.

Layout: `results/artifacts/<campaign>/<cell key>/rep-<n>/`. Every file is recorded with its
sha256 and size; a fetched file's checksum is verified on both ends by the connection, and a
local file's is computed after writing, so the database never lists a file it has not seen.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from orchestrator.connection import Connection, TransferError
from orchestrator.errors import NetmatrixError

_UNSAFE = re.compile(r"[^A-Za-z0-9_.=,-]")


@dataclass(frozen=True)
class Artifact:
    """A file a run left on the controller."""

    kind: str
    path: Path
    sha256: str
    bytes: int


def run_dir(results: Path, campaign: str, cell_key: str, repetition: int) -> Path:
    """The directory of one run's files (names made safe for any file system)."""
    return (
        results
        / "artifacts"
        / _UNSAFE.sub("_", campaign)
        / _UNSAFE.sub("_", cell_key)
        / (f"rep-{repetition}")
    )


def _recorded(kind: str, path: Path) -> Artifact:
    data = path.read_bytes()
    return Artifact(kind, path, hashlib.sha256(data).hexdigest(), len(data))


def write_artifact(directory: Path, name: str, text: str, kind: str | None = None) -> Artifact:
    """Write a text artifact; a full disk is a clear error, never a silently short file."""
    path = directory / name
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as error:
        raise NetmatrixError(f"cannot store artifact {path}: {error.strerror}") from None
    return _recorded(kind or name.split(".")[0], path)


def fetch_artifact(
    conn: Connection, remote: str, directory: Path, name: str, kind: str
) -> Artifact:
    """Fetch a remote file into the run's directory, checksums verified on both ends."""
    path = directory / name
    try:
        directory.mkdir(parents=True, exist_ok=True)
        transfer = conn.get(remote, path)
    except OSError as error:
        raise NetmatrixError(f"cannot store artifact {path}: {error.strerror}") from None
    artifact = _recorded(kind, path)
    if artifact.sha256 != transfer.sha256:
        raise TransferError(f"{remote}: checksum changed after transfer")
    return artifact
