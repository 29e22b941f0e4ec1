"""The controller's Docker daemon: used when running, started as a background daemon when not.

Machines without systemd (and where Debian's init script fails, as on this one, on its
`ulimit -n 1048576`) still get a daemon: `dockerd` is started in its own session with its pid
file under /var/run and its log under /var/log, and we wait for the socket to answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import docker
from docker.errors import DockerException

from orchestrator.errors import NetmatrixError
from orchestrator.lab.tools import Say

PID_FILE = Path("/var/run/docker.pid")
LOG_FILE = Path("/var/log/netmatrix-dockerd.log")
START_TIMEOUT = 60.0


def docker_client() -> docker.DockerClient | None:
    """A client of a daemon that answers, or None when none does."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException:
        return None
    return client


def ensure_dockerd(say: Say = print) -> docker.DockerClient:
    """A client of the controller's daemon, starting `dockerd` first when it is not running."""
    client = docker_client()
    if client is not None:
        return client
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise NetmatrixError("dockerd not found: install Docker (apt-get install docker.io)")
    if os.geteuid() != 0:
        raise NetmatrixError("Docker is not running and starting dockerd needs root: run as root")
    say(f"starting dockerd (log: {LOG_FILE})")
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOG_FILE.open("ab") as log:
        daemon = subprocess.Popen(
            [dockerd, "--pidfile", str(PID_FILE)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        client = docker_client()
        if client is not None:
            return client
        if daemon.poll() is not None:
            break
        time.sleep(0.5)
    raise NetmatrixError(
        f"dockerd did not start ({_last_log_line(LOG_FILE)}): see {LOG_FILE}, fix the cause "
        "and retry"
    )


def _last_log_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"
