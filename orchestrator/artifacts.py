"""Where a run's files live on the controller, and how they get there with their checksums.

Layout: `results/artifacts/<campaign>/<cell key>/rep-<n>/`. Every file is recorded with its
sha256 and size; a fetched file's checksum is verified on both ends by the connection, and a
local file's is computed after writing, so the database never lists a file it has not seen.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from orchestrator.connection import Connection, TransferError
from orchestrator.errors import NetmatrixError, disk_full

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


def _make_dirs(directory: Path) -> None:
    """Create `directory` and missing parents as 0755 (mkdir's mode only drops bits of the
    umask, so a permissive umask cannot make a results directory world-writable)."""
    missing: list[Path] = []
    for path in (directory, *directory.parents):
        if path.exists():
            break
        missing.append(path)
    for path in reversed(missing):
        path.mkdir(mode=0o755, exist_ok=True)


def _store_error(error: OSError, path: Path) -> NetmatrixError:
    what = f"cannot store artifact {path}"
    return disk_full(error, what) or NetmatrixError(f"{what}: {error.strerror}")


def write_artifact(directory: Path, name: str, text: str, kind: str | None = None) -> Artifact:
    """Write a text artifact; a full disk is a clear error, never a silently short file."""
    path = directory / name
    try:
        _make_dirs(directory)
        # 0644 whatever the umask: artifacts are data others read, never write.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with open(descriptor, "w") as stream:
            stream.write(text)
    except OSError as error:
        raise _store_error(error, path) from None
    return _recorded(kind or name.split(".")[0], path)


def fetch_artifact(
    conn: Connection, remote: str, directory: Path, name: str, kind: str
) -> Artifact:
    """Fetch a remote file into the run's directory, checksums verified on both ends."""
    path = directory / name
    try:
        _make_dirs(directory)
        transfer = conn.get(remote, path)
    except OSError as error:
        raise _store_error(error, path) from None
    artifact = _recorded(kind, path)
    if artifact.sha256 != transfer.sha256:
        raise TransferError(f"{remote}: checksum changed after transfer")
    return artifact
