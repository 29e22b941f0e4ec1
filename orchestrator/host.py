"""The Host value: one inventory host with its effective variables, frozen.

Connection variables are read through properties so that every consumer agrees on Ansible's
names and defaults (`ansible_host` falls back to the host name, `ansible_port` to 22, …).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
        return int(self.vars.get("ansible_port", 22))

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
        return f"Host(name={self.name!r}, address={self.address!r}, port={self.port})"
