"""One run: set the mode up, start the server, measure (plain, then traced), collect, tear down.

Teardown is in `finally` and does not depend on how far set-up got: everything a run creates
on the host carries the run's label or lives in the run's work directory, so removing "all of
this run's things" is always correct, whether the run succeeded, failed or was interrupted
(Ctrl-C raises KeyboardInterrupt through here; teardown runs, then it propagates).

The traced phase runs `perf record -a … -- <client>`, then `perf script` and the reducer on
the host, so only the reduction (a few kB) and, when asked, the compressed text come back.
When the spec has `ftrace`, the client then runs once more under function_graph, in a pass of
its own after perf's, so that neither tracer's cost lands in the other's numbers; a kernel
without the tracer makes that part `unsupported` (in the kernel's words), not the run.
A cell with a netem value has it put on the path once the server listens, before the first
phase (`netem.py`); a kernel without netem makes the run `unsupported`, in tc's words.

One file of about 500 lines: the phases share the request, the placement and the teardown
guarantee above; the tracers' own commands live in `tracing.py`, the modes' in `modes.py`.
"""

from __future__ import annotations

import dataclasses
import json
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.analysis.ftrace_reduce import GraphedFunction
from orchestrator.artifacts import Artifact, fetch_artifact, write_artifact
from orchestrator.connection import CommandResult, Connection, last_line
from orchestrator.errors import DiskFull, NetmatrixError
from orchestrator.experiment import modes, netem, tracing
from orchestrator.experiment.cells import Cell
from orchestrator.experiment.hosttools import REDUCER_PATH
from orchestrator.experiment.spec import Spec
from orchestrator.outcome import Status

REMOTE_WORK = "/var/tmp/netmatrix"
READY_TIMEOUT = 15.0
CLIENT_GRACE = 30.0


class RunFailed(NetmatrixError):
    """The run could not measure (server never ready, client error, trace lost)."""


@dataclass(frozen=True)
class RunRequest:
    """Everything one run needs to know; `tag` names all it creates on the host."""

    spec: Spec
    cell: Cell
    repetition: int
    tag: str
    facts: Mapping[str, Any]
    artifact_dir: Path
    lab_nic: str | None = None
    subnet: str = modes.DEFAULT_MACVLAN_SUBNET
    keep_script: bool = False

    @property
    def workdir(self) -> str:
        return f"{REMOTE_WORK}/{self.tag}"

    @property
    def process_name(self) -> str:
        """What server and client call themselves, so the reducer counts only their records
        (comm is at most 15 characters; the tag makes it this run's own)."""
        return f"nm-{self.tag}"[:15]

    @property
    def port(self) -> int:
        """A port of this run's own, so a server left by a crashed run cannot answer it."""
        return 20000 + zlib.crc32(self.tag.encode()) % 20000


@dataclass(frozen=True)
class RunOutcome:
    """What a run produced, ready for `repository.finish_run`."""

    status: Status
    error: str | None = None
    metrics: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    event_counts: Mapping[str, int] = field(default_factory=dict)
    device_counts: Mapping[str, int] = field(default_factory=dict)
    function_counts: Mapping[str, int] = field(default_factory=dict)
    artifacts: tuple[Artifact, ...] = ()
    ftrace: tuple[GraphedFunction, ...] = ()


def execute(conn: Connection, request: RunRequest, progress=None) -> RunOutcome:
    """Run one repetition of one cell on `conn`'s host; never leaves anything behind."""
    say = progress or (lambda phase: None)
    driver = modes.driver_for(request.cell.mode)
    try:
        modes.check_kernel_support(driver, request.facts.get("netdev_types"))
        say("set-up")
        conn.sudo(["mkdir", "-p", request.workdir], check=True)
        placement = modes.prepare(
            conn, driver, request.tag, parent_nic=request.lab_nic, subnet=request.subnet
        )
        _start_server(conn, driver, placement, request)
        target = modes.server_address(conn, driver, placement)
        shaped = _shape(conn, driver, placement, request, say)
        outcome = _measure(conn, placement, request, target, say)
        return dataclasses.replace(outcome, artifacts=(*shaped, *outcome.artifacts))
    except (modes.ModeUnsupported, netem.NetemUnsupported) as refusal:
        return RunOutcome(status=Status.UNSUPPORTED, error=str(refusal))
    except DiskFull:
        raise  # not this run's fault alone: the matrix stops (teardown still runs)
    except NetmatrixError as error:
        return RunOutcome(status=Status.FAILED, error=str(error))
    finally:
        say("teardown")
        teardown(conn, request)


def _shape(
    conn: Connection,
    driver: modes.ModeDriver,
    placement: modes.Placement,
    request: RunRequest,
    say,
) -> tuple[Artifact, ...]:
    """Put the cell's netem on the run's path; the record of what tc then holds (none: none).

    Teardown removes it (`netem.REMOVE_SH`), whatever happens after this.
    """
    value = request.cell.netem
    if value == netem.NONE:
        return ()
    say("netem")
    device = netem.device(driver, placement)
    shown = netem.apply(conn, device, value, request.workdir)
    text = netem.record(device, value, shown)
    return (write_artifact(request.artifact_dir, "netem.txt", text),)


def _measure(
    conn: Connection, placement: modes.Placement, request: RunRequest, target: str, say
) -> RunOutcome:
    metrics: dict[str, tuple[float, str]] = {}
    artifacts: list[Artifact] = []
    reduction: dict[str, Any] = {}
    graphed: tuple[GraphedFunction, ...] = ()
    client_args = _client_args(request, target)
    client = modes.client_argv(placement, client_args)
    timeout = request.spec.warmup + request.spec.duration + CLIENT_GRACE
    for phase in request.spec.phases:
        say(phase)
        if phase == "plain":
            result = conn.sudo(client, timeout=timeout)
        else:
            data = f"{request.workdir}/perf.data"
            perf = tracing.PerfOptions(
                request.spec.trace.perf.events,
                request.spec.trace.perf.call_graph,
                request.spec.trace.perf.period,
            )
            result = conn.sudo(tracing.record_argv(perf, data, client), timeout=timeout + 30)
            tracing.check_perf_ran(result)
        report = _client_report(result, phase)
        artifacts.append(write_artifact(request.artifact_dir, f"client-{phase}.json", report))
        metrics.update(_client_metrics(report, phase))
        if phase == "traced":
            recording = tracing.parse_recording(result.stderr)
            say("perf script")
            reduction, fetched = _reduce_on_host(conn, request)
            artifacts += fetched
            metrics["lost_events"] = (float(recording.lost + reduction.get("lost", 0)), "events")
            metrics["events"] = (float(reduction["records"]), "events")
            metrics["records"] = (float(reduction["records"]), "records")
            metrics["records_all"] = (float(reduction["records_all"]), "records")
            metrics["unreadable_lines"] = (float(reduction["unreadable_lines"]), "lines")
            if request.spec.trace.ftrace is not None:
                say("ftrace")
                graphed, ftrace_metrics, fetched = _ftrace_pass(conn, request, client, timeout)
                metrics.update(ftrace_metrics)
                artifacts += fetched
    say("collect")
    server_lines = _stop_server(conn, placement, request)
    artifacts.append(
        write_artifact(request.artifact_dir, "server.json", "\n".join(server_lines) + "\n")
    )
    return RunOutcome(
        status=Status.OK,
        metrics=metrics,
        event_counts=reduction.get("events", {}),
        device_counts=reduction.get("devices", {}),
        function_counts=reduction.get("functions", {}),
        artifacts=tuple(artifacts),
        ftrace=graphed,
    )


def _ftrace_pass(
    conn: Connection, request: RunRequest, client: Sequence[str], timeout: float
) -> tuple[tuple[GraphedFunction, ...], dict[str, tuple[float, str]], list[Artifact]]:
    """The client once more under function_graph; the tracer is reset whatever happens."""
    options = request.spec.trace.ftrace
    assert options is not None
    try:
        # + the time to read the ring buffers out as text, as long as perf script's
        result = conn.sudo(
            tracing.ftrace_argv(options, request.workdir, client), timeout=timeout + 600
        )
    finally:
        conn.sudo(tracing.ftrace_reset_argv(request.workdir), timeout=30)
    recording = tracing.parse_ftrace_pass(result)
    if recording.unsupported is not None:
        unsupported = tuple(
            GraphedFunction(name, "unsupported", recording.unsupported)
            for name in options.graph_functions
        )
        return unsupported, {}, []
    report = _client_report(result, "ftrace")
    artifacts = [write_artifact(request.artifact_dir, "client-ftrace.json", report)]
    accepted = [name for name in options.graph_functions if name not in recording.refused]
    work = request.workdir
    reduced = conn.sudo(
        [
            "python3",
            REDUCER_PATH,
            f"{work}/ftrace.txt",
            "--out",
            f"{work}/ftrace.json",
            "--function-graph",
            ",".join(accepted),
            "--ftrace-stats",
            f"{work}/ftrace.stats",
        ],
        timeout=600,
    )
    if not reduced.ok:
        raise RunFailed(f"reducing the ftrace trace failed: {last_line(reduced)}")
    artifacts += _fetch(
        conn, request, [("ftrace-reduction", "ftrace.json")], ("ftrace", "ftrace.txt")
    )
    reduction = json.loads((request.artifact_dir / "ftrace.json").read_text())
    found = {item["function"]: GraphedFunction.from_dict(item) for item in reduction["functions"]}
    graphed = tuple(
        found.get(name) or GraphedFunction(name, "unsupported", recording.refused[name])
        for name in options.graph_functions
    )
    metrics = _client_metrics(report, "ftrace")
    metrics["ftrace_overrun"] = (float(reduction["overrun"]), "entries")
    metrics["ftrace_lost"] = (float(reduction["lost"]), "events")
    return graphed, metrics, artifacts


def _fetch(
    conn: Connection,
    request: RunRequest,
    remote: Sequence[tuple[str, str]],
    kept: tuple[str, str],
) -> list[Artifact]:
    """Fetch the work directory's files `remote` (kind, name), and the raw trace `kept`
    (kind, name) compressed with xz when the run was asked to keep it."""
    work = request.workdir
    wanted = list(remote)
    if request.keep_script:
        kind, name = kept
        conn.sudo(["xz", "-1", "-T1", f"{work}/{name}"], timeout=600, check=True)
        wanted.append((kind, f"{name}.xz"))
    return [
        fetch_artifact(conn, f"{work}/{name}", request.artifact_dir, name, kind)
        for kind, name in wanted
    ]


def _server_args(request: RunRequest) -> list[str]:
    return [
        "--proto",
        request.cell.proto,
        "--port",
        str(request.port),
        "--mode",
        request.spec.traffic,
        "--size",
        str(request.cell.size),
        "--process-name",
        request.process_name,
    ]


def _client_args(request: RunRequest, target: str) -> list[str]:
    return [
        "--proto",
        request.cell.proto,
        "--host",
        target,
        "--port",
        str(request.port),
        "--size",
        str(request.cell.size),
        "--duration",
        str(request.spec.duration),
        "--warmup",
        str(request.spec.warmup),
        "--mode",
        request.spec.traffic,
        "--process-name",
        request.process_name,
    ]


def _server_log(request: RunRequest) -> str:
    return f"{request.workdir}/server.log"


def _start_server(
    conn: Connection, driver: modes.ModeDriver, placement: modes.Placement, request: RunRequest
) -> None:
    if placement.containers:
        modes.start_containers(conn, driver, placement, _server_args(request))
    else:
        # `setsid` puts the server in its own session, so the SSH channel closing does not
        # take it down; the pid file lets teardown find it.
        argv = modes.server_argv(_server_args(request))
        conn.sudo(
            [
                "sh",
                "-c",
                'setsid "$@" > "$0" 2>&1 < /dev/null & echo $! > "$0.pid"',
                _server_log(request),
                *argv,
            ],
            check=True,
        )
    _wait_ready(conn, placement, request)


def _server_output(conn: Connection, placement: modes.Placement, request: RunRequest) -> str:
    if placement.containers:
        return conn.sudo(["docker", "logs", placement.server_name()], timeout=30).stdout
    return conn.sudo(["cat", _server_log(request)], timeout=30).stdout


def _wait_ready(conn: Connection, placement: modes.Placement, request: RunRequest) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if '"listening"' in _server_output(conn, placement, request):
            return
        time.sleep(0.2)
    tail = _server_output(conn, placement, request).strip().splitlines()[-1:] or ["no output"]
    raise RunFailed(f"the traffic server did not start within {READY_TIMEOUT:.0f}s: {tail[0]}")


def _stop_server(conn: Connection, placement: modes.Placement, request: RunRequest) -> list[str]:
    """Stop the server (SIGTERM makes it print its open flows) and return its JSON lines."""
    if placement.containers:
        conn.sudo(["docker", "stop", "-t", "5", placement.server_name()], timeout=30)
    else:
        conn.sudo(
            [
                "sh",
                "-c",
                'kill "$(cat "$0")" 2>/dev/null; sleep 0.2',
                f"{_server_log(request)}.pid",
            ],
            timeout=30,
        )
    output = _server_output(conn, placement, request)
    return [line for line in output.splitlines() if line.startswith("{")]


def _client_report(result: CommandResult, phase: str) -> str:
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RunFailed(
            f"{phase} phase: the client printed no result (rc={result.rc}): {last_line(result)}"
        )
    report = json.loads(lines[-1])
    if result.rc != 0 or report.get("errors"):
        raise RunFailed(
            f"{phase} phase: the client reported {report.get('errors')} errors "
            f"(rc={result.rc}): {last_line(result)}"
        )
    return lines[-1] + "\n"


def _client_metrics(report_line: str, phase: str) -> dict[str, tuple[float, str]]:
    report = json.loads(report_line)
    seconds = float(report["seconds"]) or 1e-9
    metrics = {
        f"mbps/{phase}": (float(report["mbps"]), "Mbit/s"),
        f"msgs_per_s/{phase}": (float(report["messages"]) / seconds, "messages/s"),
        f"bytes/{phase}": (float(report["bytes"]), "bytes"),
        f"seconds/{phase}": (seconds, "s"),
    }
    for name, value in (report.get("latency_us") or {}).items():
        metrics[f"latency_{name}/{phase}"] = (float(value), "us")
    return metrics


def _reduce_on_host(conn: Connection, request: RunRequest) -> tuple[dict[str, Any], list[Artifact]]:
    """`perf script` and the reducer on the host; fetch the reduction (and the text if asked)."""
    work = request.workdir
    script = f"{work}/perf.txt"
    produced = conn.sudo(
        ["sh", "-c", 'perf script -i "$0" > "$1"', f"{work}/perf.data", script], timeout=600
    )
    if not produced.ok:
        raise RunFailed(f"perf script failed: {last_line(produced)}")
    reduced = conn.sudo(
        [
            "python3",
            REDUCER_PATH,
            script,
            "--out",
            f"{work}/reduction.json",
            "--folded",
            f"{work}/folded.txt.gz",
            "--comm-prefix",
            request.process_name,
        ],
        timeout=600,
    )
    if not reduced.ok:
        raise RunFailed(f"reducing the trace failed: {last_line(reduced)}")
    fetched = _fetch(
        conn,
        request,
        [("reduction", "reduction.json"), ("folded", "folded.txt.gz")],
        ("perf-script", "perf.txt"),
    )
    reduction = json.loads((request.artifact_dir / "reduction.json").read_text())
    reduction["lost"] = tracing.parse_recording(produced.stderr).lost
    return reduction, fetched


# `kill_and_wait PGREP-ARGS`: SIGKILL the matching processes, then wait (10 s at most) until
# those very processes are gone, so that what teardown and sweep report done is done. By pid,
# not by pattern: a dying process loses its command line at once but can take seconds to
# leave (a perf recording system-wide, in uninterruptible sleep while it frees its buffers).
_KILL_AND_WAIT = """kill_and_wait() {
    pids=$(pgrep "$@") || return 0
    kill -KILL $pids 2>/dev/null
    i=0
    while [ $i -lt 100 ]; do
        alive=""
        for pid in $pids; do [ -e "/proc/$pid" ] && alive=1; done
        [ -n "$alive" ] || return 0
        sleep 0.1; i=$((i + 1))
    done
}
"""

# Removes the containers and networks labelled "$label": the end of teardown and of sweep.
_REMOVE_LABELLED = """if command -v docker >/dev/null; then
    containers=$(docker ps -aq --filter "label=$label")
    [ -z "$containers" ] || docker rm -f $containers >/dev/null
    networks=$(docker network ls -q --filter "label=$label")
    [ -z "$networks" ] || docker network rm $networks >/dev/null
fi
"""

# One round trip for the whole teardown. The process patterns start with a bracket expression
# (`[p]erf`) so that they cannot match the command line of the shell that carries them. The
# ftrace pass's shell (`sh -c … ftrace WORK …`) dies before the tracer is reset, so that it
# cannot switch tracing off again after the reset.
_TEARDOWN = f"""
tag="$1"; port="$2"; work="$3"; label="{modes.LABEL}=$tag"
traffic="[c]lient.py .*--port $port|[s]erver.py .*--port $port"
{_KILL_AND_WAIT}kill_and_wait -f "[p]erf .*$tag|[f]trace $work |$traffic"
{tracing.FTRACE_RESET}ftrace_reset "$work/{tracing.FTRACE_STATE}"
{netem.REMOVE_SH}netem_remove "$work/{netem.MARKER}"
{_REMOVE_LABELLED}rm -rf "$work"
"""


def teardown(conn: Connection, request: RunRequest) -> None:
    """Kill this run's processes, reset ftrace if its pass changed it, remove its netem
    qdisc, containers, networks and work directory.

    Safe to call at any point and more than once: from the run's own `finally`, and from
    the main thread on Ctrl-C, which ends the remote commands a run is waiting on.
    """
    conn.sudo(
        ["sh", "-c", _TEARDOWN, "teardown", request.tag, str(request.port), request.workdir],
        timeout=90,
    )


# What any earlier run may have left: a host that died or lost its connection mid-run never
# got its teardown. `pgrep` without -f matches process names: the traffic generators are
# named nm-<hex digits of the run tag>, which no other program (nm-applet…) is; the
# pattern stays within 15 characters, the longest pgrep matches against a name.
_SWEEP = f"""
label={modes.LABEL}
{_KILL_AND_WAIT}kill_and_wait -f "[p]erf .*{REMOTE_WORK}/|[f]trace {REMOTE_WORK}/"
kill_and_wait "^nm-[0-9a-f]+$"
{tracing.FTRACE_RESET}for state in {REMOTE_WORK}/*/{tracing.FTRACE_STATE}; do
    ftrace_reset "$state"
done
{netem.REMOVE_SH}for marker in {REMOTE_WORK}/*/{netem.MARKER}; do
    netem_remove "$marker"
done
{_REMOVE_LABELLED}rm -rf {REMOTE_WORK}
"""


def sweep(conn: Connection) -> None:
    """Remove what earlier runs left on the host; the matrix does it once per host it uses.

    Safe because one matrix drives a host at a time (hosts of a hardware lane run one after
    another, and a second matrix on the same results refuses to start).
    """
    conn.sudo(["sh", "-c", _SWEEP], timeout=120)


def leftovers(conn: Connection) -> Sequence[str]:
    """What netmatrix runs left on a host: labelled containers/networks, work dirs, perf."""
    found = conn.sudo(
        [
            "sh",
            "-c",
            f"ls -1 {REMOTE_WORK} 2>/dev/null; pgrep -x perf; "
            "docker ps -aq --filter label=netmatrix.run; "
            "docker network ls -q --filter label=netmatrix.run",
        ],
        timeout=30,
    )
    return found.stdout.split()
