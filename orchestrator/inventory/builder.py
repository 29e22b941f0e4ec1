"""The mutable inventory the parsers fill, with the rules of Ansible's `InventoryData`.

Parsers call `add_group`, `add_host`, `add_child` and `set_variable` in file order, then
`reconcile` applies what Ansible applies after parsing: every parentless group becomes a child
of `all`, hosts without a group go to `ungrouped`, hosts with one leave it. Group order, host
order and child order are insertion orders, as Ansible's `--list` shows them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.inventory.errors import InventoryError
from orchestrator.inventory.walk import descendants


@dataclass
class GroupData:
    name: str
    vars: dict[Any, Any] = field(default_factory=dict)
    priority: int = 1
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)


@dataclass
class HostData:
    name: str
    vars: dict[Any, Any] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)  # direct memberships


class InventoryBuilder:
    """Groups and hosts under construction for one inventory source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.groups: dict[str, GroupData] = {}
        self.hosts: dict[str, HostData] = {}
        self.add_group("all")
        self.add_group("ungrouped")
        self.add_child("all", "ungrouped")

    def add_group(self, name: Any, at: str | None = None) -> str:
        """Declare a group (again, harmlessly); returns its name."""
        if not isinstance(name, str):
            raise InventoryError(
                f"{at or self.source}: a group name must be a string, got {name!r}"
            )
        if not name:
            raise InventoryError(f"{at or self.source}: a group name must not be empty")
        name = str(name)
        self.groups.setdefault(name, GroupData(name))
        return name

    def add_host(
        self, name: Any, group: str | None = None, port: int | None = None, at: str | None = None
    ) -> str:
        """Declare a host and put it in `group`; a port applies only when the host is new."""
        if not isinstance(name, str) or not name:
            raise InventoryError(f"{at or self.source}: a host name must be a non-empty string")
        name = str(name)
        if name not in self.hosts:
            self.hosts[name] = HostData(name)
            if port:
                self.hosts[name].vars["ansible_port"] = int(port)
        if group is not None:
            self._add_member(group, name)
        return name

    def _add_member(self, group: str, host: str) -> None:
        if host not in self.groups[group].hosts:
            self.groups[group].hosts.append(host)
            self.hosts[host].groups.append(group)

    def set_variable(self, entity: str, key: Any, value: Any, at: str | None = None) -> None:
        """Set a variable of a group or host (a group wins a name clash, as in Ansible)."""
        if entity in self.groups:
            if key == "ansible_group_priority":
                try:
                    self.groups[entity].priority = int(value)
                except (TypeError, ValueError):
                    raise InventoryError(
                        f"{at or self.source}: ansible_group_priority of group {entity!r} "
                        "must be an integer"
                    ) from None
                return
            self.groups[entity].vars[key] = value
        elif entity in self.hosts:
            self.hosts[entity].vars[key] = value
        else:
            raise InventoryError(f"{at or self.source}: no group or host named {entity!r}")

    def add_child(self, parent: str, child: str, at: str | None = None) -> None:
        """Make `child` (a group, else a host) a member of group `parent`; cycles are errors."""
        if parent not in self.groups:
            raise InventoryError(f"{at or self.source}: {parent!r} is not a known group")
        if child == "all":
            raise InventoryError(
                f"{at or self.source}: group 'all' holds every group; it cannot be a child "
                f"of {parent!r}"
            )
        if child not in self.groups:
            if child not in self.hosts:
                raise InventoryError(
                    f"{at or self.source}: {child!r} is not a known host nor group"
                )
            self._add_member(parent, child)
            return
        if child == parent or child in self.ancestors(parent):
            cycle = " → ".join([parent, *self._path(child, parent)])
            raise InventoryError(
                f"{at or self.source}: group {child!r} cannot be a child of {parent!r}: "
                f"group children would form a cycle ({cycle})"
            )
        if child not in self.groups[parent].children:
            self.groups[parent].children.append(child)
            self.groups[child].parents.append(parent)

    def _path(self, start: str, goal: str) -> list[str]:
        """Group names from `start` down to `goal` through children (both ends included)."""
        previous: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            name = queue.popleft()
            if name == goal:
                break
            for child in self.groups[name].children:
                if child not in previous:
                    previous[child] = name
                    queue.append(child)
        path: list[str] = []
        node: str | None = goal
        while node is not None:
            path.append(node)
            node = previous.get(node)
        return path[::-1]

    def ancestors(self, group: str) -> set[str]:
        """Every group above `group`."""
        seen: set[str] = set()
        todo = list(self.groups[group].parents)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self.groups[name].parents)
        return seen

    def host_groups(self, host: str) -> set[str]:
        """Every group that holds `host`, directly or through children."""
        direct = self.hosts[host].groups
        return set(direct).union(*(self.ancestors(group) for group in direct))

    def reconcile(self) -> None:
        """Ansible's post-parse rules: `all` above every root group, `ungrouped` kept exact."""
        for group in list(self.groups.values()):
            if group.name != "all" and not group.parents:
                self.add_child("all", group.name)
        for host in self.hosts.values():
            groups = self.host_groups(host.name)
            if "ungrouped" in groups:
                if groups - {"all", "ungrouped"} and "ungrouped" in host.groups:
                    self.groups["ungrouped"].hosts.remove(host.name)
                    host.groups.remove("ungrouped")
            elif not groups - {"all"}:
                # by name, like Ansible: a group that shares the host's name goes instead
                self.add_child("ungrouped", host.name)

    def depths(self) -> dict[str, int]:
        """Each group's depth: its longest chain of parents up to `all` (which is 0)."""
        depth: dict[str, int] = {}

        def visit(name: str) -> int:
            if name not in depth:
                parents = self.groups[name].parents
                depth[name] = max((visit(parent) + 1 for parent in parents), default=0)
            return depth[name]

        for name in self.groups:
            visit(name)
        return depth

    def descendants(self, group: str) -> list[str]:
        """`group`, its children, then deeper levels breadth-first, each group once."""
        return descendants(group, lambda name: self.groups[name].children)

    def group_hosts(self, group: str) -> list[str]:
        """Hosts of `group` and its descendants, in Ansible's order, each once."""
        return list(dict.fromkeys(self._hosts_of(self.descendants(group))))

    def _hosts_of(self, groups: Iterable[str]) -> Iterable[str]:
        for name in groups:
            yield from self.groups[name].hosts
