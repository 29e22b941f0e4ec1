"""The `trace` invoke tasks, run through invoke's Program in-process and through the real
`invoke` script once; a missing file ends with exit code 2 and one line on stderr."""

from __future__ import annotations

import json
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
