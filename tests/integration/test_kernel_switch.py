"""Kernel switching's reboot → reconnect → verify (issue 5) on a Docker-provider node that is
restarted from outside, as a host that reboots.

A container runs the controller's kernel and cannot boot another, so asking for any other
kernel must end in the verification error, and asking for the running one must succeed with a
working connection. The restart ends everything the node's entrypoint does not start again
(dockerd; the tracefs mount), so the module provisions lab1 again before the lab is handed on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fnmatch import fnmatchcase

import docker
import pytest
from docker.models.containers import Container

from orchestrator.connection import Connection
from orchestrator.errors import NetmatrixError
from orchestrator.experiment.kernels import boot_marker, reboot_and_verify
from tests.integration.lab_fixture import ProvisionedLab

pytestmark = pytest.mark.integration

HOST = "lab1"
RUNNING = os.uname().release  # containers share the controller's kernel
OTHER_KERNEL = "5.15.*"
BACK_WITHIN = 120.0  # seconds


@pytest.fixture(scope="module")
def lab(provisioned_lab: ProvisionedLab) -> Iterator[ProvisionedLab]:
    """The session's lab; lab1 is provisioned again afterwards, and must then be ready."""
    yield provisioned_lab
    restored = provisioned_lab.provision([HOST])
    assert restored.returncode == 0, restored.stdout + restored.stderr
    info = provisioned_lab.sudo(HOST, ["docker", "info", "--format", "{{.Name}}"])
    assert info.stdout.strip() == HOST, info.stderr


@pytest.fixture
def container(lab: ProvisionedLab) -> Container:
    """lab1's container, named in the lab's Vagrant state."""
    return docker.from_env().containers.get(lab.container_id(HOST))


def restart_and_verify(
    lab: ProvisionedLab, container: Container, conn: Connection, pattern: str
) -> Connection:
    """reboot_and_verify on lab1, whose `reboot` restarts its container with the Docker SDK."""
    return reboot_and_verify(
        conn,
        pattern,
        reconnect=lambda: lab.connect(HOST),
        timeout=BACK_WITHIN,
        poll=1.0,
        reboot=lambda _: container.restart(timeout=10),
    )


def started_at(container: Container) -> str:
    container.reload()
    return container.attrs["State"]["StartedAt"]


def test_a_kernel_the_node_cannot_boot_is_reported_after_the_restart(
    lab: ProvisionedLab, container: Container
) -> None:
    assert not fnmatchcase(RUNNING, OTHER_KERNEL)
    started = started_at(container)
    with pytest.raises(NetmatrixError) as raised:
        restart_and_verify(lab, container, lab.connect(HOST), OTHER_KERNEL)
    assert str(raised.value) == (
        f"kernel switch on {HOST}: expected {OTHER_KERNEL}, running {RUNNING} after reboot"
    )
    assert started_at(container) != started  # the verdict came after a real restart


def test_the_running_kernel_verifies_and_the_new_connection_works(
    lab: ProvisionedLab, container: Container
) -> None:
    started = started_at(container)
    conn = lab.connect(HOST)
    before = boot_marker(conn)
    new = restart_and_verify(lab, container, conn, RUNNING)
    try:
        assert started_at(container) != started
        assert boot_marker(new) != before
        assert new.run(["hostname"], check=True).stdout.strip() == HOST
        assert new.run(["uname", "-r"], check=True).stdout.strip() == RUNNING
        assert new.sudo(["id", "-u"], check=True).stdout.strip() == "0"
    finally:
        new.close()
