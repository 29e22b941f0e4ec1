"""The files netmatrix keeps on every lab host: the traffic generator and the trace reducer.

Both are plain Python (standard library only), so they run on any lab host with python3. The
reducer ships as a zipapp of `orchestrator.analysis`, built on the controller from the code
that will later read its output, so the host and the controller never disagree on a format.
Files are copied only when their sha256 differs from what the host has.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from pathlib import Path

import orchestrator
from orchestrator.connection import Connection

PACKAGE_DIR = Path(orchestrator.__file__).parent
APP_DIR = PACKAGE_DIR.parent / "app"
REMOTE_DIR = "/opt/netmatrix"
REDUCER_PATH = f"{REMOTE_DIR}/netmatrix-reduce.pyz"
APP_FILES = ("server.py", "client.py", "common.py")
_MAIN = b"import sys\nfrom orchestrator.analysis.reduce import main\nsys.exit(main())\n"


def _reducer_sources() -> list[Path]:
    """The stand-alone part of the package: `orchestrator.analysis` and what it imports."""
    return [
        PACKAGE_DIR / "__init__.py",
        PACKAGE_DIR / "errors.py",
        *sorted((PACKAGE_DIR / "analysis").glob("*.py")),
    ]


def reducer_zipapp() -> bytes:
    """The reducer as zipapp bytes; deterministic (fixed timestamps) so its hash is stable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        members = [
            (f"orchestrator/{path.relative_to(PACKAGE_DIR)}", path.read_bytes())
            for path in _reducer_sources()
        ]
        for name, data in [("__main__.py", _MAIN), *members]:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return b"#!/usr/bin/env python3\n" + buffer.getvalue()


def host_files() -> dict[str, bytes]:
    """Remote path -> content of everything a lab host needs from netmatrix."""
    files = {f"{REMOTE_DIR}/app/{name}": (APP_DIR / name).read_bytes() for name in APP_FILES}
    files[REDUCER_PATH] = reducer_zipapp()
    return files


def install_host_files(conn: Connection) -> list[str]:
    """Copy the files whose content differs on the host; returns the paths copied."""
    files = host_files()
    listing = conn.sudo(["sha256sum", *files], timeout=60).stdout
    present = {line.split()[-1]: line.split()[0] for line in listing.splitlines() if line}
    stale = {
        remote: data
        for remote, data in files.items()
        if present.get(remote) != hashlib.sha256(data).hexdigest()
    }
    if stale:
        conn.sudo(["mkdir", "-p", f"{REMOTE_DIR}/app"], check=True)
    # The login user may not own REMOTE_DIR: upload to its temp dir, install as root.
    with tempfile.TemporaryDirectory(prefix="netmatrix-") as staging:
        for remote, data in stale.items():
            local = Path(staging) / Path(remote).name
            local.write_bytes(data)
            upload = f"/tmp/netmatrix-upload-{Path(remote).name}"
            conn.put(local, upload)
            conn.sudo(["install", "-m", "0755", upload, remote], check=True)
            conn.run(["rm", "-f", upload])
    return list(stale)
