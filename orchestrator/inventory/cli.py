"""The text `ansible-inventory` prints for `--list`, `--host NAME` and `--graph [GROUP]`."""

from __future__ import annotations

from pathlib import Path

from orchestrator.inventory.errors import InventoryError
from orchestrator.inventory.loader import load_inventory
from orchestrator.inventory.values import dumps


def ansible_inventory_text(
    path: str | Path,
    *,
    list_: bool = False,
    host: str | None = None,
    graph: bool = False,
    group: str = "all",
) -> str:
    """Exactly one of the three views of the inventory at `path`, as ansible-inventory shows it.

    `--list` JSON includes `_meta.profile` like Ansible's, so the two outputs compare equal
    byte for byte. It shows `ansible_become_password` as Ansible does: `--list` is an export.
    """
    chosen = [name for name, on in (("--list", list_), ("--host", host), ("--graph", graph)) if on]
    if len(chosen) != 1:
        raise InventoryError(
            "choose exactly one of --list, --host NAME, --graph"
            + (f" (got {' and '.join(chosen)})" if chosen else "")
        )
    inventory = load_inventory(path)
    if host:
        return dumps(inventory.to_ansible_host(host))
    if graph:
        return inventory.graph(group)
    document = inventory.to_ansible_list()
    document["_meta"]["profile"] = "inventory_legacy"
    return dumps(document)
