"""How lab node containers get the privileges Docker-in-Docker and perf need.

`docker run --privileged` grants every capability the kernel knows; where the controller's own
capability bounding set lacks one (this machine has no CAP_SYS_RESOURCE), runc cannot apply it
and the container does not start ("unable to apply caps"). The detection compares the bounding
set from /proc/self/status with /proc/sys/kernel/cap_last_cap and, when something is missing,
falls back to every capability but the missing ones, with seccomp, AppArmor and the masked
/proc paths unconfined and the cgroup hierarchy mounted writable: what --privileged would give,
less what cannot be had.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# Linux capability numbers (include/uapi/linux/capability.h), as Docker names them.
CAPABILITIES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
)

UNCONFINED = (
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--security-opt",
    "systempaths=unconfined",
    "--volume",
    "/sys/fs/cgroup:/sys/fs/cgroup:rw",
)


@dataclass(frozen=True)
class RunPrivileges:
    """How to run a lab node: privileged, or with explicit flags for `docker create`."""

    privileged: bool
    create_args: tuple[str, ...]
    missing: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.privileged:
            return "--privileged"
        return f"all capabilities but {', '.join(self.missing)} (not in the bounding set)"

    def write_for_vagrant(self, path: Path) -> None:
        """Write the flags where the Vagrantfile's docker provider block reads them."""
        path.parent.mkdir(parents=True, exist_ok=True)
        settings = {"privileged": self.privileged, "create_args": list(self.create_args)}
        path.write_text(json.dumps(settings, indent=2) + "\n")


def missing_capabilities(status_text: str, last_cap: int) -> tuple[str, ...]:
    """Capabilities up to `last_cap` absent from the CapBnd line of a /proc/<pid>/status text."""
    for line in status_text.splitlines():
        if line.startswith("CapBnd:"):
            bounding = int(line.split()[1], 16)
            break
    else:
        raise ValueError("no CapBnd line in the process status")
    # Docker's --privileged grants only the capabilities it knows, so newer ones cannot fail.
    known = min(last_cap + 1, len(CAPABILITIES))
    return tuple(CAPABILITIES[n] for n in range(known) if not bounding >> n & 1)


def privileges_for(status_text: str, last_cap: int) -> RunPrivileges:
    """--privileged when the bounding set is complete, else the fallback flags."""
    missing = missing_capabilities(status_text, last_cap)
    if not missing:
        return RunPrivileges(privileged=True, create_args=())
    drops = tuple(arg for name in missing for arg in ("--cap-drop", name))
    return RunPrivileges(
        privileged=False,
        create_args=("--cap-add", "ALL", *drops, *UNCONFINED),
        missing=missing,
    )


def detect() -> RunPrivileges:
    """The privileges lab nodes can have on this controller."""
    status = Path("/proc/self/status").read_text()
    last_cap = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    return privileges_for(status, last_cap)
