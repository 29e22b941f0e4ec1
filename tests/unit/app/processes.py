"""Runs app/server.py and app/client.py as the orchestrator does: subprocesses, JSON on stdout."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from subprocess import PIPE
from typing import Any

APP = Path(__file__).resolve().parents[3] / "app"
TIMEOUT = 5  # seconds any one process may take; runs last 0.3 s


@dataclass
class Server:
    """A started server and the port it printed in its listening line."""

    process: subprocess.Popen[str]
    port: int

    def finish(self) -> tuple[int, list[dict[str, Any]], str]:
        """Waits for the server to exit: its code, its flow lines and its stderr."""
        out, err = self.process.communicate(timeout=TIMEOUT)
        return self.process.returncode, [json.loads(line) for line in out.splitlines()], err


@dataclass
class Result:
    """A finished run: exit code, its JSON line if it printed one, its stderr lines."""

    code: int
    record: dict[str, Any] | None
    stderr_lines: list[str]


def run(script: str, *args: str) -> Result:
    done = subprocess.run(
        [sys.executable, str(APP / script), *args], capture_output=True, text=True, timeout=TIMEOUT
    )
    lines = done.stdout.splitlines()
    assert len(lines) <= 1, done.stdout
    record = json.loads(lines[0]) if lines else None
    return Result(done.returncode, record, done.stderr.splitlines())


def run_client(proto: str, port: int, *args: str, size: int = 1000) -> Result:
    """A 0.3 s client run against 127.0.0.1."""
    common = ("--proto", proto, "--host", "127.0.0.1", "--port", str(port), "--size", str(size))
    return run("client.py", *common, "--duration", "0.3", *args)


def spawn_server(*args: str) -> subprocess.Popen[str]:
    """A server on a free loopback port; register it for clean-up before await_listening."""
    command = [sys.executable, str(APP / "server.py"), "--bind", "127.0.0.1", "--port", "0"]
    return subprocess.Popen([*command, *args], stdout=PIPE, stderr=PIPE, text=True)


def await_listening(process: subprocess.Popen[str]) -> Server:
    """Waits for the listening line, as orchestration does before starting a client."""
    assert process.stdout is not None
    assert select.select([process.stdout], [], [], TIMEOUT)[0], "no listening line"
    ready = json.loads(process.stdout.readline())
    assert ready["event"] == "listening"
    return Server(process, ready["port"])
