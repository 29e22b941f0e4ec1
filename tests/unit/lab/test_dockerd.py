import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.lab import dockerd


def test_running_daemon_is_used_as_it_is(monkeypatch):
    client = object()
    monkeypatch.setattr(dockerd, "docker_client", lambda: client)
    monkeypatch.setattr(dockerd.subprocess, "Popen", None)  # starting one would fail
    assert dockerd.ensure_dockerd() is client


def test_missing_dockerd_names_the_install(monkeypatch):
    monkeypatch.setattr(dockerd, "docker_client", lambda: None)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NetmatrixError, match=r"dockerd not found: install Docker \(apt-get"):
        dockerd.ensure_dockerd()


def test_last_log_line_explains_a_failed_start(tmp_path):
    log = tmp_path / "dockerd.log"
    log.write_text("starting\nfailed to start daemon: pid file found\n\n")
    assert dockerd._last_log_line(log) == "failed to start daemon: pid file found"


def test_daemon_that_exits_at_once_is_reported_with_its_log(tmp_path, monkeypatch):
    standin = tmp_path / "dockerd"
    standin.write_text("#!/bin/sh\necho 'failed to start daemon: no space left' >&2\nexit 1\n")
    standin.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(dockerd, "docker_client", lambda: None)
    monkeypatch.setattr(dockerd.os, "geteuid", lambda: 0)
    monkeypatch.setattr(dockerd, "LOG_FILE", tmp_path / "log" / "dockerd.log")
    monkeypatch.setattr(dockerd, "PID_FILE", tmp_path / "docker.pid")
    with pytest.raises(NetmatrixError) as error:
        dockerd.ensure_dockerd(print)
    assert str(error.value).startswith(
        "dockerd did not start (failed to start daemon: no space left): see "
    )
