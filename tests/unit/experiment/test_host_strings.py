"""Inventory strings that reach a host without being checked on load — the lab NIC
(`lab_nic`), the macvlan subnet (`netmatrix_macvlan_subnet`), a kernel package (`kernels`) —
arrive there as one argument each, whatever shell characters they hold.

Spec strings (modes, events, ftrace functions, kernel patterns) and host names are refused on
load (tests/unit/test_bad_input.py); these are not, so the guarantee is the quoting. Each
command the code sends goes through the real `LocalConnection` and a real /bin/sh with
`printf` in front of it instead of docker or apt-get: what printf receives is what the
host's program would have received.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from orchestrator.connection import CommandResult, connect
from orchestrator.errors import NetmatrixError
from orchestrator.experiment import kernels, modes
from orchestrator.host import Host


class EchoingHost:
    """A Connection whose programs print their arguments, run through the real local quoting."""

    def __init__(self) -> None:
        self.local = connect(Host("echo", {"ansible_connection": "local"}))
        self.host = self.local.host
        self.received: list[tuple[list[str], list[str]]] = []  # (sent, what printf got)

    def run(self, command: Sequence[str] | str, **options: object) -> CommandResult:
        assert not isinstance(command, str), f"shell text sent to the host: {command}"
        timeout = options.get("timeout")
        result = self.local.run(["printf", r"%s\0", *command], timeout=timeout, check=True)
        self.received.append((list(command), result.stdout.split("\0")[:-1]))
        return result

    sudo = run

    def close(self) -> None:
        self.local.close()


@pytest.fixture
def canary() -> Path:
    path = Path("/tmp") / f"netmatrix-{uuid.uuid4().hex}-canary"
    yield path
    assert not path.exists(), "a string from the inventory ran as a shell command"


def hostile(canary: Path) -> list[str]:
    return [f"$(touch {canary})", f"`touch {canary}`", f";touch {canary}", f"'; touch {canary}"]


def test_a_lab_nic_and_subnet_with_shell_characters_arrive_as_one_argument(canary: Path) -> None:
    for nic, subnet in zip(hostile(canary), reversed(hostile(canary)), strict=True):
        host = EchoingHost()

        modes.prepare(host, modes.driver_for("macvlan"), "t1", parent_nic=nic, subnet=subnet)

        ((sent, received),) = host.received
        assert received == sent
        assert f"parent={nic}" in received and subnet in received


def test_a_kernel_package_with_shell_characters_never_reaches_the_host(canary: Path) -> None:
    package = f"linux-image-6.1`touch${{IFS}}{canary}`;touch${{IFS}}{canary}"
    host = EchoingHost()

    with pytest.raises(NetmatrixError, match="is not a kernel"):
        kernels.switch_kernel(host, package, "6.1*", reconnect=lambda: host, timeout=1)

    assert host.received == []
    assert not canary.exists()
