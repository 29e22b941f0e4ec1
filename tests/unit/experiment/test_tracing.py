"""perf around the client: the recording command, what perf says on stderr, and the fixes it
names when it could not run."""

import pytest

from orchestrator.connection import CommandResult
from orchestrator.experiment import tracing
from orchestrator.experiment.tracing import PerfOptions, PerfRecording, TracingUnavailable

CLIENT = ["docker", "exec", "nm-t1-cli", "python3", "/app/client.py", "--size", "64"]


def result(rc: int, stderr: str = "") -> CommandResult:
    return CommandResult(command="perf record", rc=rc, stdout="", stderr=stderr)


def test_the_sampling_period_only_works_with_no_period() -> None:
    """`-c N` alone does not thin a tracepoint recording: while samples carry their period,
    the kernel samples every tracepoint hit whatever N is, so a period of 100 would record
    as much as a period of 1. `--no-period` must come with `-c N`, or traces grow without
    bound on a busy path.
    """
    argv = tracing.record_argv(PerfOptions(period=100), "/w/perf.data", CLIENT)
    assert "--no-period" in argv
    assert argv[argv.index("-c") + 1] == "100"


def test_perf_records_system_wide_around_exactly_the_client() -> None:
    argv = tracing.record_argv(
        PerfOptions(events=("net:*", "skb:kfree_skb"), call_graph="dwarf", period=1),
        "/w/perf.data",
        CLIENT,
    )
    assert argv[:3] == ["perf", "record", "-a"]
    separator = argv.index("--")
    assert argv[separator + 1 :] == CLIENT
    options = argv[:separator]
    assert options[-2:] == ["-o", "/w/perf.data"]
    assert [options[i + 1] for i, arg in enumerate(options) if arg == "-e"] == [
        "net:*",
        "skb:kfree_skb",
    ]
    assert options[options.index("--call-graph") + 1] == "dwarf"


def test_no_call_graph_leaves_the_option_out() -> None:
    argv = tracing.record_argv(PerfOptions(call_graph="none"), "/w/perf.data", CLIENT)
    assert "--call-graph" not in argv
    assert "none" not in argv


def test_perf_script_reads_the_recording() -> None:
    assert tracing.script_argv("/w/perf.data") == ["perf", "script", "-i", "/w/perf.data"]


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            "[ perf record: Woken up 1 times to write data ]\n"
            "[ perf record: Captured and wrote 0.254 MB /tmp/t.data (583 samples) ]\n",
            PerfRecording(samples=583, lost=0),
        ),
        (
            "Processed 1234 events and lost 5 chunks!\n\nCheck IO/CPU overload!\n\n"
            "[ perf record: Captured and wrote 12.031 MB perf.data (40211 samples) ]\n",
            PerfRecording(samples=40211, lost=5),
        ),
        (
            "Processed 1234 events and lost 5 chunks!\nProcessed 99 events and lost 2 chunks!\n",
            PerfRecording(samples=None, lost=7),
        ),
        ("", PerfRecording(samples=None, lost=0)),
    ],
)
def test_samples_and_lost_chunks_come_from_perfs_own_lines(
    stderr: str, expected: PerfRecording
) -> None:
    assert tracing.parse_recording(stderr) == expected


def test_a_missing_perf_names_provisioning() -> None:
    for missing in (result(127, "sh: 1: perf: not found"), result(1, "sudo: perf: not found")):
        with pytest.raises(TracingUnavailable, match=r"^perf missing on the host: run invoke"):
            tracing.check_perf_ran(missing)


def test_unreachable_tracepoints_name_tracefs() -> None:
    stderr = (
        "event syntax error: 'net:*'\n"
        "                     \\___ unknown tracepoint\n\n"
        "Error:\tUnable to find debugfs/tracefs\n"
        "Hint:\tWas your kernel compiled with debugfs/tracefs support?\n"
    )
    with pytest.raises(TracingUnavailable) as refused:
        tracing.check_perf_ran(result(129, stderr))
    assert str(refused.value) == (
        "perf cannot open the tracepoints (tracefs not mounted at /sys/kernel/tracing?): "
        "run invoke provision"
    )


def test_a_recording_that_ran_passes_whatever_the_client_did() -> None:
    """Only perf's own failures are refused: the same exit code with perf's words is."""
    ran = "[ perf record: Captured and wrote 0.1 MB x (3 samples) ]"
    client_failed = "client: 2 error(s), last: connection refused"
    assert tracing.check_perf_ran(result(0, ran)) is None
    assert tracing.check_perf_ran(result(1, client_failed)) is None
    with pytest.raises(TracingUnavailable, match="perf missing on the host"):
        tracing.check_perf_ran(result(1, client_failed + "\nsh: 1: perf: not found"))


def test_a_tracer_counts_only_when_the_kernel_lists_it() -> None:
    assert tracing.has_tracer(["function_graph", "nop"], "function_graph")
    assert not tracing.has_tracer(["nop"], "function_graph")
    assert not tracing.has_tracer(None, "function_graph")
