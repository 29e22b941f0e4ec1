"""The ftrace pass of a run against a fake lab host: after perf, around its own client run,
reduced by the real reducer from a real function_graph trace, reset whatever happens, and
`unsupported` in the kernel's words without costing the run its perf part."""

import dataclasses
import shlex
import subprocess
from pathlib import Path

from orchestrator.analysis import reduce
from orchestrator.experiment import run, tracing
from orchestrator.experiment.spec import Ftrace
from tests.fakes import FakeConnection
from tests.unit.analysis.test_ftrace_reduce import entry_lines
from tests.unit.experiment.test_run import PLAIN, SPEC, client_line, lab_host, make_request, started

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ftrace"
BRIDGE_LOG = FIXTURES / "ftrace_bridge.log"
FTRACED = PLAIN | {"messages": 10000, "bytes": 640000, "mbps": 10.24}
STATS = (
    "entries: 120\noverrun: 7\ncommit overrun: 0\nbytes: 4000\ndropped events: 2\n"
    "read events: 0\nentries: 80\noverrun: 3\ncommit overrun: 0\ndropped events: 0\n"
)
TRACE_LINE = " 0)   0.215 us    |  br_dev_queue_push_xmit();"
GRAPHED = ("br_dev_queue_push_xmit", "macvlan_start_xmit")
SPEC_FTRACE = dataclasses.replace(
    SPEC,
    trace=dataclasses.replace(SPEC.trace, ftrace=Ftrace(GRAPHED, ("br_*",), 2048, 8)),
)
NO_TRACER = (
    "netmatrix-ftrace-unsupported: the kernel has no function_graph tracer "
    "(available_tracers: blk function nop)"
)


def ftrace_host(tmp_path: Path, *first, trace: Path = BRIDGE_LOG) -> FakeConnection:
    """`lab_host` whose ftrace pass leaves `trace` and STATS, reduced by the real reducer."""
    conn = lab_host(
        *first,
        (r"^sh -c 'set -f", (*client_line(FTRACED), "")),
        (r"^sh -c 'ftrace_reset", (0, "")),
        (r"netmatrix-reduce\.pyz \S+/ftrace\.txt ", lambda text: reducer(conn, text, tmp_path)),
    )
    conn.files["trace"] = trace.read_bytes()
    return conn


def reducer(conn: FakeConnection, text: str, tmp_path: Path) -> tuple[int, str, str]:
    """Run the real reducer on local copies of the host's files, as the zipapp would."""
    argv = shlex.split(text)
    local = tmp_path / "host"
    local.mkdir(exist_ok=True)
    (local / "ftrace.txt").write_bytes(conn.files["trace"])
    (local / "ftrace.stats").write_text(STATS)
    functions = argv[argv.index("--function-graph") + 1]
    args = [str(local / "ftrace.txt"), "--out", str(local / "out.json")]
    rc = reduce.main(
        [*args, "--function-graph", functions, "--ftrace-stats", str(local / "ftrace.stats")]
    )
    conn.files[argv[argv.index("--out") + 1]] = (local / "out.json").read_bytes()
    return rc, "", ""


def test_the_ftrace_pass_comes_after_perf_around_its_own_client(tmp_path: Path) -> None:
    said: list[str] = []
    conn = ftrace_host(tmp_path)
    request = make_request(tmp_path, spec=SPEC_FTRACE)
    outcome = run.execute(conn, request, said.append)

    assert outcome.status == "ok", outcome.error
    assert said == ["set-up", "plain", "traced", "perf script", "ftrace", "collect", "teardown"]
    [client] = started(conn, "docker exec")
    [ftrace] = started(conn, "sh -c 'set -f")
    assert ftrace[3:9] == ["ftrace", request.workdir, "8", "2048", " ".join(GRAPHED), "br_*"]
    assert ftrace[9:] == client
    commands = conn.commands
    perf = next(i for i, text in enumerate(commands) if text.startswith("perf record"))
    recording = next(i for i, text in enumerate(commands) if text.startswith("sh -c 'set -f"))
    assert perf < recording
    assert commands[recording + 1].startswith("sh -c 'ftrace_reset")  # reset right after
    assert outcome.metrics["mbps/traced"] == (20.48, "Mbit/s")
    assert outcome.metrics["mbps/ftrace"] == (10.24, "Mbit/s")
    assert outcome.metrics["ftrace_overrun"] == (10.0, "entries")
    assert outcome.metrics["ftrace_lost"] == (2.0, "events")


def test_the_stored_figures_are_the_raw_traces(tmp_path: Path) -> None:
    outcome = run.execute(ftrace_host(tmp_path), make_request(tmp_path, spec=SPEC_FTRACE))

    push, macvlan = outcome.ftrace
    assert (push.function, push.status) == ("br_dev_queue_push_xmit", "ok")
    assert push.calls == len(entry_lines(BRIDGE_LOG, "br_dev_queue_push_xmit")) == 8
    assert push.timed_calls == 8
    assert push.p50_us is not None and push.p90_us is not None and push.p99_us is not None
    assert push.p50_us <= push.p90_us <= push.p99_us
    assert push.top_callees[0].function == "br_switchdev_frame_set_offload_fwd_mark"
    assert (push.overrun, push.lost) == (10, 2)
    assert (macvlan.status, macvlan.calls, macvlan.mean_us) == ("ok", 0, None)
    kinds = {item.kind for item in outcome.artifacts}
    assert {"client-ftrace", "ftrace-reduction"} <= kinds
    assert "ftrace" not in kinds  # the raw text only when asked


def test_the_raw_trace_comes_back_compressed_when_asked(tmp_path: Path) -> None:
    conn = ftrace_host(tmp_path)
    outcome = run.execute(conn, make_request(tmp_path, spec=SPEC_FTRACE, keep_script=True))
    assert [xz[-1] for xz in started(conn, "xz")] == [
        "/var/tmp/netmatrix/t1/perf.txt",
        "/var/tmp/netmatrix/t1/ftrace.txt",
    ]
    [kept] = [item for item in outcome.artifacts if item.kind == "ftrace"]
    assert kept.path.name == "ftrace.txt.xz"


def test_a_kernel_without_function_graph_makes_only_ftrace_unsupported(tmp_path: Path) -> None:
    conn = ftrace_host(tmp_path, (r"^sh -c 'set -f", (97, "", NO_TRACER + "\n")))
    outcome = run.execute(conn, make_request(tmp_path, spec=SPEC_FTRACE))

    assert (outcome.status, outcome.error) == ("ok", None)
    assert outcome.metrics["mbps/traced"] == (20.48, "Mbit/s")
    assert "mbps/ftrace" not in outcome.metrics
    words = NO_TRACER.removeprefix("netmatrix-ftrace-unsupported: ")
    assert [(item.function, item.status, item.error) for item in outcome.ftrace] == [
        (name, "unsupported", words) for name in GRAPHED
    ]
    assert started(conn, "sh -c 'ftrace_reset")  # reset even so


def test_a_refused_root_is_unsupported_by_name_and_the_others_are_graphed(tmp_path: Path) -> None:
    refused = "netmatrix-ftrace-refused: macvlan_start_xmit Invalid argument\n"
    conn = ftrace_host(tmp_path, (r"^sh -c 'set -f", (*client_line(FTRACED), refused)))
    outcome = run.execute(conn, make_request(tmp_path, spec=SPEC_FTRACE))

    push, macvlan = outcome.ftrace
    assert (push.status, push.calls) == ("ok", 8)
    assert (macvlan.status, macvlan.error) == (
        "unsupported",
        "set_graph_function refused macvlan_start_xmit: Invalid argument",
    )
    [reducer_argv] = started(
        conn, "python3 /opt/netmatrix/netmatrix-reduce.pyz /var/tmp/netmatrix/t1/ftrace"
    )
    assert reducer_argv[reducer_argv.index("--function-graph") + 1] == "br_dev_queue_push_xmit"


def test_the_tracer_is_reset_when_the_pass_itself_breaks(tmp_path: Path) -> None:
    conn = ftrace_host(tmp_path, (r"^sh -c 'set -f", (1, "", "client: connection refused")))
    outcome = run.execute(conn, make_request(tmp_path, spec=SPEC_FTRACE))

    assert outcome.status == "failed"
    assert "ftrace phase: the client printed no result" in (outcome.error or "")
    [reset] = started(conn, "sh -c 'ftrace_reset")
    assert reset[-1] == "/var/tmp/netmatrix/t1"


def test_teardown_and_sweep_reset_the_tracer_too() -> None:
    """A run that died mid-pass left function_graph on: teardown, and the sweep after a lost
    host, kill the pass's shell first, then reset from the state it saved."""
    teardown, sweep = run._TEARDOWN, run._SWEEP
    assert teardown.index("[f]trace $work ") < teardown.index('ftrace_reset "$work/ftrace.state"')
    assert sweep.index("[f]trace /var/tmp/netmatrix/") < sweep.index('ftrace_reset "$state"')
    assert sweep.index("/var/tmp/netmatrix/*/ftrace.state") < sweep.index("rm -rf")


# --- the shell scripts themselves, on a directory laid out like tracefs ---------------------


def fake_tracefs(root: Path, tracers: str = "function_graph function nop") -> Path:
    """Regular files named like tracefs's."""
    root.mkdir()
    files = {
        "available_tracers": tracers,
        "tracing_on": "1",
        "buffer_size_kb": "7 (expanded: 1408)",
        "max_graph_depth": "0",
        "current_tracer": "nop",
        "set_ftrace_filter": "",
        "set_graph_function": "",
        "trace": "stale entries of an earlier recording",
    }
    for name, text in files.items():
        (root / name).write_text(text + "\n")
    (root / "per_cpu" / "cpu0").mkdir(parents=True)
    (root / "per_cpu" / "cpu0" / "stats").write_text("entries: 1\noverrun: 4")
    return root


def shell(argv: list[str], tracefs: Path) -> subprocess.CompletedProcess[str]:
    argv = [arg.replace(tracing.TRACEFS, str(tracefs)) for arg in argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def test_the_pass_sets_the_tracer_up_records_and_the_reset_restores(tmp_path: Path) -> None:
    tracefs = fake_tracefs(tmp_path / "tracing")
    work = tmp_path / "work"
    work.mkdir()
    options = Ftrace(GRAPHED, ("br_*", "net*"), 2048, 8)
    # The "client" leaves a line in the trace, as the kernel would while it runs.
    client = f"echo client; echo '{TRACE_LINE}' >> {tracing.TRACEFS}/trace"
    recorded = shell(tracing.ftrace_argv(options, str(work), ["sh", "-c", client]), tracefs)

    assert (recorded.returncode, recorded.stdout, recorded.stderr) == (0, "client\n", "")
    assert (tracefs / "current_tracer").read_text().splitlines()[-1] == "function_graph"
    assert (tracefs / "set_graph_function").read_text().split() == list(GRAPHED)
    assert (tracefs / "set_ftrace_filter").read_text().split() == ["br_*", "net*"]
    assert (tracefs / "buffer_size_kb").read_text().split()[-1] == "2048"
    assert (tracefs / "max_graph_depth").read_text().split()[-1] == "8"
    assert (tracefs / "tracing_on").read_text().split()[-1] == "0"  # off after the client
    assert (work / "ftrace.txt").read_text() == TRACE_LINE + "\n"  # the stale entries cleared
    assert tracing.parse_ftrace_pass(
        tracing.CommandResult("sh", recorded.returncode, recorded.stdout, recorded.stderr)
    ) == tracing.FtraceRecording(None, {})
    assert (work / "ftrace.state").read_text() == "1 1408 0\n"

    reset = shell(tracing.ftrace_reset_argv(str(work)), tracefs)
    assert reset.returncode == 0
    assert [(tracefs / name).read_text() for name in ("current_tracer", "tracing_on")] == [
        "nop\n",
        "1\n",
    ]
    assert (tracefs / "set_graph_function").read_text() == ""
    assert (tracefs / "set_ftrace_filter").read_text() == ""
    assert (tracefs / "buffer_size_kb").read_text() == "1408\n"
    assert not (work / "ftrace.state").exists()
    (tracefs / "current_tracer").write_text("function\n")  # someone else's, later
    shell(tracing.ftrace_reset_argv(str(work)), tracefs)
    assert (tracefs / "current_tracer").read_text() == "function\n"  # not ours: untouched


def test_a_kernel_without_the_tracer_is_told_in_its_words(tmp_path: Path) -> None:
    tracefs = fake_tracefs(tmp_path / "tracing", tracers="blk function nop")
    result = shell(
        tracing.ftrace_argv(Ftrace(GRAPHED, (), 64, 0), str(tmp_path), ["true"]), tracefs
    )

    recording = tracing.parse_ftrace_pass(
        tracing.CommandResult("sh", result.returncode, result.stdout, result.stderr)
    )
    assert recording.unsupported == NO_TRACER.removeprefix("netmatrix-ftrace-unsupported: ")
    assert not (tmp_path / "ftrace.state").exists()  # nothing was changed


def test_a_root_the_kernel_refuses_is_named_and_an_all_refused_pass_records_nothing(
    tmp_path: Path,
) -> None:
    tracefs = fake_tracefs(tmp_path / "tracing")
    (tracefs / "set_graph_function").unlink()
    (tracefs / "set_graph_function").symlink_to("/dev/full")  # every write fails: ENOSPC
    result = shell(
        tracing.ftrace_argv(Ftrace(GRAPHED, (), 64, 0), str(tmp_path), ["true"]), tracefs
    )

    recording = tracing.parse_ftrace_pass(
        tracing.CommandResult("sh", result.returncode, result.stdout, result.stderr)
    )
    assert result.returncode == tracing.FTRACE_UNSUPPORTED_RC
    assert recording.unsupported is not None and "set_graph_function" in recording.unsupported
    assert set(recording.refused) == set(GRAPHED)
    assert recording.refused["macvlan_start_xmit"].startswith(
        "set_graph_function refused macvlan_start_xmit: "
    )
    assert (tracefs / "current_tracer").read_text().split()[-1] == "nop"  # never switched on
