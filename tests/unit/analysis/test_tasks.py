"""The `trace` invoke tasks, run through invoke's Program in-process and through the real
`invoke` script once; a missing file ends with exit code 2 and one line on stderr."""

from __future__ import annotations

import gzip
import io
import json
import lzma
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FTRACE, PERF, SYNTHETIC, run, trace_bytes

ROOT = Path(__file__).resolve().parents[3]


def sorted_lines(data: bytes) -> bytes:
    return b"".join(sorted(data.splitlines(keepends=True)))


def test_collapse_to_stdout(capsysbinary):
    assert run("trace.collapse", "--path", str(PERF / "bridge-64.perf.txt.xz")) == 0
    out, err = capsysbinary.readouterr()
    assert sorted_lines(out) == (PERF / "bridge-64.all.folded").read_bytes()
    assert err == b""


def test_collapse_event_to_file(tmp_path, capsysbinary):
    target = tmp_path / "out.folded"
    code = run(
        "trace.collapse",
        "--path",
        str(PERF / "loopback-64.perf.txt.xz"),
        "--event",
        "net:net_dev_queue",
        "--out",
        str(target),
    )
    assert code == 0
    assert (
        sorted_lines(target.read_bytes())
        == (PERF / "loopback-64.net_net_dev_queue.folded").read_bytes()
    )
    assert capsysbinary.readouterr().out == b""


def test_collapse_speedscope(tmp_path):
    target = tmp_path / "profile.speedscope.json"
    assert (
        run(
            "trace.collapse",
            "--path",
            str(SYNTHETIC / "frames.perf.txt"),
            "--format",
            "speedscope",
            "--out",
            str(target),
        )
        == 0
    )
    data = json.loads(target.read_text())
    assert data["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    profile = data["profiles"][0]
    assert profile["type"] == "sampled" and profile["unit"] == "none"
    assert len(profile["samples"]) == len(profile["weights"]) == 8
    frames = data["shared"]["frames"]
    names = [";".join(frames[i]["name"] for i in sample) for sample in profile["samples"]]
    folded = (SYNTHETIC / "frames.folded").read_text().splitlines()
    assert names == [line.rsplit(" ", 1)[0] for line in folded]
    assert profile["endValue"] == sum(profile["weights"])


def test_collapse_reports_unreadable_lines(capsysbinary):
    assert run("trace.collapse", "--path", str(SYNTHETIC / "structure.perf.txt")) == 0
    out, err = capsysbinary.readouterr()
    assert out == (SYNTHETIC / "structure.folded").read_bytes()
    assert b"3 unreadable line(s)" in err
    assert b"1 stack line(s) outside any record" in err
    assert b"no blank line after it" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("trace.collapse", "--path", "{missing}"),
        ("trace.summary", "--path", "{missing}"),
        ("trace.diff", "--baseline", "{missing}", "--path", str(PERF / "bridge-64.perf.txt.xz")),
        ("trace.diff", "--baseline", str(PERF / "bridge-64.perf.txt.xz"), "--path", "{missing}"),
        ("trace.ftrace", "--path", "{missing}"),
        ("trace.summary", "--path", str(PERF / "bridge-64.perf.txt.xz"), "--format", "xml"),
        ("trace.diff", "--baseline", "-", "--path", "-"),
    ],
)
def test_user_errors_exit_2(tmp_path, capsys, argv):
    missing = str(tmp_path / "absent.perf.txt")
    code = run(*(arg.replace("{missing}", missing) for arg in argv))
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_summary_json(capsys):
    assert (
        run(
            "trace.summary",
            "--path",
            str(PERF / "loopback-64.perf.txt.xz"),
            "--format",
            "json",
            "--top",
            "5",
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["records"] == 5064
    assert data["unreadable_lines"] == 0
    assert data["devices"]["lo"] > 0
    assert len(data["top_functions"]) == 5


def test_summary_table(capsys):
    assert run("trace.summary", "--path", str(PERF / "bridge-64.perf.txt.xz")) == 0
    out = capsys.readouterr().out
    for text in (
        "Records per event",
        "net:net_dev_queue",
        "docker0",
        "python3",
        "Payload length",
        "1024-2047",
        "Top 20 functions",
    ):
        assert text in out


def test_diff_json_and_table(capsys):
    base, target = str(PERF / "loopback-64.perf.txt.xz"), str(PERF / "bridge-64.perf.txt.xz")
    assert run("trace.diff", "--baseline", base, "--path", target, "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"extra", "missing", "changed"}
    assert data["extra"][0] == {"function": "br_handle_frame", "samples": 2946}
    assert run("trace.diff", "--baseline", base, "--path", target, "--factor", "3") == 0
    out = capsys.readouterr().out
    assert "br_handle_frame" in out and "Only in the baseline" in out


def test_ftrace_json(capsys):
    assert run("trace.ftrace", "--path", str(FTRACE / "ftrace_ipvlan.log"), "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cpus"] == [0, 1, 2, 3]
    assert len(data["context_switches"]) == 50
    assert run("trace.ftrace", "--path", str(FTRACE / "ftrace_bridge.log")) == 0
    assert "br_handle_frame" in capsys.readouterr().out


def test_real_invoke_script(tmp_path):
    invoke = Path(sys.executable).with_name("invoke")
    assert invoke.exists(), "the venv's invoke script is what users run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    plain = tmp_path / "loop.perf.txt"
    plain.write_bytes(trace_bytes("loopback-64"))
    with plain.open("rb") as stdin:
        done = subprocess.run(
            [str(invoke), "trace.collapse", "--path", "-"],
            cwd=ROOT,
            env=env,
            stdin=stdin,
            capture_output=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert sorted_lines(done.stdout) == (PERF / "loopback-64.all.folded").read_bytes()
    missing = subprocess.run(
        [str(invoke), "trace.collapse", "--path", str(tmp_path / "no")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert missing.returncode == 2
    assert missing.stderr.decode().startswith("error: ")


# Bytes no perf script or ftrace could print: NUL, invalid UTF-8, control characters.
GARBAGE = bytes(range(256)) * 4 + b"\xff\xfe\x00garbage\n"


def _no_record_inputs(tmp_path: Path) -> dict[str, Path]:
    inputs = {
        "garbage.bin": GARBAGE,
        "empty.txt": b"",
        "notes.txt": b"this is a README, not perf script output\n\nsecond paragraph\n",
        "garbage.gz": gzip.compress(GARBAGE),
        "empty.xz": lzma.compress(b""),
    }
    for name, data in inputs.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in inputs}


@pytest.mark.parametrize(
    "task", ["trace.summary", "trace.collapse", "trace.diff --path", "trace.diff --baseline"]
)
def test_a_trace_without_any_record_is_refused_in_one_line(tmp_path, capsys, task):
    good = str(PERF / "bridge-64.perf.txt.xz")
    for name, path in _no_record_inputs(tmp_path).items():
        name_flag, _, side = task.partition(" ")
        argv = (name_flag, "--path", str(path))
        if side == "--path":
            argv = (name_flag, "--baseline", good, "--path", str(path))
        elif side == "--baseline":
            argv = (name_flag, "--baseline", str(path), "--path", good)

        assert run(*argv) == 2, name
        out, err = capsys.readouterr()
        assert out == ""
        detail = "empty" if name.startswith("empty") else "unreadable line(s)"
        assert err.startswith(f"error: {path}: no perf script records (")
        assert detail in err and err.endswith("): is this the output of perf script?\n")
        assert err.count("\n") == 1


def test_an_ftrace_log_without_any_call_is_refused_but_its_banner_alone_is_not(tmp_path, capsys):
    garbage = _no_record_inputs(tmp_path)["garbage.bin"]
    assert run("trace.ftrace", "--path", str(garbage)) == 2
    assert capsys.readouterr().err == (
        f"error: {garbage}: no function_graph calls (5 unreadable line(s)): "
        "is this ftrace's function_graph output?\n"
    )
    banner = tmp_path / "banner.log"
    banner.write_text("# tracer: function_graph\n#\n# CPU  DURATION   FUNCTION CALLS\n")
    assert run("trace.ftrace", "--path", str(banner), "--format", "json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["calls"] == 0
    assert err == f"warning: {banner}: no function_graph calls, only comments and blank lines\n"


def test_standard_input_with_nothing_on_it_is_refused(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert run("trace.summary", "--path", "-") == 2
    assert capsys.readouterr().err.startswith("error: <stdin>: no perf script records (empty)")


def test_comments_alone_are_a_trace_without_records_by_design(tmp_path, capsys):
    """`perf script --header` of a recording with no sample prints its header and nothing else."""
    header = tmp_path / "header.perf.txt"
    header.write_text("# ========\n# captured on    : Thu Jan  1 00:00:00 2025\n# ========\n#\n")
    assert run("trace.summary", "--path", str(header), "--format", "json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["records"] == 0
    assert err == f"warning: {header}: no perf script records, only comments and blank lines\n"
    assert run("trace.collapse", "--path", str(header)) == 0
    assert capsys.readouterr().out == ""


def test_a_real_trace_with_some_unreadable_lines_still_works_with_a_warning(tmp_path, capsys):
    path = tmp_path / "damaged.perf.txt"
    path.write_bytes(GARBAGE + b"\n" + trace_bytes("loopback-64") + b"\x00\xff stray\n")
    good = str(PERF / "bridge-64.perf.txt.xz")

    assert run("trace.summary", "--path", str(path), "--format", "json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["records"] == 5064
    assert err.startswith("warning: 6 unreadable line(s) (first: line 1, unrecognized line)")
    assert run("trace.collapse", "--path", str(path)) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() and "unreadable line(s)" in err
    assert run("trace.diff", "--baseline", str(path), "--path", good, "--format", "json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["extra"][0]["function"] == "br_handle_frame"
    assert err.startswith(f"warning: {path}: 6 unreadable line(s)")
