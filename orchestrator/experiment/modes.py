"""Network-mode drivers: each builds the path traffic takes, places server and client on it,
and tears everything down again.

A driver does not run traffic itself; it answers three questions for `run.py`: how to start the
server, how to run the client, and which address the client must target. Everything a driver
creates on a host carries the label `netmatrix.run=<tag>`, so teardown (and the sweep after a
crash) finds it by label rather than by remembering names.

A mode the kernel cannot do is reported as `ModeUnsupported` with the kernel's or Docker's own
words; `run.py` records that as `unsupported`, not `failed`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.connection import CommandResult, Connection
from orchestrator.errors import NetmatrixError
from orchestrator.experiment.traffic_image import traffic_image

LABEL = "netmatrix.run"
HOST_APP_DIR = "/opt/netmatrix/app"
IMAGE_APP_DIR = "/app"
DEFAULT_MACVLAN_SUBNET = "10.213.0.0/24"
_NOT_ROOT = "Operation not permitted"

# Words with which kernels and Docker refuse a link type they cannot build.
_UNSUPPORTED = re.compile(
    r"not supported|unknown device type|no such device|module .* not found|"
    r"invalid argument.*ipvlan|ipvlan.*invalid argument",
    re.IGNORECASE,
)


class ModeUnsupported(NetmatrixError):
    """The host's kernel (or Docker) cannot build this mode; the message is theirs."""


class ModeSetupError(NetmatrixError):
    """Building the mode failed for a reason other than missing kernel support."""


@dataclass(frozen=True)
class Placement:
    """Where a mode puts server and client: host processes, or containers on a network."""

    mode: str
    tag: str
    containers: bool
    docker_network: str | None = None

    def server_name(self) -> str:
        return f"nm-{self.tag}-srv"

    def client_name(self) -> str:
        return f"nm-{self.tag}-cli"


@dataclass(frozen=True)
class ModeDriver:
    """One network mode: the Docker network it needs (if any) and how to build it.

    Args:
        name: mode name as written in specs.
        containers: whether server and client run in containers (else host processes).
        network: `None` (no network of ours), a Docker built-in network name (`host`,
            `bridge`), or `create` (a network made for the run with `driver`/`options`).
        driver: Docker network driver for `create`.
        options: `-o` options; `{parent}` is replaced by the host's lab NIC.
        netdev: link type the kernel must accept (checked against facts first).
        loopback_target: whether the client targets 127.0.0.1 (same network namespace).
    """

    name: str
    containers: bool
    network: str | None = None
    driver: str | None = None
    options: tuple[str, ...] = ()
    netdev: str | None = None
    loopback_target: bool = False


DRIVERS: dict[str, ModeDriver] = {
    driver.name: driver
    for driver in (
        ModeDriver("loopback", containers=False, loopback_target=True),
        ModeDriver("host", containers=True, network="host", loopback_target=True),
        ModeDriver("bridge", containers=True, network="bridge", netdev="bridge"),
        ModeDriver(
            "bridge-user", containers=True, network="create", driver="bridge", netdev="bridge"
        ),
        ModeDriver(
            "macvlan",
            containers=True,
            network="create",
            driver="macvlan",
            options=("parent={parent}",),
            netdev="macvlan",
        ),
        ModeDriver(
            "ipvlan-l2",
            containers=True,
            network="create",
            driver="ipvlan",
            options=("parent={parent}", "ipvlan_mode=l2"),
            netdev="ipvlan",
        ),
        ModeDriver(
            "ipvlan-l3",
            containers=True,
            network="create",
            driver="ipvlan",
            options=("parent={parent}", "ipvlan_mode=l3"),
            netdev="ipvlan",
        ),
    )
}


def driver_for(mode: str) -> ModeDriver:
    """The driver of `mode`; an unknown mode is a user error listing the known ones."""
    try:
        return DRIVERS[mode]
    except KeyError:
        raise NetmatrixError(f"unknown mode {mode!r}; known: {', '.join(DRIVERS)}") from None


def check_kernel_support(driver: ModeDriver, netdev_types: dict | None) -> None:
    """Refuse early, with the kernel's message from facts, a mode whose link type it lacks."""
    if driver.netdev is None or not netdev_types:
        return
    support = netdev_types.get(driver.netdev)
    if isinstance(support, dict) and _NOT_ROOT in (support.get("message") or ""):
        return  # probed without root: the kernel said nothing about the link type itself
    if isinstance(support, dict) and not support.get("supported", True):
        message = support.get("message") or f"kernel does not accept {driver.netdev} links"
        raise ModeUnsupported(f"{driver.name}: {message}")
    if support is False:
        raise ModeUnsupported(f"{driver.name}: kernel does not accept {driver.netdev} links")


def _refusal(driver: ModeDriver, what: str, result: CommandResult) -> NetmatrixError:
    """Classify a failed set-up command: missing kernel support, or a plain failure."""
    message = (result.stderr or result.stdout).strip().splitlines()
    text = message[-1] if message else f"exit code {result.rc}"
    if _UNSUPPORTED.search(text):
        return ModeUnsupported(f"{driver.name}: {text}")
    return ModeSetupError(f"{driver.name}: {what} failed: {text}")


def _docker(conn: Connection, args: Sequence[str], timeout: float = 60) -> CommandResult:
    return conn.sudo(["docker", *args], timeout=timeout)


def prepare(
    conn: Connection, driver: ModeDriver, tag: str, *, parent_nic: str | None, subnet: str
) -> Placement:
    """Create what the mode needs before any process starts (a Docker network, or nothing)."""
    if driver.network != "create":
        return Placement(driver.name, tag, driver.containers, driver.network)
    if driver.options and parent_nic is None:
        raise ModeSetupError(f"{driver.name}: the host has no lab NIC (host var lab_nic)")
    name = f"nm-{tag}"
    options = [opt.format(parent=parent_nic) for opt in driver.options]
    args = ["network", "create", "--driver", str(driver.driver), "--label", f"{LABEL}={tag}"]
    if driver.driver != "bridge":
        args += ["--subnet", subnet]
    for option in options:
        args += ["-o", option]
    result = _docker(conn, [*args, name])
    if not result.ok:
        raise _refusal(driver, "docker network create", result)
    return Placement(driver.name, tag, True, name)


def _container_args(placement: Placement, name: str) -> list[str]:
    args = ["run", "-d", "--name", name, "--label", f"{LABEL}={placement.tag}"]
    if placement.docker_network:
        args += ["--network", placement.docker_network]
    return args


def start_containers(
    conn: Connection, driver: ModeDriver, placement: Placement, server_args: Sequence[str]
) -> None:
    """Start the server container and an idle client container (the client runs via exec)."""
    server = [
        *_container_args(placement, placement.server_name()),
        traffic_image(),
        f"{IMAGE_APP_DIR}/server.py",
        *server_args,
    ]
    client = [
        *_container_args(placement, placement.client_name()),
        "--entrypoint",
        "sleep",
        traffic_image(),
        "infinity",
    ]
    for what, args in (("server container", server), ("client container", client)):
        result = _docker(conn, args)
        if not result.ok:
            raise _refusal(driver, f"starting the {what}", result)


def server_address(conn: Connection, driver: ModeDriver, placement: Placement) -> str:
    """The address the client must target: 127.0.0.1, or the server container's IP."""
    if driver.loopback_target:
        return "127.0.0.1"
    result = _docker(
        conn, ["inspect", "--format", "{{json .NetworkSettings.Networks}}", placement.server_name()]
    )
    if not result.ok:
        raise _refusal(driver, "docker inspect", result)
    networks = json.loads(result.stdout or "{}")
    for network in networks.values():
        if network.get("IPAddress"):
            return str(network["IPAddress"])
    raise ModeSetupError(f"{driver.name}: the server container has no IP address")


def client_argv(placement: Placement, client_args: Sequence[str]) -> list[str]:
    """The command that runs the traffic client once for this placement."""
    if placement.containers:
        return [
            "docker",
            "exec",
            placement.client_name(),
            "python3",
            f"{IMAGE_APP_DIR}/client.py",
            *client_args,
        ]
    return ["python3", f"{HOST_APP_DIR}/client.py", *client_args]


def server_argv(client_args: Sequence[str]) -> list[str]:
    """The command that runs the traffic server as a host process (loopback mode)."""
    return ["python3", f"{HOST_APP_DIR}/server.py", *client_args]
