"""The lab's configuration: `inventories/lab.vagrant.yml`, overridden by environment variables.

The Vagrantfile reads the same file and the same variables (see its header), so the machine
names, boxes and addresses the tasks expect are the ones Vagrant creates. Paths (repository,
Vagrant's dotfile directory, the generated inventory, the image cache) are resolved here too:
every default in one place, validated when loaded.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import NetmatrixError

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_PREFIX = "NETMATRIX_LAB_"
FIRST_HOST_NUMBER = 10  # labN's lab address is host number 10+N in the lab network


@dataclass(frozen=True)
class Machine:
    """One machine of the Vagrantfile: its name, VirtualBox box and lab NIC address."""

    name: str
    box: str
    address: str


@dataclass(frozen=True)
class LabConfig:
    """The validated lab configuration."""

    machines: tuple[Machine, ...]
    cpus: int
    memory: int
    network: ipaddress.IPv4Network
    internal_network: str
    image: str
    box_kernels: tuple[str, ...]  # libvirt: the kernel packages its box carries

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(machine.name for machine in self.machines)

    @property
    def docker_network(self) -> str:
        """The docker network Vagrant's docker provider creates for the lab NIC."""
        return f"vagrant_network_{self.network}"

    def select(self, names: Iterable[str]) -> tuple[Machine, ...]:
        """The machines named, in order; all of them when `names` is empty."""
        wanted = list(names)
        if not wanted:
            return self.machines
        by_name = {machine.name: machine for machine in self.machines}
        unknown = [name for name in wanted if name not in by_name]
        if unknown:
            raise NetmatrixError(
                f"host {', '.join(unknown)} is not in the Vagrantfile (it defines "
                f"{', '.join(self.names)}): pick one of those, or raise {ENV_PREFIX}COUNT"
            )
        return tuple(by_name[name] for name in dict.fromkeys(wanted))


@dataclass(frozen=True)
class LabPaths:
    """Where the lab lives on the controller."""

    root: Path  # the Vagrantfile's directory (VAGRANT_CWD)
    dotfile: Path  # Vagrant's machine state (VAGRANT_DOTFILE_PATH)
    inventory: Path  # the generated inventory
    cache: Path  # node image build cache (rootfs tarballs)

    @property
    def known_hosts(self) -> Path:
        """The machines' SSH host keys, recorded by `lab.up`, beside the inventory using them."""
        return self.inventory.with_name(f"{self.inventory.stem}.known_hosts")

    @property
    def config_file(self) -> Path:
        return self.root / "inventories" / "lab.vagrant.yml"

    @property
    def docker_settings(self) -> Path:
        """Docker run flags for the Vagrantfile, written by `lab.up` from the detection."""
        return self.dotfile / "netmatrix-docker.json"

    def machine_id_file(self, host: str, provider: str) -> Path:
        return self.dotfile / "machines" / host / provider / "id"

    def vagrant_env(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The environment for `vagrant`: ours plus where the Vagrantfile and state are."""
        return {
            **environ,
            "VAGRANT_CWD": str(self.root),
            "VAGRANT_DOTFILE_PATH": str(self.dotfile),
        }


def lab_paths(environ: Mapping[str, str] = os.environ) -> LabPaths:
    """Paths from VAGRANT_CWD, VAGRANT_DOTFILE_PATH, NETMATRIX_LAB_INVENTORY, NETMATRIX_CACHE."""
    root = Path(environ.get("VAGRANT_CWD", REPO_ROOT)).resolve()
    cache = environ.get("NETMATRIX_CACHE") or Path.home() / ".cache" / "netmatrix"
    return LabPaths(
        root=root,
        dotfile=root / environ.get("VAGRANT_DOTFILE_PATH", ".vagrant"),
        inventory=root / environ.get(f"{ENV_PREFIX}INVENTORY", "inventories/lab.yml"),
        cache=Path(cache),
    )


def load_config(paths: LabPaths, environ: Mapping[str, str] = os.environ) -> LabConfig:
    """Read and validate the lab configuration; errors name the file or variable and key."""
    source = paths.config_file
    try:
        settings = yaml.safe_load(source.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise NetmatrixError(f"{source}: cannot read the lab configuration: {error}") from None
    if not isinstance(settings, dict):
        raise NetmatrixError(f"{source}: expected a mapping of settings")
    setting = _Settings(source, settings, environ)
    count = setting.integer("count")
    boxes = setting.words("boxes")
    network = setting.network("network")
    if FIRST_HOST_NUMBER + count >= network.num_addresses - 1:
        raise NetmatrixError(f"{setting.origin('network')}: {network} is too small for {count}")
    machines = tuple(
        Machine(f"lab{n}", boxes[(n - 1) % len(boxes)], str(network[FIRST_HOST_NUMBER + n]))
        for n in range(1, count + 1)
    )
    return LabConfig(
        machines=machines,
        cpus=setting.integer("cpus"),
        memory=setting.integer("memory"),
        network=network,
        internal_network=setting.text("internal_network"),
        image=setting.text("image"),
        box_kernels=setting.words("box_kernels"),
    )


@dataclass(frozen=True)
class _Settings:
    """Typed reads of one key: the environment variable wins over the file."""

    source: Path
    values: Mapping[str, Any]
    environ: Mapping[str, str]

    def origin(self, key: str) -> str:
        variable = ENV_PREFIX + key.upper()
        return variable if variable in self.environ else f"{self.source}: {key}"

    def raw(self, key: str) -> Any:
        variable = ENV_PREFIX + key.upper()
        if variable in self.environ:
            return self.environ[variable]
        if key not in self.values:
            raise NetmatrixError(f"{self.source}: missing key {key!r}")
        return self.values[key]

    def integer(self, key: str) -> int:
        value = self.raw(key)
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if number < 1:
            raise NetmatrixError(f"{self.origin(key)}: expected a positive integer, got {value!r}")
        return number

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            raise NetmatrixError(f"{self.origin(key)}: expected a non-empty string, got {value!r}")
        return value.strip()

    def words(self, key: str) -> tuple[str, ...]:
        value = self.raw(key)
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise NetmatrixError(f"{self.origin(key)}: expected a list of names, got {value!r}")
        words = tuple(item.strip() for item in items if item.strip())
        if not words:
            raise NetmatrixError(f"{self.origin(key)}: expected at least one name")
        return words

    def network(self, key: str) -> ipaddress.IPv4Network:
        value = self.text(key)
        try:
            return ipaddress.IPv4Network(value)
        except ValueError as error:
            raise NetmatrixError(
                f"{self.origin(key)}: expected an IPv4 network like 192.168.60.0/24: {error}"
            ) from None
