"""The start_server fixture: servers that a failing test cannot leave running."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.unit.app import processes


@pytest.fixture
def start_server() -> Iterator[Callable[..., processes.Server]]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> processes.Server:
        process = processes.spawn_server(*args)
        started.append(process)
        return processes.await_listening(process)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
