"""Verified file transfer, the same on every connection: copy to a temporary sibling, compare
sha256 on both ends, rename into place; the copy never stays behind a failure."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.connection.commands import ChecksumMismatch, TransferError, TransferHook
from orchestrator.errors import NetmatrixError, disk_full

TRANSFER_ATTEMPTS = 3
"""Tries of one put/get: a connection that drops mid-transfer is reopened and it starts over."""


@dataclass(frozen=True)
class VerifiedCopy:
    """One transfer attempt's steps, each done on whichever end it belongs to."""

    what: str
    """`host: put a -> b`, for messages."""
    direction: str
    """`put` or `get`, for the test hook."""
    temp: str
    copy: Callable[[], None]
    """Bytes (and mode) to `temp`."""
    digest: Callable[[], str]
    """sha256 of `temp` where it now lies."""
    rename: Callable[[], None]
    """`temp` onto the destination, atomically."""
    discard: Callable[[], None]
    """Remove `temp` after a failure; must not raise."""


def verify_then_rename(
    job: VerifiedCopy,
    expected: str,
    *,
    sides: tuple[str, str],
    os_error: Callable[[OSError, str], NetmatrixError],
    hook: TransferHook | None,
) -> None:
    """Do `job`, refusing bytes whose sha256 is not `expected` (a ChecksumMismatch naming the
    two `sides`: expected first). An OSError becomes `os_error(error, job.what)`."""
    try:
        job.copy()
        if hook is not None:
            hook(job.direction, job.temp)
        got = job.digest()
        if got != expected:
            raise ChecksumMismatch(
                f"{job.what}: sha256 mismatch ({sides[0]} {expected[:12]}…, {sides[1]} {got[:12]}…)"
            )
        job.rename()
    except BaseException as error:
        job.discard()
        if isinstance(error, OSError):
            raise os_error(error, job.what) from None
        raise


def upload_error(error: OSError, what: str) -> NetmatrixError:
    """A failed upload (the host's errors, whatever their errno)."""
    return TransferError(f"{what}: {error}")


def download_error(error: OSError, what: str) -> NetmatrixError:
    """A failed download: a full controller disk is `DiskFull` (SFTP reports the host's own
    errors without an errno, so ENOSPC here is always the local side), else `TransferError`."""
    return disk_full(error, what) or TransferError(f"{what}: {error}")


def sha256_file(path: Path | str) -> tuple[str, int]:
    """(hex digest, size in bytes) of a local file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def temp_name(final: str) -> str:
    """A sibling of `final` (same directory, so the rename is atomic) no one else uses."""
    head, _, base = final.rpartition("/")
    name = f".{base}.netmatrix-{uuid.uuid4().hex[:12]}.tmp"
    return f"{head}/{name}" if head or final.startswith("/") else name
