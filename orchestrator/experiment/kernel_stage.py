"""A lane's kernel switches: boot a host into the kernel its next stage measures, and back.

The plan puts a host's cells for each kernel it is not running into a stage of their own
(`schedule.Stage`). Before such a stage the host is switched (`kernels.switch_kernel`:
grub-reboot, reboot, wait for a new boot marker, verify `uname -r`), and its facts are read
again so that the runs of the stage record the kernel they really ran on. When the lane is
done, each host that switched is rebooted once more: grub-reboot's entry holds for one boot,
so that reboot brings the host back to its default kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.connection import Connection
from orchestrator.errors import NetmatrixError
from orchestrator.experiment.kernels import KernelSwitch, reboot_and_verify, switch_kernel
from orchestrator.facts import gather_facts
from orchestrator.host import Host

# A VM under QEMU's TCG reboots through GRUB in 55-80 s; a slow machine, or one with many
# services, gets ten minutes before the switch counts as failed.
REBOOT_TIMEOUT = 600.0

Connect = Callable[[Host], Connection]


@dataclass(frozen=True)
class Switched:
    """A host after a switch: an open connection and its facts under the new kernel."""

    conn: Connection
    facts: dict[str, Any]


def switch_host(
    host: Host, switch: KernelSwitch, conn: Connection | None, connect: Connect
) -> Switched:
    """Boot `host` into `switch.kernel`; `conn` (or a new connection) is used and closed.

    Raises:
        NetmatrixError: the switch failed (install, grub entry, reboot, or another kernel
            came up); the message says which step.
    """
    conn = conn or connect(host)
    new = switch_kernel(
        conn,
        switch.package,
        switch.kernel,
        reconnect=lambda: connect(host),
        timeout=REBOOT_TIMEOUT,
    )
    return Switched(new, _facts(new))


def restore_default(
    host: Host, running_before: str, conn: Connection | None, connect: Connect
) -> str | None:
    """Reboot `host` into its default kernel; None when it came back there, else why not.

    The host is expected back on `running_before`, the kernel it ran when the matrix began
    (its default, unless someone had booted it into another one by hand).
    """
    try:
        conn = conn or connect(host)
        new = reboot_and_verify(
            conn, running_before, reconnect=lambda: connect(host), timeout=REBOOT_TIMEOUT
        )
    except NetmatrixError as error:
        return f"{host.name}: back to the default kernel: {error}"
    new.close()
    return None


def _facts(conn: Connection) -> dict[str, Any]:
    try:
        return gather_facts(conn).as_dict()
    except NetmatrixError:
        conn.close()
        raise
