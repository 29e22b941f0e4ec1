"""`invoke inventory`: an inventory as `ansible-inventory` shows it (--list, --host, --graph)."""

from invoke import Context, task

from orchestrator.inventory.cli import ansible_inventory_text
from orchestrator.tasks._cli import user_errors

DEFAULT_INVENTORY = "inventories/lab.yml"


@task(
    name="inventory",
    help={
        "inventory": f"inventory file, YAML or INI (default {DEFAULT_INVENTORY})",
        "list": "print every group and host variable as JSON, like ansible-inventory --list",
        "host": "print the variables of one host (or a pattern selecting one) as JSON",
        "graph": "print the group tree, like ansible-inventory --graph",
        "group": "with --graph: the group to start from (default all)",
    },
)
@user_errors
def inventory(
    c: Context,
    inventory: str = DEFAULT_INVENTORY,
    list_: bool = False,
    host: str | None = None,
    graph: bool = False,
    group: str = "all",
) -> None:
    """Show an inventory like ansible-inventory: --list, --host NAME or --graph."""
    print(ansible_inventory_text(inventory, list_=list_, host=host, graph=graph, group=group))
