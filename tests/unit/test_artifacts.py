"""Where a run's files go on the controller, with the checksums the database records, and the
one-line error when they cannot be stored."""

import hashlib
from pathlib import Path

import pytest

from orchestrator.artifacts import Artifact, fetch_artifact, run_dir, write_artifact
from orchestrator.connection import TransferError, TransferResult
from orchestrator.errors import NetmatrixError
from tests.fakes import FakeConnection

KEY = "mode=bridge,size=1400,proto=tcp,host=lab2"


def test_a_run_dir_is_campaign_cell_and_repetition() -> None:
    assert run_dir(Path("results"), "demo", KEY, 2) == Path(f"results/artifacts/demo/{KEY}/rep-2")


def test_names_are_made_safe_for_any_file_system() -> None:
    path = run_dir(Path("r"), "my demo/v2", "mode=bridge,host=lab:2\\x*", 1)
    assert path == Path("r/artifacts/my_demo_v2/mode=bridge,host=lab_2_x_/rep-1")
    assert len(path.parts) == 5  # a slash in a name never adds a directory


def test_a_written_artifact_records_its_sha256_and_size(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "rep-1"  # made on the way
    text = '{"mbps": 51.2, "note": "sans été"}\n'
    artifact = write_artifact(directory, "client-plain.json", text)
    data = text.encode()
    assert artifact == Artifact(
        "client-plain", directory / "client-plain.json", hashlib.sha256(data).hexdigest(), len(data)
    )
    assert artifact.path.read_bytes() == data
    assert write_artifact(directory, "x.json", "{}", kind="server").kind == "server"


def test_a_place_that_cannot_hold_the_file_is_one_error_naming_it(tmp_path: Path) -> None:
    """A parent that is a file fails like a full or read-only disk does: an OSError on write."""
    blocker = tmp_path / "results"
    blocker.write_text("not a directory")
    target = blocker / "rep-1"
    with pytest.raises(NetmatrixError) as refused:
        write_artifact(target, "server.json", "{}\n")
    assert str(refused.value) == f"cannot store artifact {target / 'server.json'}: Not a directory"


def test_a_fetched_artifact_is_the_remote_bytes_with_their_checksum(tmp_path: Path) -> None:
    data = b"\x1f\x8b compressed stacks"
    conn = FakeConnection(files={"/var/tmp/netmatrix/t1/folded.txt.gz": data})
    artifact = fetch_artifact(
        conn, "/var/tmp/netmatrix/t1/folded.txt.gz", tmp_path / "rep-1", "folded.txt.gz", "folded"
    )
    assert artifact == Artifact(
        "folded", tmp_path / "rep-1" / "folded.txt.gz", hashlib.sha256(data).hexdigest(), len(data)
    )
    assert artifact.path.read_bytes() == data


def test_a_fetch_into_an_impossible_place_names_the_local_path(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("not a directory")
    target = tmp_path / "results" / "rep-1"
    conn = FakeConnection(files={"/w/reduction.json": b"{}"})
    with pytest.raises(NetmatrixError, match=r"^cannot store artifact .*/results/rep-1/r\.json: "):
        fetch_artifact(conn, "/w/reduction.json", target, "r.json", "reduction")


class ChangedAfterTransfer(FakeConnection):
    """A connection whose file changes between the verified transfer and the recording."""

    def get(self, remote: str, local: Path | str) -> TransferResult:
        transfer = super().get(remote, local)
        Path(local).write_bytes(b"changed")
        return transfer


def test_a_file_that_changed_after_its_transfer_is_refused(tmp_path: Path) -> None:
    conn = ChangedAfterTransfer(files={"/w/reduction.json": b"{}"})
    with pytest.raises(TransferError, match=r"^/w/reduction.json: checksum changed after transfer"):
        fetch_artifact(conn, "/w/reduction.json", tmp_path, "reduction.json", "reduction")
