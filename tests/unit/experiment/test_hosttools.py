"""The files every lab host keeps: a reducer zipapp that really runs on its own, copied only
when the host's copy differs."""

import hashlib
import io
import json
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

from orchestrator.experiment import hosttools
from orchestrator.experiment.hosttools import REDUCER_PATH, host_files, install_host_files
from tests.fakes import FakeConnection

TRACE = Path(__file__).resolve().parents[2] / "fixtures" / "perf" / "bridge-64.perf.txt.xz"
APP = "/opt/netmatrix/app"


def test_the_zipapp_is_the_same_bytes_every_time() -> None:
    """Its hash decides whether hosts get a new copy: a timestamp inside would copy it always."""
    assert hosttools.reducer_zipapp() == hosttools.reducer_zipapp()


def test_the_zipapp_holds_its_entry_point_and_the_reducer() -> None:
    data = hosttools.reducer_zipapp()
    assert data.startswith(b"#!/usr/bin/env python3\n")
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names[0] == "__main__.py"
    assert {"orchestrator/analysis/reduce.py", "orchestrator/errors.py"} <= set(names)


def reduce_with_zipapp(tmp_path: Path, *options: str) -> dict:
    """Run the zipapp like a lab host does, with nothing but the standard library around it."""
    zipapp = tmp_path / "netmatrix-reduce.pyz"
    zipapp.write_bytes(hosttools.reducer_zipapp())
    out = tmp_path / "reduction.json"
    # -I -S: no site-packages, no PYTHONPATH, no current directory: the zip must be enough.
    command = [sys.executable, "-I", "-S", str(zipapp), str(TRACE), "--out", str(out), *options]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def test_the_zipapp_reduces_a_real_trace_on_its_own(tmp_path: Path) -> None:
    folded = tmp_path / "folded.txt.gz"
    reduction = reduce_with_zipapp(tmp_path, "--folded", str(folded))
    assert reduction["records"] == reduction["records_all"] == 7530
    assert reduction["events"]["net:net_dev_queue"] == 980
    assert reduction["devices"]["docker0"] == 2
    assert reduction["functions"]["br_handle_frame"] > 0
    assert folded.stat().st_size > 0


def test_the_zipapp_counts_only_the_processes_asked_for(tmp_path: Path) -> None:
    reduction = reduce_with_zipapp(tmp_path, "--comm-prefix", "docker")
    assert reduction["processes"] == {"dockerd": 62, "docker": 48}
    assert reduction["records"] == 110
    assert sum(reduction["events"].values()) == 110
    assert reduction["records_all"] == 7530


# --- install_host_files ---------------------------------------------------------------------


def host_with(present: dict[str, bytes]) -> FakeConnection:
    """A host whose `sha256sum` reports the given files (the others: no such file)."""

    def sha256sum(text: str) -> tuple[int, str, str]:
        paths = shlex.split(text)[1:]
        lines = [f"{hashlib.sha256(present[p]).hexdigest()}  {p}\n" for p in paths if p in present]
        missing = [
            f"sha256sum: {p}: No such file or directory\n" for p in paths if p not in present
        ]
        return (1 if missing else 0), "".join(lines), "".join(missing)

    return (
        FakeConnection()
        .on(r"^sha256sum ", sha256sum)
        .on(r"^(mkdir -p|install -m 0755|rm -f) ", (0, ""))
    )


def test_a_fresh_host_gets_every_file_through_a_staged_upload() -> None:
    conn = host_with({})
    wanted = host_files()
    copied = install_host_files(conn)
    assert (
        sorted(copied)
        == sorted(wanted)
        == sorted([f"{APP}/server.py", f"{APP}/client.py", f"{APP}/common.py", REDUCER_PATH])
    )
    for remote, data in wanted.items():
        upload = f"/tmp/netmatrix-upload-{Path(remote).name}"
        assert conn.files[upload] == data
        install = (f"install -m 0755 {upload} {remote}", True)
        cleanup = (f"rm -f {upload}", False)  # the login user's own file
        assert conn.calls.index(install) < conn.calls.index(cleanup)
    assert conn.calls[1] == (f"mkdir -p {APP}", True)


def test_only_files_whose_checksum_differs_are_copied() -> None:
    current = host_files()
    current[f"{APP}/client.py"] = b"# an older client\n"
    conn = host_with(current)
    assert install_host_files(conn) == [f"{APP}/client.py"]
    assert list(conn.files) == ["/tmp/netmatrix-upload-client.py"]


def test_an_up_to_date_host_is_only_asked_for_checksums() -> None:
    conn = host_with(host_files())
    assert install_host_files(conn) == []
    assert [text.split()[0] for text in conn.commands] == ["sha256sum"]
    assert conn.files == {}
