"""The lab tasks: `lab.up`, `lab.status`, `lab.down`, `lab.promisc`, `lab.box`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from invoke import task
from rich.console import Console

from orchestrator.flags import choice_flag, count_flag
from orchestrator.tasks._cli import user_errors

# orchestrator.lab loads Docker's SDK and Fabric: imported inside each task.

# VirtualBox numbers a VM's network adapters 1 to 8.
VBOX_NICS = 8
HOSTS_HELP = "comma-separated machine names, e.g. lab1,lab2 (default: every machine)"


@task(
    help={
        "hosts": HOSTS_HELP,
        "provider": "virtualbox, libvirt or docker (default: virtualbox when VBoxManage works, "
        "else libvirt when --spec needs another kernel than this machine's, else docker)",
        "spec": "a matrix spec whose kernel patterns choose the provider (see --provider)",
    }
)
@user_errors
def up(c: Any, hosts: str = "", provider: str = "", spec: str = "") -> None:
    """Bring lab machines up and write them into inventories/lab.yml."""
    from orchestrator.lab.lifecycle import (
        PROVIDERS,
        lab_up,
        needs_other_kernel,
        open_lab,
        parse_hosts,
    )

    if provider:
        choice_flag("--provider", provider, PROVIDERS)
    other_kernel = bool(spec) and needs_other_kernel(Path(spec))
    lab_up(open_lab(), parse_hosts(hosts), provider or None, other_kernel=other_kernel)


@task
@user_errors
def status(c: Any) -> None:
    """Show each lab machine: state, address, kernel, provider."""
    from orchestrator.lab.lifecycle import open_lab
    from orchestrator.lab.status import lab_status, status_table

    Console().print(status_table(lab_status(open_lab())))


@task(help={"hosts": HOSTS_HELP})
@user_errors
def down(c: Any, hosts: str = "") -> None:
    """Destroy lab machines and remove them from inventories/lab.yml."""
    from orchestrator.lab.lifecycle import lab_down, open_lab, parse_hosts

    lab_down(open_lab(), parse_hosts(hosts))


@task(
    help={
        "hosts": HOSTS_HELP,
        "mode": "allow-all (default), allow-vms or deny",
        "nic": "VirtualBox NIC number of the lab network (default 2)",
    }
)
@user_errors
def promisc(c: Any, hosts: str = "", mode: str = "allow-all", nic: str | None = None) -> None:
    """Set the lab NIC's promiscuous mode (VBoxManage for VMs, ip link in docker nodes)."""
    from orchestrator.lab.lifecycle import lab_promisc, open_lab, parse_hosts
    from orchestrator.lab.vbox import PROMISC_MODES

    policy = choice_flag("--mode", mode, PROMISC_MODES)
    number = count_flag("--nic", nic, 2, VBOX_NICS)
    lab_promisc(open_lab(), parse_hosts(hosts), policy, number)


@task(
    help={
        "kernels": "comma-separated Debian kernel packages the box carries, the first its "
        "default (default: box_kernels of inventories/lab.vagrant.yml)",
    }
)
@user_errors
def box(c: Any, kernels: str = "") -> None:
    """Build the libvirt lab box from Debian packages (cached) and add it to Vagrant."""
    from orchestrator.lab.libvirt import ensure_lab_box
    from orchestrator.lab.lifecycle import open_lab, parse_hosts

    lab = open_lab()
    ensure_lab_box(lab.paths, parse_hosts(kernels) or lab.config.box_kernels, lab.say)
