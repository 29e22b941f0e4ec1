"""One run end to end against a fake lab host: what it measures, what it keeps, and that it
always tears down last, whether it succeeded, failed, was refused or was interrupted."""

import dataclasses
import gzip
import hashlib
import json
import lzma
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.experiment import run
from orchestrator.experiment.cells import Cell
from orchestrator.experiment.run import RunOutcome, RunRequest
from orchestrator.experiment.spec import Spec, load_spec
from tests.fakes import Answer, FakeConnection
from tests.unit.experiment.test_modes import netdev_types

SPEC = load_spec(Path(__file__).resolve().parents[3] / "playbooks" / "demo.yml")
KERNEL = "6.1.0-13-amd64"
PLAIN = {
    "proto": "tcp",
    "mode": "stream",
    "size": 64,
    "messages": 50000,
    "bytes": 3200000,
    "seconds": 0.5,
    "mbps": 51.2,
    "errors": 0,
}
TRACED = PLAIN | {"messages": 20000, "bytes": 1280000, "mbps": 20.48}
REDUCTION = {
    "records": 7322,
    "records_all": 7530,
    "unreadable_lines": 0,
    "events": {"net:net_dev_queue": 980, "skb:consume_skb": 331},
    "devices": {"eth0": 2940, "veth658d0f6": 1470, "docker0": 2},
    "processes": {"nm-client": 7322},
    "functions": {"br_handle_frame": 970, "veth_xmit": 975, "tcp_sendmsg": 7084},
}
FOLDED = b"nm-client;entry_SYSCALL_64;tcp_sendmsg;veth_xmit 975\n"
LISTENING = '{"event": "listening", "port": 31337}'
FLOW = '{"event": "flow", "proto": "tcp", "messages": 70000, "bytes": 4480000}'
SERVER_LOG = f"{LISTENING}\nserver: SIGTERM, closing\n{FLOW}\n"
RECORD_STDERR = (
    "[ perf record: Woken up 1 times to write data ]\n"
    "[ perf record: Captured and wrote 0.254 MB /var/tmp/netmatrix/t1/perf.data (583 samples) ]\n"
)
SCRIPT_STDERR = "Warning:\nProcessed 1234 events and lost 5 chunks!\n\nCheck IO/CPU overload!\n"
EVIL = "$(touch x)"


def client_line(report: dict) -> tuple[int, str]:
    return 0, json.dumps(report) + "\n"


def lab_host(
    *first: tuple[str, Answer], reduction: Callable[[], dict] = lambda: REDUCTION
) -> FakeConnection:
    """A fake lab host answering everything a run sends; rules in `first` take precedence.

    The reducer writes its two outputs into the fake's files (where `get` fetches them), at
    the paths given on its command line, as the real zipapp does; `reduction()` is the JSON.
    """
    conn = FakeConnection()

    def reducer(text: str) -> tuple[int, str, str]:
        argv = shlex.split(text)
        conn.files[argv[argv.index("--out") + 1]] = json.dumps(reduction()).encode()
        conn.files[argv[argv.index("--folded") + 1]] = gzip.compress(FOLDED)
        return 0, "", ""

    def compress(text: str) -> tuple[int, str, str]:
        script = shlex.split(text)[-1]
        conn.files[f"{script}.xz"] = lzma.compress(b"nm-client 1234 [000] 1.0: net:x: y\n")
        return 0, "", ""

    networks = {"bridge": {"IPAddress": "172.17.0.3"}, "nm-t1": {"IPAddress": "10.213.0.2"}}
    for pattern, answer in [
        *first,
        (r"^mkdir -p /var/tmp/netmatrix/", (0, "")),
        (r"^docker network create ", (0, "5e1f\n")),
        (r"^docker run ", (0, "c0ffee\n")),
        (r"^docker inspect ", (0, json.dumps(networks) + "\n")),
        (r"^docker logs ", (0, SERVER_LOG)),
        (r"^docker exec ", client_line(PLAIN)),
        (r"^docker stop ", (0, "nm-t1-srv\n")),
        (r"^sh -c 'setsid ", (0, "")),
        (r"^cat /var/tmp/netmatrix/[^ ]*/server\.log$", (0, SERVER_LOG)),
        (r"^python3 /opt/netmatrix/app/client\.py ", client_line(PLAIN)),
        (r"^sh -c 'kill ", (0, "")),
        (r"^perf record ", (*client_line(TRACED), RECORD_STDERR)),
        (r"^sh -c 'perf script ", (0, "", SCRIPT_STDERR)),
        (r"^python3 /opt/netmatrix/netmatrix-reduce\.pyz ", reducer),
        (r"^xz -1 -T1 ", compress),
        (r"^sh -c '\ntag=", (0, "")),
    ]:
        conn.on(pattern, answer)
    return conn


def make_request(
    tmp_path: Path, mode: str = "bridge", *, spec: Spec = SPEC, proto: str = "tcp", **fields
) -> RunRequest:
    """Repetition 1 of `mode`, 64 bytes, on a host whose root probe refuses ipvlan."""
    values = {
        "spec": spec,
        "cell": Cell(mode, 64, proto, "lab1", KERNEL),
        "repetition": 1,
        "tag": "t1",
        "facts": {"netdev_types": netdev_types("root")},
        "artifact_dir": tmp_path / "rep-1",
        "lab_nic": "eth1",
    }
    return RunRequest(**(values | fields))


def assert_torn_down_last(conn: FakeConnection, request: RunRequest) -> None:
    """The teardown script ran exactly once, as root, after everything else."""
    teardowns = [text for text in conn.commands if text.startswith("sh -c '\ntag=")]
    assert teardowns == [conn.commands[-1]]
    assert conn.calls[-1][1], "teardown runs through sudo"
    argv = shlex.split(teardowns[0])
    assert argv[:2] == ["sh", "-c"]
    assert argv[3:] == ["teardown", request.tag, str(request.port), request.workdir]
    assert 'rm -rf "$work"' in argv[2]


def started(conn: FakeConnection, program: str) -> list[list[str]]:
    """The argument vectors of the commands starting with `program` (`docker run`, …)."""
    return [
        argv for argv in map(shlex.split, conn.commands) if shlex.join(argv).startswith(program)
    ]


# --- a run that works ----------------------------------------------------------------------------


def test_an_ok_run_stores_both_phases_and_the_reduction(tmp_path: Path) -> None:
    conn = lab_host()
    request = make_request(tmp_path)
    outcome = run.execute(conn, request)
    assert (outcome.status, outcome.error) == ("ok", None)
    metrics = outcome.metrics
    assert metrics["mbps/plain"] == (51.2, "Mbit/s")
    assert metrics["mbps/traced"] == (20.48, "Mbit/s")
    assert metrics["msgs_per_s/plain"] == (100000.0, "messages/s")
    assert metrics["msgs_per_s/traced"] == (40000.0, "messages/s")
    assert metrics["events"] == (7322.0, "events")
    assert metrics["records"] == (7322.0, "records")
    assert metrics["records_all"] == (7530.0, "records")
    assert metrics["lost_events"] == (5.0, "events")  # from perf script's warning
    assert outcome.event_counts == REDUCTION["events"]
    assert outcome.device_counts == REDUCTION["devices"]
    assert outcome.function_counts == REDUCTION["functions"]
    assert_torn_down_last(conn, request)


def test_artifacts_are_in_the_run_dir_with_the_checksums_of_their_bytes(tmp_path: Path) -> None:
    conn = lab_host()
    request = make_request(tmp_path)
    outcome = run.execute(conn, request)
    by_name = {item.path.name: item for item in outcome.artifacts}
    assert sorted(by_name) == [
        "client-plain.json",
        "client-traced.json",
        "folded.txt.gz",
        "reduction.json",
        "server.json",
    ]
    for name, item in by_name.items():
        data = item.path.read_bytes()
        assert item.path.parent == request.artifact_dir
        assert (item.sha256, item.bytes) == (hashlib.sha256(data).hexdigest(), len(data)), name
    kinds = {item.kind for item in outcome.artifacts}
    assert kinds == {"client-plain", "client-traced", "folded", "reduction", "server"}
    for fetched in ("reduction.json", "folded.txt.gz"):
        remote = conn.files[f"{request.workdir}/{fetched}"]
        assert by_name[fetched].path.read_bytes() == remote
    assert json.loads(by_name["client-traced.json"].path.read_text()) == TRACED
    assert gzip.decompress(by_name["folded.txt.gz"].path.read_bytes()) == FOLDED
    assert by_name["server.json"].path.read_text() == f"{LISTENING}\n{FLOW}\n"


def test_the_phases_are_told_in_the_order_they_happen(tmp_path: Path) -> None:
    said: list[str] = []
    run.execute(lab_host(), make_request(tmp_path), said.append)
    assert said == ["set-up", "plain", "traced", "perf script", "collect", "teardown"]


def test_perf_records_around_the_client_with_the_specs_period(tmp_path: Path) -> None:
    conn = lab_host()
    run.execute(conn, make_request(tmp_path))
    [client] = started(conn, "docker exec")
    [perf] = started(conn, "perf record")
    assert perf[perf.index("--") + 1 :] == client
    assert perf[perf.index("-c") + 1] == "101"  # playbooks/demo.yml: period 101
    assert perf[perf.index("-o") + 1] == "/var/tmp/netmatrix/t1/perf.data"
    assert client[client.index("--host") + 1] == "172.17.0.3"


def test_the_reducer_counts_only_the_processes_named_after_this_run(tmp_path: Path) -> None:
    """perf -a records the whole machine, other runs' traffic generators included: server
    and client take a name of this run's own, and the reducer keeps only that name."""
    conn = lab_host()
    request = make_request(tmp_path)
    run.execute(conn, request)
    [server] = [argv for argv in started(conn, "docker run") if "/app/server.py" in argv]
    [client] = started(conn, "docker exec")
    [reducer] = started(conn, "python3 /opt/netmatrix/netmatrix-reduce.pyz")
    name = reducer[reducer.index("--comm-prefix") + 1]
    assert name == f"nm-{request.tag}" and len(name) <= 15
    assert server[server.index("--process-name") + 1] == name
    assert client[client.index("--process-name") + 1] == name


def test_loopback_runs_host_processes_over_127_0_0_1(tmp_path: Path) -> None:
    conn = lab_host()
    request = make_request(tmp_path, "loopback")
    outcome = run.execute(conn, request)
    assert outcome.status == "ok"
    assert started(conn, "docker ") == []
    [server] = started(conn, "sh -c 'setsid")
    assert server[3] == "/var/tmp/netmatrix/t1/server.log"
    assert server[4:6] == ["python3", "/opt/netmatrix/app/server.py"]
    assert server[server.index("--port") + 1] == str(request.port)
    [client] = started(conn, "python3 /opt/netmatrix/app/client.py")
    assert client[client.index("--host") + 1] == "127.0.0.1"
    [stop] = started(conn, "sh -c 'kill")
    assert stop[-1] == "/var/tmp/netmatrix/t1/server.log.pid"
    assert_torn_down_last(conn, request)


def test_the_perf_script_text_comes_back_only_when_asked(tmp_path: Path) -> None:
    conn = lab_host()
    outcome = run.execute(conn, make_request(tmp_path, keep_script=True))
    [xz] = started(conn, "xz")
    assert xz[-1] == "/var/tmp/netmatrix/t1/perf.txt"
    [kept] = [item for item in outcome.artifacts if item.kind == "perf-script"]
    assert kept.path.read_bytes() == conn.files["/var/tmp/netmatrix/t1/perf.txt.xz"]
    assert started(lab_host(), "xz") == []


# --- runs that do not work -----------------------------------------------------------------------


def test_a_failing_client_fails_the_run_with_its_own_words(tmp_path: Path) -> None:
    stderr = "client: 3 error(s), last: connection refused by 172.17.0.3:31337/tcp"
    conn = lab_host((r"^docker exec ", (1, json.dumps(PLAIN | {"errors": 3}) + "\n", stderr)))
    request = make_request(tmp_path)
    outcome = run.execute(conn, request)
    assert outcome == RunOutcome(
        status="failed", error=f"plain phase: the client reported 3 errors (rc=1): {stderr}"
    )
    assert started(conn, "perf record") == []
    assert_torn_down_last(conn, request)


def test_a_client_that_printed_nothing_fails_with_its_last_line(tmp_path: Path) -> None:
    conn = lab_host((r"^docker exec ", (137, "", "Killed")))
    outcome = run.execute(conn, make_request(tmp_path))
    assert outcome.error == "plain phase: the client printed no result (rc=137): Killed"


def test_a_mode_the_facts_refuse_is_unsupported_without_asking_docker(tmp_path: Path) -> None:
    conn = lab_host()
    request = make_request(tmp_path, "ipvlan-l2")
    outcome = run.execute(conn, request)
    assert outcome == RunOutcome(
        status="unsupported", error="ipvlan-l2: Error: Unknown device type."
    )
    assert started(conn, "docker") == []
    assert len(conn.commands) == 1
    assert_torn_down_last(conn, request)


def test_a_mode_docker_refuses_is_unsupported_with_dockers_words(tmp_path: Path) -> None:
    refusal = (
        "Error response from daemon: failed to create the ipvlan port: operation not supported"
    )
    conn = lab_host((r"^docker network create ", (1, "", refusal)))
    request = make_request(
        tmp_path, "ipvlan-l2", facts={"netdev_types": netdev_types("unprivileged")}
    )
    outcome = run.execute(conn, request)
    assert outcome == RunOutcome(status="unsupported", error=f"ipvlan-l2: {refusal}")
    assert started(conn, "docker run") == []
    assert_torn_down_last(conn, request)


def test_ctrl_c_mid_run_tears_down_then_propagates(tmp_path: Path) -> None:
    def interrupted(text: str) -> tuple[int, str, str]:
        raise KeyboardInterrupt

    conn = lab_host((r"^perf record ", interrupted))
    request = make_request(tmp_path)
    said: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        run.execute(conn, request, said.append)
    assert said[-2:] == ["traced", "teardown"]
    assert_torn_down_last(conn, request)


def test_a_host_without_perf_names_provisioning(tmp_path: Path) -> None:
    conn = lab_host((r"^perf record ", (127, "", "sudo: perf: command not found")))
    request = make_request(tmp_path)
    outcome = run.execute(conn, request)
    assert outcome == RunOutcome("failed", "perf missing on the host: run invoke provision")
    assert_torn_down_last(conn, request)


def test_a_failed_reduction_fails_the_run(tmp_path: Path) -> None:
    conn = lab_host((r"netmatrix-reduce\.pyz", (1, "", "Traceback …\nMemoryError")))
    outcome = run.execute(conn, make_request(tmp_path))
    assert outcome == RunOutcome("failed", "reducing the trace failed: MemoryError")


def test_a_server_that_never_listens_fails_with_its_last_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "READY_TIMEOUT", 0.0)
    crash = "Traceback …\nOSError: [Errno 98] Address already in use\n"
    conn = lab_host((r"^docker logs ", (0, crash)))
    request = make_request(tmp_path)
    outcome = run.execute(conn, request)
    assert outcome == RunOutcome(
        "failed",
        "the traffic server did not start within 0s: OSError: [Errno 98] Address already in use",
    )
    assert started(conn, "docker exec") == []
    assert_torn_down_last(conn, request)


# --- values never reach a shell ------------------------------------------------------------------


def test_every_value_reaches_the_host_as_one_argument(tmp_path: Path) -> None:
    """Quoted argument by argument: a value that a shell would run stays inert text."""
    perf = dataclasses.replace(SPEC.trace.perf, events=(f"net:{EVIL}",))
    spec = dataclasses.replace(SPEC, trace=dataclasses.replace(SPEC.trace, perf=perf))
    request = make_request(
        tmp_path,
        "macvlan",
        spec=spec,
        proto=EVIL,
        lab_nic=f"eth1{EVIL}",
        subnet=f"10.9.0.0/24;{EVIL}",
    )
    conn = lab_host()
    assert run.execute(conn, request).status == "ok"
    for text in conn.commands:
        argv = shlex.split(text)
        assert sum(arg.count(EVIL) for arg in argv) == text.count(EVIL), text
    [network] = started(conn, "docker network create")
    assert network[network.index("--subnet") + 1] == f"10.9.0.0/24;{EVIL}"
    assert f"parent=eth1{EVIL}" in network
    [perf] = started(conn, "perf record")
    assert perf[perf.index("-e") + 1] == f"net:{EVIL}"
    [client] = started(conn, "docker exec")
    assert client[client.index("--proto") + 1] == EVIL
    [server] = started(conn, "docker run -d --name nm-t1-srv")
    assert server[server.index("--proto") + 1] == EVIL
