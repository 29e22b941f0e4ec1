"""The matrix without a lab: readiness of hosts, the request of a run, and a lane of runs
against fake hosts and a real results database, where no run's trouble stops the lane."""

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.artifacts import write_artifact
from orchestrator.connection import Connection, UnreachableError
from orchestrator.db import models, repository
from orchestrator.db.repository import RunRow
from orchestrator.db.session import Database, open_database
from orchestrator.errors import DiskFull, NetmatrixError
from orchestrator.experiment import lanes, modes, preflight, run
from orchestrator.experiment.cells import Cell, PlannedRun
from orchestrator.experiment.context import LabHost, MatrixOptions, RunContext, Stop
from orchestrator.experiment.progress import MatrixProgress
from orchestrator.experiment.recording import run_request
from orchestrator.experiment.schedule import Lane, Stage
from orchestrator.experiment.spec import spec_hash
from orchestrator.experiment.traffic_image import traffic_image
from orchestrator.host import Host
from tests.fakes import FakeConnection
from tests.unit.db.builders import FACTS, KERNEL
from tests.unit.experiment.builders import make_spec
from tests.unit.experiment.test_modes import netdev_types
from tests.unit.experiment.test_run import REDUCTION, SPEC, lab_host

LAB_FACTS = dict(FACTS) | {
    "default_nic": "eth0",
    "tracefs": {"mounted": True, "path": "/sys/kernel/tracing"},
    "netdev_types": netdev_types("root"),
}
LAB1 = LabHost(Host("lab1", {"lab_nic": "eth1"}), LAB_FACTS, KERNEL)
# What `invoke matrix` does once per host before the first run: copy files, check the image.
PROVISIONED = (r"^(sha256sum|mkdir|install|rm) ", (0, ""))
IMAGE_PRESENT = (r"^docker image inspect ", (0, "sha256:5eed\n"))


def planned(mode: str, repetition: int = 1) -> PlannedRun:
    return PlannedRun(Cell(mode, 64, "tcp", "lab1", KERNEL), repetition)


# --- readiness, repetitions, requests ------------------------------------------------------------


def test_a_ready_host_has_no_problems() -> None:
    traced = replace(make_spec(), phases=("plain", "traced"))
    assert preflight.readiness_problems(LAB1.host, LAB_FACTS, traced) == []


def test_missing_tools_are_one_line_naming_provisioning_for_that_host() -> None:
    traced = replace(make_spec(), phases=("plain", "traced"))
    bare = LAB_FACTS | {"docker_version": None, "perf_version": None, "tracefs": None}
    assert preflight.readiness_problems(Host("lab2"), bare, traced) == [
        "lab2: docker, perf, tracefs missing: run invoke provision --hosts lab2"
    ]
    unmounted = LAB_FACTS | {"tracefs": {"mounted": False}}
    assert preflight.readiness_problems(Host("lab2"), unmounted, traced) == [
        "lab2: tracefs missing: run invoke provision --hosts lab2"
    ]


def test_only_what_the_spec_uses_is_required() -> None:
    bare = LAB_FACTS | {"docker_version": None, "perf_version": None, "tracefs": None}
    plain_loopback = make_spec(mode=("loopback",))  # no containers, no tracing
    assert preflight.readiness_problems(Host("lab2"), bare, plain_loopback) == []
    assert preflight.readiness_problems(Host("lab2"), bare, make_spec()) == [
        "lab2: docker missing: run invoke provision --hosts lab2"
    ]


def test_repetitions_from_the_command_line_are_range_checked() -> None:
    spec = make_spec(repetitions=2)
    assert preflight.with_repetitions(spec, 7) == replace(spec, repetitions=7)
    assert preflight.with_repetitions(spec, 1000).repetitions == 1000
    for wrong in (0, 1001):
        with pytest.raises(NetmatrixError, match=rf"^--repetitions: {wrong} is out of range"):
            preflight.with_repetitions(spec, wrong)


def test_a_request_names_its_things_after_the_run_and_reads_the_host_vars(tmp_path: Path) -> None:
    campaign = repository.CampaignRef(1, "demo", "0" * 64)
    host = LabHost(
        Host("lab1", {"lab_nic": "eth1", "netmatrix_macvlan_subnet": "10.9.0.0/24"}),
        LAB_FACTS,
        KERNEL,
    )
    options = MatrixOptions(Path("demo.yml"), "lab1", results=tmp_path, keep_script=True)
    cell = planned("macvlan", 2).cell
    run_id = "0b7c2f4e-aaaa-bbbb-cccc-123456789abc"
    request = run_request(SPEC, cell, 2, run_id, host, options, campaign)
    assert request.tag.startswith("0b7c2f4e") and len(request.tag) == 12
    assert request.artifact_dir == tmp_path / "artifacts" / "demo" / cell.key / "rep-2" / run_id
    assert (request.lab_nic, request.subnet, request.keep_script) == ("eth1", "10.9.0.0/24", True)
    assert (request.cell, request.repetition, request.facts) == (cell, 2, LAB_FACTS)
    other = run_request(SPEC, cell, 2, run_id, LAB1, options, campaign)
    assert other.tag != request.tag  # a rerun of the same run id never meets its leftovers


def test_a_host_without_lab_nic_uses_its_default_route_nic(tmp_path: Path) -> None:
    campaign = repository.CampaignRef(1, "demo", "0" * 64)
    bare = LabHost(Host("lab1"), LAB_FACTS, KERNEL)
    options = MatrixOptions(Path("demo.yml"), "lab1", results=tmp_path)
    request = run_request(SPEC, planned("macvlan").cell, 1, "r-1", bare, options, campaign)
    assert (request.lab_nic, request.subnet) == ("eth0", modes.DEFAULT_MACVLAN_SUBNET)


# --- a lane of runs ------------------------------------------------------------------------------


@dataclass
class Matrix:
    """A campaign of the demo spec in a fresh database, with plain-text progress."""

    db: Database
    campaign: repository.CampaignRef
    options: MatrixOptions
    stream: io.StringIO
    monkeypatch: pytest.MonkeyPatch

    def lane(
        self,
        runs: list[PlannedRun],
        connect: Callable[..., Connection],
        stop: Stop | None = None,
    ) -> list[RunRow]:
        """Run `runs` on lab1 as one lane, hosts reached through `connect`; the stored rows."""
        snapshots = {"lab1": repository.record_host_snapshot(self.db, "lab1", LAB_FACTS)}
        lane = Lane("host=lab1", ("lab1",), (Stage(None, tuple(runs)),), 0.0)
        progress = MatrixProgress(len(runs), stream=self.stream)
        context = RunContext(
            self.db,
            self.campaign,
            SPEC,
            self.options,
            progress,
            stop or Stop(),
            {"lab1": LAB1},
            snapshots,
            connect,
        )
        lanes.run_lane(context, lane)
        return repository.runs_rows(self.db, self.campaign)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Matrix]:
    with open_database(f"sqlite:///{tmp_path / 'netmatrix.db'}") as db:
        campaign = repository.get_or_create_campaign(
            db, SPEC.name, "name: demo\n", spec_hash(SPEC), "0.1.0", None
        )
        options = MatrixOptions(Path("playbooks/demo.yml"), "lab1", results=tmp_path / "results")
        yield Matrix(db, campaign, options, io.StringIO(), monkeypatch)


def connecting_to(conn: FakeConnection) -> Callable[..., Connection]:
    """A `connect` that hands out `conn` and counts how often it was asked."""

    def connect(host: Host, **_: object) -> Connection:
        conn.host = host
        conn.calls.append((f"# connect {host.name}", False))
        return conn

    return connect


def test_an_ok_run_is_stored_with_its_metrics_and_artifacts(lab: Matrix) -> None:
    conn = lab_host(PROVISIONED, IMAGE_PRESENT)
    [row] = lab.lane([planned("bridge")], connecting_to(conn))
    assert (row.status, row.error, row.kernel) == ("ok", None, KERNEL)
    assert (row.mbps, row.mbps_traced, row.messages) == (51.2, 20.48, 100000.0)
    assert (row.events, row.lost_events) == (REDUCTION["records"], 5)
    with lab.db.transaction() as session:
        stored = session.scalars(select(models.Artifact.path)).all()
    prefix = f"artifacts/demo/{planned('bridge').cell.key}/rep-1/{row.run_id}/"
    assert sorted(stored) == [
        prefix + name
        for name in (
            "client-plain.json",
            "client-traced.json",
            "folded.txt.gz",
            "reduction.json",
            "server.json",
        )
    ]
    assert all((lab.options.results / path).is_file() for path in stored)
    assert f"ok: [lab1] {planned('bridge').cell.key} rep=1" in lab.stream.getvalue()


def test_an_unreachable_host_fails_its_later_runs_without_retrying(lab: Matrix) -> None:
    attempts: list[str] = []

    def connect(host: Host, **_: object) -> Connection:
        attempts.append(host.name)
        raise UnreachableError(f"{host.name}: connection refused (port 22)")

    runs = [planned("loopback"), planned("bridge"), planned("loopback", 2)]
    rows = lab.lane(runs, connect)
    assert attempts == ["lab1"]
    assert [(row.status, row.error) for row in rows] == [
        ("failed", "unreachable: lab1: connection refused (port 22)")
    ] * 3


def test_a_user_error_fails_the_run_and_the_lane_goes_on(lab: Matrix) -> None:
    """The image is checked for every container run, not only when the first run connects."""
    conn = lab_host(PROVISIONED, (r"^docker image inspect ", (1, "", "Error: No such image")))
    rows = lab.lane([planned("loopback"), planned("bridge")], connecting_to(conn))
    assert [(row.mode, row.status) for row in rows] == [("loopback", "ok"), ("bridge", "failed")]
    assert rows[1].error == (
        f"lab1: traffic image {traffic_image()} missing: run invoke provision --hosts lab1"
    )
    assert not [text for text in conn.commands if text.startswith("docker run")]
    assert conn.commands.count("# connect lab1") == 1


def test_a_stopped_docker_daemon_is_named_not_mistaken_for_a_missing_image(lab: Matrix) -> None:
    down = (
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
        "Is the docker daemon running?"
    )
    conn = lab_host(PROVISIONED, (r"^docker image inspect ", (1, "", down)))
    rows = lab.lane([planned("loopback"), planned("bridge")], connecting_to(conn))
    assert [(row.mode, row.status, row.error) for row in rows] == [
        ("loopback", "ok", None),
        (
            "bridge",
            "failed",
            "lab1: the Docker daemon is not running: run invoke provision --hosts lab1",
        ),
    ]


def test_a_failed_installation_is_tried_again_by_the_next_run(lab: Matrix) -> None:
    """Runs after a failed copy must not measure with the host's old traffic generator."""
    full = iter([(1, "", "mkdir: cannot create directory '/opt/netmatrix': No space left")])
    conn = lab_host((r"^mkdir -p /opt/", lambda text: next(full, (0, "", ""))), PROVISIONED)
    rows = lab.lane([planned("loopback"), planned("loopback", 2)], connecting_to(conn))
    assert [(row.status, row.error) for row in rows] == [
        (
            "failed",
            "lab1: `mkdir -p /opt/netmatrix/app` exited 1: "
            "mkdir: cannot create directory '/opt/netmatrix': No space left",
        ),
        ("ok", None),
    ]
    assert conn.commands.count("# connect lab1") == 2
    assert conn.commands.count("mkdir -p /opt/netmatrix/app") == 2


def test_an_unexpected_exception_is_an_internal_error_and_the_lane_goes_on(lab: Matrix) -> None:
    reductions = iter([{}, REDUCTION])  # the first reducer output lacks every key
    conn = lab_host(PROVISIONED, IMAGE_PRESENT, reduction=reductions.__next__)
    rows = lab.lane([planned("bridge"), planned("bridge", 2)], connecting_to(conn))
    assert [(row.status, row.error) for row in rows] == [
        ("failed", "internal error: KeyError('records')"),
        ("ok", None),
    ]
    teardowns = [text for text in conn.commands if text.startswith("sh -c '\ntag=")]
    assert len(teardowns) == 2  # the failed run was torn down too


def test_a_run_failing_after_ctrl_c_is_recorded_interrupted(lab: Matrix) -> None:
    stop = Stop()

    def killed(text: str) -> tuple[int, str, str]:
        assert stop.active["lab1"].cell.mode == "bridge"  # the main thread can tear it down
        stop.interrupt()  # Ctrl-C arrives; the main thread's teardown kills the client
        return 137, "", "Killed"

    conn = lab_host(PROVISIONED, IMAGE_PRESENT, (r"^docker exec ", killed))
    runs = [planned("bridge"), planned("bridge", 2)]
    rows = lab.lane(runs, connecting_to(conn), stop)
    assert [(row.status, row.error) for row in rows] == [
        ("interrupted", "interrupted by the user (Ctrl-C)")
    ]  # the lane stopped before repetition 2
    assert stop.active == {}


def test_a_full_controller_disk_fails_that_run_and_stops_the_lane(lab: Matrix) -> None:
    stored: list[str] = []

    def write_until_full(directory: Path, name: str, text: str, kind: str | None = None):
        if stored:
            raise DiskFull(f"cannot store artifact {directory / name}: No space left on device")
        stored.append(name)
        return write_artifact(directory, name, text, kind)

    lab.monkeypatch.setattr(run, "write_artifact", write_until_full)
    conn = lab_host(PROVISIONED, IMAGE_PRESENT)
    stop = Stop()
    rows = lab.lane([planned("bridge"), planned("bridge", 2)], connecting_to(conn), stop)
    [row] = rows  # repetition 2 never started
    assert row.status == "failed"
    assert row.error.endswith("No space left on device")
    assert isinstance(stop.halted, DiskFull) and not stop.interrupted
    teardowns = [text for text in conn.commands if text.startswith("sh -c '\ntag=")]
    assert len(teardowns) == 1 and conn.commands[-1] == teardowns[0], "torn down, last"


def test_after_ctrl_c_a_run_takes_no_further_step_but_is_torn_down(lab: Matrix) -> None:
    stop = Stop()

    def ctrl_c_during_set_up(text: str) -> tuple[int, str, str]:
        stop.interrupt()  # arrives while the server starts
        return 0, "", ""

    conn = lab_host(PROVISIONED, IMAGE_PRESENT, (r"^docker run ", ctrl_c_during_set_up))
    [row] = lab.lane([planned("bridge")], connecting_to(conn), stop)
    assert (row.status, row.error) == ("interrupted", "interrupted by the user (Ctrl-C)")
    measuring = [text for text in conn.commands if text.startswith(("docker exec", "perf record"))]
    assert measuring == [], "no client, no perf after Ctrl-C"
    assert conn.commands[-1].startswith("sh -c '\ntag="), "torn down, last"
