"""Ansible-compatible inventories: YAML and INI files, host patterns, `ansible-inventory` output.

    from orchestrator.inventory import load_inventory
    inventory = load_inventory("inventories/lab.yml")
    for host in inventory.select("all:!controller"):
        print(host.name, host.address, host.port)

Hosts come out as `orchestrator.host.Host` values carrying their effective variables (Ansible's
precedence already applied) and their group names. Modules: `ini` and `yamlfile` read the two
formats into a `builder` that keeps Ansible's group rules; `loader` merges variables;
`patterns` evaluates `--hosts`; `model` holds the frozen result and the `--list` view.
"""

from orchestrator.inventory.errors import InventoryError
from orchestrator.inventory.loader import load_inventory
from orchestrator.inventory.model import Group, Inventory
from orchestrator.inventory.values import Unsafe, Vaulted, dumps

__all__ = ["Group", "Inventory", "InventoryError", "Unsafe", "Vaulted", "dumps", "load_inventory"]
