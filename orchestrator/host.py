"""The Host value: one inventory host with its effective variables, frozen.

Connection variables are read through properties so that every consumer agrees on Ansible's
names and defaults (`ansible_host` falls back to the host name, `ansible_port` to 22, …).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import NetmatrixError

SECRET_VARS = frozenset({"ansible_become_password", "ansible_password", "ansible_ssh_pass"})


@dataclass(frozen=True, eq=False)
class Host:
    """An inventory host. `vars` are the effective variables, precedence already applied."""

    name: str
    vars: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return str(self.vars.get("ansible_host", self.name))

    @property
    def port(self) -> int:
        """`ansible_port`, checked here so that no consumer fails on it with a traceback."""
        value = self.vars.get("ansible_port", 22)
        try:
            port = int(value)
        except (TypeError, ValueError):
            port = 0
        if not 1 <= port <= 65535:
            raise NetmatrixError(
                f"host {self.name}: ansible_port {value!r} is not a port (1..65535)"
            )
        return port

    @property
    def user(self) -> str | None:
        user = self.vars.get("ansible_user")
        return None if user is None else str(user)

    @property
    def key_file(self) -> str | None:
        key = self.vars.get("ansible_ssh_private_key_file")
        return None if key is None else str(key)

    @property
    def connection(self) -> str:
        return str(self.vars.get("ansible_connection", "ssh"))

    @property
    def become(self) -> bool:
        return bool(self.vars.get("ansible_become", False))

    @property
    def become_password(self) -> str | None:
        password = self.vars.get("ansible_become_password")
        return None if password is None else str(password)

    def public_vars(self) -> dict[str, Any]:
        """Variables safe to log, store or export: secrets are left out."""
        return {key: value for key, value in self.vars.items() if key not in SECRET_VARS}

    def __repr__(self) -> str:
        # The raw value: a repr must not fail on the bad port it may be helping to debug.
        port = self.vars.get("ansible_port", 22)
        return f"Host(name={self.name!r}, address={self.address!r}, port={port})"


LOCALHOST_NAMES = ("127.0.0.1", "localhost", "::1")
"""Names that mean the controller itself, as Ansible's implicit localhost: in host patterns,
in the inventory's implicit hosts, and as `delegate_to`."""

LOCALHOST = Host("localhost", {"ansible_connection": "local"})
"""The controller as a host, where a task delegated to it runs."""
