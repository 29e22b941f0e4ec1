"""`invoke facts`: gather and print host facts."""

from __future__ import annotations

import json
from typing import Any

from invoke import Exit, task
from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestrator.errors import NetmatrixError
from orchestrator.facts import HostFacts, gather_hosts
from orchestrator.tasks._cli import user_errors

FORMATS = ("table", "json")


@task(
    help={
        "hosts": "host pattern: lab1,lab2, a group, all, globs (lab*), exclusions (all:!ctl)",
        "inventory": "inventory file, YAML or INI (default: inventories/lab.yml)",
        "format": "table (default) or json: {host: {fact: value}}, null for what is absent",
    }
)
@user_errors
def facts(
    c: Any, hosts: str, inventory: str = "inventories/lab.yml", format: str = "table"
) -> None:
    """Gather host facts: kernel, distro, CPUs, memory, NICs, tools, tracing, netdev types."""
    if format not in FORMATS:
        raise NetmatrixError(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    from orchestrator.inventory import load_inventory

    selected = load_inventory(inventory).select(hosts)
    results = gather_hosts(selected)
    gathered = {name: r.as_dict() for name, r in results.items() if isinstance(r, HostFacts)}
    failed = {name: r for name, r in results.items() if not isinstance(r, HostFacts)}
    if format == "json":
        print(json.dumps(gathered, indent=2))
    else:
        console = Console()
        for name, values in gathered.items():
            console.print(_table(name, values))
    if failed:
        # Each error already names its host (and address).
        lines = "\n".join(f"error: {error}" for error in failed.values())
        raise Exit(lines, code=NetmatrixError.exit_code)


def _table(host: str, values: dict[str, Any]) -> Table:
    table = Table(title=host, show_header=False, title_justify="left")
    table.add_column("fact", style="bold")
    table.add_column("value")
    for name, value in values.items():
        # Text, not markup: values (kernel messages, names) may contain brackets.
        cell = Text("—", style="dim") if value is None else Text(_cell(name, value))
        table.add_row(name, cell)
    return table


def _cell(name: str, value: Any) -> str:
    if name == "distro":
        return value["pretty_name"] or f"{value['id']} {value['version_id']}"
    if name == "nics":
        return "\n".join(
            f"{nic['name']}  {nic['mac'] or '-'}  mtu {nic['mtu']}"
            + ("  promisc" if nic["promisc"] else "")
            for nic in value
        )
    if name == "tracefs":
        return f"mounted at {value['path']}" if value["mounted"] else "not mounted"
    if name == "tracers":
        return " ".join(value) or "(none)"
    if name == "netdev_types":
        return "\n".join(
            f"{kind}: yes" if probe["supported"] else f"{kind}: no ({probe['message']})"
            for kind, probe in value.items()
        )
    return str(value)
