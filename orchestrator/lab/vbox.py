"""VirtualBox through VBoxManage: a machine's state and its NICs' promiscuous-mode policy.

The policy is read back from the human-readable `showvminfo` ("NIC 2: … Promisc Policy:
allow-all, …"): `--machinereadable` prints every other NIC property but not this one
(VBoxManageInfo.cpp emits it only in the human form), so that is where it can be verified.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable

from orchestrator.errors import NetmatrixError
from orchestrator.lab.config import LabPaths
from orchestrator.lab.tools import one_line, require, run_tool

INSTALL_HINT = "install VirtualBox, or use `--provider libvirt` or `--provider docker`"
PROMISC_MODES = ("allow-all", "allow-vms", "deny")


def works(which: Callable[[str], str | None] = shutil.which) -> bool:
    """VBoxManage is installed and answers (a leftover binary without its kernel modules
    or services fails `--version`)."""
    path = which("VBoxManage")
    if path is None:
        return False
    try:
        return run_tool([path, "--version"]).returncode == 0
    except OSError:
        return False


def machine_uuid(paths: LabPaths, host: str) -> str:
    """The VirtualBox VM behind a Vagrant machine (Vagrant keeps its UUID in the `id` file)."""
    id_file = paths.machine_id_file(host, "virtualbox")
    try:
        return id_file.read_text().strip()
    except FileNotFoundError:
        raise NetmatrixError(
            f"{host}: no VirtualBox machine ({id_file} is missing): bring it up with "
            f"`invoke lab.up --hosts {host} --provider virtualbox`"
        ) from None


def machine_state(vm: str) -> str:
    """VMState from `showvminfo --machinereadable` (running, poweroff, saved, …)."""
    output = _vboxmanage(["showvminfo", vm, "--machinereadable"], f"VM {vm}")
    found = re.search(r'^VMState="([^"]*)"', output, re.MULTILINE)
    return found.group(1) if found else "unknown"


def promisc_policy(showvminfo: str, nic: int) -> str | None:
    """NIC `nic`'s promiscuous-mode policy in human-readable `showvminfo` output."""
    found = re.search(rf"^NIC {nic}:.*\bPromisc Policy: ([\w-]+)", showvminfo, re.MULTILINE)
    return found.group(1) if found else None


def check_promisc_mode(mode: str) -> None:
    if mode not in PROMISC_MODES:
        raise NetmatrixError(f"unknown promiscuous mode {mode!r}: use {', '.join(PROMISC_MODES)}")


def set_promisc(host: str, vm: str, nic: int, mode: str) -> None:
    """`controlvm <vm> nicpromisc<nic> <mode>` on the running VM, then verify the policy."""
    _vboxmanage(
        ["controlvm", vm, f"nicpromisc{nic}", mode],
        f"{host}: VBoxManage refused nicpromisc{nic} {mode}",
        f"is the VM running? start it with `invoke lab.up --hosts {host}`",
    )
    policy = promisc_policy(_vboxmanage(["showvminfo", vm], f"{host}: showvminfo"), nic)
    if policy != mode:
        raise NetmatrixError(
            f"{host}: NIC {nic} has promiscuous mode {policy or 'unknown'} after setting {mode}: "
            f"check the VM's NIC {nic} (`VBoxManage showvminfo {vm}`)"
        )


def _vboxmanage(args: list[str], what: str, fix: str = "check VirtualBox") -> str:
    result = run_tool([require("VBoxManage", INSTALL_HINT), *args])
    if result.returncode != 0:
        raise NetmatrixError(f"{what}: {one_line(result.stderr or result.stdout)}; {fix}")
    return result.stdout
