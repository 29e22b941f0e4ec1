"""A real two-node lab with the Docker provider, for integration tests.

The lab is kept apart from a developer's own: its own Vagrant state directory, inventory and
lab network (192.168.213.0/24). The node image and its rootfs cache are shared (building them
is the slow part, and they are the same for every lab). Wrap it in a fixture of the scope
you need:

    @pytest.fixture(scope="module")
    def docker_lab(tmp_path_factory):
        with running_docker_lab(tmp_path_factory.mktemp("lab")) as lab:
            yield lab

lab1 and lab2 are brought up on entry and destroyed on exit, whatever happened.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from orchestrator.host import Host
from orchestrator.lab.lifecycle import Lab, lab_down, lab_up, open_lab

HOSTS = ("lab1", "lab2")
NETWORK = "192.168.213.0/24"


@dataclass(frozen=True)
class DockerLab:
    """A lab that is up: the lab, the inventory entries lab.up wrote, and how long it took."""

    lab: Lab
    hosts: dict[str, Host]
    up_seconds: float

    @property
    def inventory(self) -> Path:
        return self.lab.paths.inventory


def isolated_environ(root: Path) -> dict[str, str]:
    """This environment with the lab's state, inventory and network under test control."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("NETMATRIX_LAB", "VAGRANT_"))}
    return {
        **keep,
        "VAGRANT_DOTFILE_PATH": str(root / "vagrant"),
        "NETMATRIX_LAB_INVENTORY": str(root / "lab.yml"),
        "NETMATRIX_LAB_NETWORK": NETWORK,
    }


@contextmanager
def running_docker_lab(root: Path) -> Iterator[DockerLab]:
    """lab1 and lab2 up with the Docker provider, state under `root`; destroyed on exit."""
    lab = open_lab(isolated_environ(root))
    started = time.monotonic()
    try:
        entries = lab_up(lab, HOSTS, "docker")
        yield DockerLab(lab, {e.name: e for e in entries}, time.monotonic() - started)
    finally:
        lab_down(lab, HOSTS)
