"""A real two-VM lab on Vagrant's libvirt provider, for integration tests.

lab1 and lab2 are Debian 12 VMs from the box `invoke lab.box` builds (cached: a warm machine
pays nothing for it), brought up with the user's own command (`invoke lab.up --provider
libvirt`), provisioned with `invoke provision`, and destroyed with `invoke lab.down` at the end
of the session. They run under KVM where a test guest shows it works, else under QEMU's
emulation, where a boot takes 60-80 s and traffic runs about 12x slower than native.

The libvirt daemons are started here when they are not running (scripts/start-libvirt.sh:
`virtlogd -d`, `libvirtd -d` on a machine without systemd), as `.ci/run` needs them.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.lab.config import REPO_ROOT
from orchestrator.lab.labfile import read_lab_inventory
from orchestrator.lab.lifecycle import open_lab
from tests.integration.lab_fixture import (
    HOSTS,
    DockerLab,
    ProvisionedLab,
    invoke_provision,
    isolated_environ,
    run_invoke,
)

VM_NETWORK = os.environ.get("NETMATRIX_TEST_VM_NETWORK", "192.168.215.0/24")
UP_TIMEOUT = 1800.0  # a cold box build (about 4 minutes) and two emulated boots


def ensure_libvirtd() -> None:
    """libvirt's daemons running and answering (scripts/start-libvirt.sh, as a user would)."""
    subprocess.run(["bash", str(REPO_ROOT / "scripts" / "start-libvirt.sh")], check=True)


@contextmanager
def provisioned_vm_lab(root: Path, network: str = VM_NETWORK) -> Iterator[ProvisionedLab]:
    """lab1 and lab2 up as libvirt VMs and provisioned; destroyed with `lab.down` on exit."""
    ensure_libvirtd()
    environ = isolated_environ(root, network)
    lab = open_lab(environ)
    started = time.monotonic()
    try:
        up = run_invoke(
            environ, "lab.up", "--hosts", ",".join(HOSTS), "--provider", "libvirt",
            timeout=UP_TIMEOUT,
        )  # fmt: skip
        if up.returncode != 0:
            output = up.stdout[-4000:] + up.stderr
            raise RuntimeError(f"lab.up failed ({up.returncode}):\n{output}")
        hosts = read_lab_inventory(lab.paths.inventory)
        running = DockerLab(lab, hosts, time.monotonic() - started)
        provisioned = time.monotonic()
        done = invoke_provision(running)
        if done.returncode != 0:
            raise RuntimeError(
                f"provisioning the VM lab failed ({done.returncode}):\n{done.stdout[-4000:]}"
            )
        yield ProvisionedLab(running, done, time.monotonic() - provisioned)
    finally:
        down = run_invoke(environ, "lab.down", "--hosts", ",".join(HOSTS), timeout=600)
        if down.returncode != 0:
            raise RuntimeError(f"lab.down failed ({down.returncode}): {down.stderr[-2000:]}")


def domain(lab: ProvisionedLab, name: str) -> str:
    """The libvirt domain (UUID) behind a VM, from Vagrant's machine state."""
    return lab.up.lab.paths.machine_id_file(name, "libvirt").read_text().strip()


def vm_diagnosis(lab: ProvisionedLab, lines: int = 40) -> str:
    """Each VM's libvirt state and the end of its serial console (the kernel's own words
    on a panic or hang): attached to a failed VM test, where "unreachable" alone says
    nothing about why."""
    parts = []
    for name in lab.names:
        state = virsh("domstate", "--reason", domain(lab, name))
        console = lab.up.lab.paths.dotfile / f"{name}-console.log"
        tail = (
            console.read_text(errors="replace").splitlines()[-lines:] if console.is_file() else []
        )
        parts.append(f"== {name}: {(state.stdout or state.stderr).strip()}\n" + "\n".join(tail))
    return "\n".join(parts)


def virsh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["virsh", "-c", "qemu:///system", *args], capture_output=True, text=True, timeout=300
    )
