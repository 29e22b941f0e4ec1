"""Scenario 3 of issue 7: the SSH connection drops while a file is on its way.

A drop is real: the server side of the session is killed (SIGKILL of the per-connection sshd
processes), as when a host's network goes away, while the transfer runs. The transfer must
start over on a new connection and end verified; damaged bytes over a live connection are not
retried: they fail, and a run that meets them is `failed`, never `ok`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from orchestrator.connection import (
    TRANSFER_ATTEMPTS,
    SSHConnection,
    TransferError,
    UnreachableError,
)
from orchestrator.experiment import run
from orchestrator.experiment.cells import Cell
from orchestrator.experiment.hosttools import install_host_files
from orchestrator.experiment.spec import load_spec
from orchestrator.host import Host
from tests.integration.lab_fixture import ProvisionedLab
from tests.integration.sshd import SshdLab, ssh_connection

pytestmark = [
    pytest.mark.integration,
    # paramiko's SFTP prefetch thread dies with the connection a test drops, as it should.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning"),
]

PAYLOAD_MB = 48


@pytest.fixture
def sshd1(sshd_hosts: tuple[Host, ...]) -> Iterator[SSHConnection]:
    with ssh_connection(sshd_hosts[0]) as opened:
        yield opened


@pytest.fixture
def workdir(sshd1: SSHConnection) -> Iterator[Path]:
    """A directory both ends see: the sshd servers run on this machine."""
    path = Path(f"/tmp/netmatrix-drop-{uuid.uuid4().hex[:10]}")
    path.mkdir()
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", "--", str(path)], check=True)


def drop_sessions(master_pid: int) -> None:
    """Kill the per-connection processes of one sshd: every session of it ends at once."""
    subprocess.run(["pkill", "-KILL", "-P", str(master_pid)], check=False)


def partial_files(directory: Path) -> list[Path]:
    return [path for path in directory.iterdir() if ".netmatrix-" in path.name]


def drop_while_copying(
    directory: Path, master_pid: int, times: int, transfer: Callable[[], object]
) -> object:
    """Run `transfer` in a thread; drop the connection `times` times, each time a temporary
    file in `directory` has received its first megabyte."""
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["result"] = transfer()
        except BaseException as error:  # handed back to the test thread
            outcome["error"] = error

    worker = threading.Thread(target=work)
    worker.start()
    dropped: set[str] = set()
    while worker.is_alive() and len(dropped) < times:
        for path in partial_files(directory):
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if path.name not in dropped and size > 1 << 20:
                drop_sessions(master_pid)
                dropped.add(path.name)
        time.sleep(0.01)
    worker.join(timeout=120)
    assert not worker.is_alive(), "the transfer hung after the drop"
    assert len(dropped) == times, f"dropped {len(dropped)} of {times} times: payload too small?"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]


def random_file(path: Path) -> str:
    with open(path, "wb") as stream:
        stream.write(os.urandom(PAYLOAD_MB << 20))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_get_dropped_mid_transfer_starts_over_on_a_new_connection(
    sshd1: SSHConnection, sshd_lab: SshdLab, workdir: Path, tmp_path: Path, caplog
) -> None:
    remote = workdir / "payload.bin"
    digest = random_file(remote)
    local = tmp_path / "back" / "payload.bin"
    caplog.set_level(logging.WARNING, logger="orchestrator.connection")

    got = drop_while_copying(
        _made(local.parent),
        sshd_lab.servers[0].pid,
        1,
        lambda: sshd1.get(str(remote), local),
    )

    assert got.sha256 == digest == hashlib.sha256(local.read_bytes()).hexdigest()
    assert partial_files(local.parent) == []
    assert "connection lost during get" in caplog.text
    assert sshd1.run(["true"]).ok, "the connection works again afterwards"


def test_put_dropped_mid_transfer_starts_over_and_leaves_no_partial_file(
    sshd1: SSHConnection, sshd_lab: SshdLab, workdir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "payload.bin"
    digest = random_file(source)
    remote = workdir / "payload.bin"

    put = drop_while_copying(
        workdir, sshd_lab.servers[0].pid, 1, lambda: sshd1.put(source, str(remote))
    )

    assert put.sha256 == digest == hashlib.sha256(remote.read_bytes()).hexdigest()
    assert partial_files(workdir) == [], "the dropped attempt's temporary file was removed"


def test_a_connection_that_keeps_dropping_gives_up_naming_the_transfer(
    sshd1: SSHConnection, sshd_lab: SshdLab, workdir: Path, tmp_path: Path
) -> None:
    remote = workdir / "payload.bin"
    random_file(remote)
    local = _made(tmp_path / "back") / "payload.bin"

    with pytest.raises(
        UnreachableError, match=rf"connection lost during get .*{TRANSFER_ATTEMPTS} attempts"
    ):
        drop_while_copying(
            local.parent,
            sshd_lab.servers[0].pid,
            TRANSFER_ATTEMPTS,
            lambda: sshd1.get(str(remote), local),
        )
    assert not local.exists() and partial_files(local.parent) == []


def _made(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory


# --------------------------------------------------------------------------- a run on the lab

TRACED_LOOPBACK = """\
name: transfer-faults
baseline: loopback
axes: {mode: [loopback], size: [1400], proto: [tcp]}
repetitions: 1
duration: 1s
warmup: 0s
phases: [traced]
trace: {perf: {events: ["net:*", "skb:*"], call_graph: fp, period: 101}}
"""


def traced_run(lab: ProvisionedLab, tmp_path: Path, hook: Callable[[str, str], None]):
    """One traced loopback run on lab2 in this process, `hook` set on its connection."""
    spec_file = tmp_path / "spec.yml"
    spec_file.write_text(TRACED_LOOPBACK)
    conn = lab.connect("lab2")
    assert isinstance(conn, SSHConnection)
    install_host_files(conn)
    conn.before_verify = hook
    tag = uuid.uuid4().hex[:12]
    request = run.RunRequest(
        spec=load_spec(spec_file),
        cell=Cell("loopback", 1400, "tcp", "lab2", "any"),
        repetition=1,
        tag=tag,
        facts={},
        artifact_dir=tmp_path / "artifacts",
    )
    try:
        outcome = run.execute(conn, request)
        return outcome, list(run.leftovers(conn))
    finally:
        conn.close()


def test_a_run_whose_fetched_trace_is_damaged_is_failed_and_leaves_nothing(
    provisioned_lab: ProvisionedLab, tmp_path: Path
) -> None:
    def damage(direction: str, path: str) -> None:
        if direction == "get" and "folded" in path:
            with open(path, "ab") as stream:
                stream.write(b"damaged in flight")

    outcome, left = traced_run(provisioned_lab, tmp_path, damage)

    assert outcome.status == "failed"
    assert "folded.txt.gz: sha256 mismatch" in outcome.error
    assert outcome.artifacts == ()
    assert not (tmp_path / "artifacts" / "folded.txt.gz").exists()
    assert left == []


def test_a_run_whose_connection_drops_between_fetches_reconnects_and_is_ok(
    provisioned_lab: ProvisionedLab, tmp_path: Path
) -> None:
    node = docker.from_env().containers.get(provisioned_lab.container_id("lab2"))
    drops: list[str] = []

    def drop_once(direction: str, path: str) -> None:
        if direction == "get" and not drops:
            # The sessions of the login user end; the node's sshd keeps listening.
            node.exec_run(["pkill", "-KILL", "-f", "^sshd(-session)?: vagrant"])
            drops.append(path)

    outcome, left = traced_run(provisioned_lab, tmp_path, drop_once)

    assert drops, "the hook ran"
    assert outcome.status == "ok", outcome.error
    for artifact in outcome.artifacts:
        assert hashlib.sha256(artifact.path.read_bytes()).hexdigest() == artifact.sha256
    assert {artifact.kind for artifact in outcome.artifacts} >= {"reduction", "folded"}
    assert left == []


def test_transfer_error_is_what_a_damaged_download_raises(
    sshd1: SSHConnection, workdir: Path, tmp_path: Path
) -> None:
    """Over a live connection a checksum mismatch is not retried: it is raised at once."""
    remote = workdir / "small.txt"
    remote.write_text("payload\n")
    calls: list[str] = []

    def damage(direction: str, path: str) -> None:
        calls.append(direction)
        Path(path).write_text("other\n")

    sshd1.before_verify = damage
    with pytest.raises(TransferError, match="sha256 mismatch"):
        sshd1.get(str(remote), tmp_path / "small.txt")
    assert calls == ["get"]
