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

Tests that only need a ready lab share one instead: `provisioned_lab` (conftest.py) wraps
`provisioned_docker_lab`, which brings a second lab up on its own network (SHARED_NETWORK, so
that it can run beside the one above) and provisions it once per session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.connection import Command, CommandResult, Connection, connect
from orchestrator.host import Host
from orchestrator.lab.config import REPO_ROOT
from orchestrator.lab.lifecycle import Lab, lab_down, lab_up, open_lab

HOSTS = ("lab1", "lab2")
# Overridable so that two test sessions on one machine (developers' parallel work) can each
# have their labs: Docker refuses a second network with the same subnet.
NETWORK = os.environ.get("NETMATRIX_TEST_NETWORK", "192.168.213.0/24")
# the session's provisioned lab, beside test_lab.py's own
SHARED_NETWORK = os.environ.get("NETMATRIX_TEST_SHARED_NETWORK", "192.168.214.0/24")
INVOKE_TIMEOUT = 900.0  # a first provisioning downloads Docker and perf into both nodes

Completed = subprocess.CompletedProcess[str]


@dataclass(frozen=True)
class DockerLab:
    """A lab that is up: the lab, the inventory entries lab.up wrote, and how long it took."""

    lab: Lab
    hosts: dict[str, Host]
    up_seconds: float

    @property
    def inventory(self) -> Path:
        return self.lab.paths.inventory


def isolated_environ(root: Path, network: str = NETWORK) -> dict[str, str]:
    """This environment with the lab's state, inventory and network under test control."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("NETMATRIX_LAB", "VAGRANT_"))}
    return {
        **keep,
        "VAGRANT_DOTFILE_PATH": str(root / "vagrant"),
        "NETMATRIX_LAB_INVENTORY": str(root / "lab.yml"),
        "NETMATRIX_LAB_NETWORK": network,
    }


@contextmanager
def running_docker_lab(root: Path, network: str = NETWORK) -> Iterator[DockerLab]:
    """lab1 and lab2 up with the Docker provider, state under `root`; destroyed on exit."""
    lab = open_lab(isolated_environ(root, network))
    started = time.monotonic()
    try:
        entries = lab_up(lab, HOSTS, "docker")
        yield DockerLab(lab, {e.name: e for e in entries}, time.monotonic() - started)
    finally:
        lab_down(lab, HOSTS)


def run_invoke(
    environ: Mapping[str, str], *args: str, timeout: float = INVOKE_TIMEOUT
) -> Completed:
    """`invoke <args>` in the repository with `environ`, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO_ROOT,
        env=dict(environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Background:
    """An `invoke` running in the background; its output is read line by line."""

    process: subprocess.Popen[str]
    seen: list[str] = field(default_factory=list)

    def read_until(self, done: Callable[[str], bool]) -> str:
        """Read lines until `done(line)`; that line. Fails if the output ends first."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.seen.append(line)
            if done(line):
                return line
        raise AssertionError(f"the output ended before the awaited line:\n{self.output[-3000:]}")

    def finish(self, timeout: float) -> str:
        """Wait for the end; the whole output."""
        rest, _ = self.process.communicate(timeout=timeout)
        self.seen.append(rest)
        return self.output

    @property
    def output(self) -> str:
        return "".join(self.seen)

    @property
    def returncode(self) -> int | None:
        return self.process.returncode


@contextmanager
def invoke_in_background(environ: Mapping[str, str], *args: str) -> Iterator[Background]:
    """`invoke <args>` started with its output piped (stderr into stdout); killed if it still
    runs when the block ends."""
    # SIGINT as a terminal would deliver it, even when the suite itself runs where SIGINT is
    # ignored (a background job of a shell, `nohup`): Python then never installs its
    # KeyboardInterrupt handler, and a test's Ctrl-C would be lost.
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", *args], cwd=REPO_ROOT, env=dict(environ),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        yield Background(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def invoke_provision(up: DockerLab, hosts: Sequence[str] = HOSTS, *flags: str) -> Completed:
    """`invoke provision` on `hosts` of the lab `up`, through its own inventory."""
    return run_invoke(
        up.lab.environ,
        *("provision", "--hosts", ",".join(hosts), "--inventory", str(up.inventory), *flags),
    )


@dataclass(frozen=True)
class ProvisionedLab:
    """A lab that is up and provisioned, and the ways tests drive it.

    `invoke(...)` runs a task against this lab (its environment, the repository as working
    directory; pass `--inventory str(inventory)` to tasks that take one). `sudo(name, command)`
    runs one command as root on a node over SSH; `connect(name)` opens a connection for several
    (the caller closes it).
    """

    up: DockerLab
    provisioning: Completed  # the first `invoke provision`
    provision_seconds: float

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.up.hosts)

    @property
    def inventory(self) -> Path:
        return self.up.inventory

    @property
    def root(self) -> Path:
        """Where the lab's Vagrant state and inventory live."""
        return self.inventory.parent

    @property
    def environ(self) -> dict[str, str]:
        """The environment that points `invoke lab.*` and `vagrant` at this lab."""
        return dict(self.up.lab.environ)

    def host(self, name: str) -> Host:
        return self.up.hosts[name]

    def connect(self, name: str) -> Connection:
        return connect(self.host(name))

    def sudo(self, name: str, command: Command, *, timeout: float = 120.0) -> CommandResult:
        """Run `command` as root on node `name` over a connection of its own."""
        conn = self.connect(name)
        try:
            return conn.sudo(command, timeout=timeout)
        finally:
            conn.close()

    def container_id(self, name: str) -> str:
        """The node's Docker container, from Vagrant's machine state."""
        return self.up.lab.paths.machine_id_file(name, "docker").read_text().strip()

    def invoke(self, *args: str, timeout: float = INVOKE_TIMEOUT) -> Completed:
        return run_invoke(self.environ, *args, timeout=timeout)

    def provision(self, hosts: Sequence[str] = HOSTS, *flags: str) -> Completed:
        return invoke_provision(self.up, hosts, *flags)


@contextmanager
def provisioned_docker_lab(root: Path, network: str = SHARED_NETWORK) -> Iterator[ProvisionedLab]:
    """lab1 and lab2 up and provisioned with `invoke provision`; destroyed on exit."""
    with running_docker_lab(root, network) as up:
        started = time.monotonic()
        done = invoke_provision(up)
        if done.returncode != 0:
            raise RuntimeError(
                f"provisioning the test lab failed (exit {done.returncode}):\n"
                f"{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
            )
        yield ProvisionedLab(up, done, time.monotonic() - started)
