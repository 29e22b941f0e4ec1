"""`load_inventory`: pick the format, parse, reconcile, and merge variables as Ansible does.

Effective host variables, lowest to highest (ansible-core's default VARIABLE_PRECEDENCE):
`all`'s vars < every other group of the host, sorted by (depth, ansible_group_priority, name)
< `group_vars/all` < `group_vars/<group>` in the same order < the host's own vars
< `host_vars/<host>`. Merging replaces whole values (Ansible's default hash_behaviour).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any

from orchestrator.host import LOCALHOST_NAMES, Host
from orchestrator.inventory.builder import InventoryBuilder
from orchestrator.inventory.errors import InventoryError
from orchestrator.inventory.ini import decode_ini, parse_ini
from orchestrator.inventory.model import Group, Inventory
from orchestrator.inventory.varsfiles import VarsFiles
from orchestrator.inventory.yamlfile import NotYamlInventory, load_document, parse_yaml, read_text

YAML_EXTENSIONS = (".yml", ".yaml", ".json")

# Variables ansible-inventory never shows: Ansible sets them itself (ansible/constants.py).
INTERNAL_VARS = frozenset(
    {
        "ansible_async_path",
        "ansible_collection_name",
        "ansible_config_file",
        "ansible_dependent_role_names",
        "ansible_diff_mode",
        "ansible_facts",
        "ansible_forks",
        "ansible_inventory_sources",
        "ansible_limit",
        "ansible_play_batch",
        "ansible_play_hosts",
        "ansible_play_hosts_all",
        "ansible_play_role_names",
        "ansible_playbook_python",
        "ansible_role_name",
        "ansible_role_names",
        "ansible_run_tags",
        "ansible_skip_tags",
        "ansible_verbosity",
        "ansible_version",
        "inventory_dir",
        "inventory_file",
        "inventory_hostname",
        "inventory_hostname_short",
        "groups",
        "group_names",
        "hostvars",
        "playbook_dir",
        "play_hosts",
        "role_name",
        "role_names",
        "role_path",
        "role_uuid",
    }
)


def load_inventory(path: str | Path) -> Inventory:
    """Load a YAML (`.yml`, `.yaml`, `.json`) or INI inventory file.

    As in Ansible, a YAML-named or extensionless file that is not a YAML inventory is tried as
    INI; any other extension is INI. `group_vars/` and `host_vars/` beside the file count.

    Raises:
        InventoryError: naming file:line:col for malformed or inconsistent input.
    """
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise InventoryError(f"{source}: is a directory; pass one inventory file")
    if not path.exists():
        raise InventoryError(f"{source}: no such inventory file")
    builder = _parse(path, source)
    builder.reconcile()
    return _freeze(builder, VarsFiles(path))


def _parse(path: Path, source: str) -> InventoryBuilder:
    extension = os.path.splitext(path.name)[1]
    if extension == ".toml":
        raise InventoryError(f"{source}: TOML inventories are not supported; use YAML or INI")
    text = read_text(path, source) if not extension or extension in YAML_EXTENSIONS else None
    if text is None:
        return _parse_ini(path, source)
    try:
        builder = InventoryBuilder(source)
        parse_yaml(load_document(text, source), builder)
        return builder
    except InventoryError as yaml_error:
        # Ansible's next plugin is INI; report the YAML problem if INI fails as well, unless
        # the file was not YAML-named and did not even load as a mapping
        try:
            return _parse_ini(path, source)
        except InventoryError as ini_error:
            prefer_ini = not extension and isinstance(yaml_error, NotYamlInventory)
            raise (ini_error if prefer_ini else yaml_error) from None


def _parse_ini(path: Path, source: str) -> InventoryBuilder:
    builder = InventoryBuilder(source)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InventoryError(f"{source}: cannot read: {error.strerror}") from None
    parse_ini(decode_ini(data, source), builder)
    return builder


def _freeze(builder: InventoryBuilder, files: VarsFiles) -> Inventory:
    depths = builder.depths()

    def precedence(name: str) -> tuple[int, int, str]:
        return depths[name], builder.groups[name].priority, name

    def effective(name: str, own: dict[Any, Any], groups: list[str]) -> dict[Any, Any]:
        merged = dict(builder.groups["all"].vars)
        for group in groups:
            merged |= builder.groups[group].vars
        merged |= files.group_vars("all")
        for group in groups:
            merged |= files.group_vars(group)
        merged |= own
        merged |= files.host_vars(name)
        return {key: value for key, value in merged.items() if key not in INTERNAL_VARS}

    hosts: dict[str, Host] = {}
    for name in builder.group_hosts("all"):
        groups = sorted(builder.host_groups(name) - {"all"}, key=precedence)
        host_vars = effective(name, builder.hosts[name].vars, groups)
        hosts[name] = Host(name, host_vars, tuple(sorted(groups)))
    implicit = {
        name: Host(
            name,
            effective(
                name,
                {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                [],
            ),
        )
        for name in LOCALHOST_NAMES
        if name not in builder.hosts
    }
    groups = {
        name: Group(
            name=name,
            vars=MappingProxyType(dict(group.vars)),
            hosts=tuple(group.hosts),
            children=tuple(group.children),
            parents=tuple(group.parents),
            depth=depths[name],
            priority=group.priority,
        )
        for name, group in builder.groups.items()
    }
    return Inventory(
        source=builder.source,
        hosts=MappingProxyType(hosts),
        groups=MappingProxyType(groups),
        declared=tuple(builder.hosts),
        implicit=MappingProxyType(implicit),
    )
