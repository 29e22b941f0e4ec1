"""The loaded inventory: frozen Group and Inventory values over `orchestrator.host.Host`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.host import Host
from orchestrator.inventory.errors import InventoryError
from orchestrator.inventory.patterns import Matcher
from orchestrator.inventory.values import to_json
from orchestrator.inventory.walk import descendants


@dataclass(frozen=True, eq=False)
class Group:
    """An inventory group as declared: its own variables and its direct members."""

    name: str
    vars: Mapping[Any, Any] = field(default_factory=dict, repr=False)
    hosts: tuple[str, ...] = ()  # direct members, in declaration order
    children: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    depth: int = 0  # longest chain of parents up to `all`
    priority: int = 1  # ansible_group_priority


@dataclass(frozen=True, eq=False)
class Inventory:
    """Hosts (with effective variables) and groups of one inventory file.

    `hosts` is ordered as Ansible orders `all`: hosts of `all` itself, then of its children,
    breadth-first. `groups` is in declaration order, `all` and `ungrouped` first.
    """

    source: str
    hosts: Mapping[str, Host]
    groups: Mapping[str, Group]
    declared: tuple[str, ...] = field(default=(), repr=False)  # hosts in file order
    implicit: Mapping[str, Host] = field(default_factory=dict, repr=False)  # localhost

    def __repr__(self) -> str:
        return f"Inventory({self.source!r}, hosts={len(self.hosts)}, groups={len(self.groups)})"

    def group_hosts(self, name: str) -> list[Host]:
        """Hosts of group `name` and of its descendants, in Ansible's order."""
        if name not in self.groups:
            raise InventoryError(
                f"{self.source}: no group named {name!r}; groups: {', '.join(self.groups)}"
            )
        return [self.hosts[host] for host in self._group_host_names(name)]

    def _group_host_names(self, name: str) -> list[str]:
        ordered = descendants(name, lambda group: self.groups[group].children)
        return list(dict.fromkeys(host for group in ordered for host in self.groups[group].hosts))

    def select(self, pattern: str) -> list[Host]:
        """The hosts an Ansible host pattern selects (`lab1,lab2`, `web`, `all:!controller`…).

        Raises:
            InventoryError: for an empty pattern, an unknown name or an empty selection; the
                message lists the known hosts.
        """
        matcher = Matcher(
            self.declared, list(self.groups), self._group_host_names, tuple(self.implicit)
        )
        return [self.hosts.get(name) or self.implicit[name] for name in matcher.select(pattern)]

    def to_ansible_list(self) -> dict[str, Any]:
        """What `ansible-inventory --list` prints, as data (without `_meta.profile`)."""
        seen: set[str] = set()

        def entries(name: str) -> dict[str, Any]:
            group = self.groups[name]
            entry: dict[str, Any] = {}
            result = {name: entry}
            if name != "all" and group.hosts:
                entry["hosts"] = list(group.hosts)
            if group.children:
                entry["children"] = list(group.children)
            for child in group.children:
                if child not in seen:
                    result.update(entries(child))
                    seen.add(child)
            if not entry:
                del result[name]
            return result

        document = entries("all")
        document["_meta"] = {
            "hostvars": {
                name: to_json(host.vars, ("_meta", "hostvars", name))
                for name, host in self.hosts.items()
                if host.vars
            }
        }
        return document

    def to_ansible_host(self, pattern: str) -> dict[str, Any]:
        """What `ansible-inventory --host NAME` prints: the variables of exactly one host."""
        hosts = self.select(pattern)
        if len(hosts) != 1:
            names = ", ".join(host.name for host in hosts)
            raise InventoryError(f"{pattern!r} selects {len(hosts)} hosts ({names}), not one")
        return to_json(hosts[0].vars)

    def graph(self, group: str = "all") -> str:
        """What `ansible-inventory --graph [GROUP]` prints."""
        if group not in self.groups:
            raise InventoryError(
                f"{self.source}: no group named {group!r}; groups: {', '.join(self.groups)}"
            )
        lines: list[str] = []

        def walk(name: str, depth: int) -> None:
            lines.append(_graph_line(f"@{name}:", depth))
            for child in self.groups[name].children:
                walk(child, depth + 1)
            if name != "all":
                lines.extend(_graph_line(host, depth + 1) for host in self.groups[name].hosts)

        walk(group, 0)
        return "\n".join(lines)


def _graph_line(text: str, depth: int) -> str:
    return "  |" * depth + "--" + text if depth else text
