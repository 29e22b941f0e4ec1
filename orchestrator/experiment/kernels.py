"""Which kernel a host measures on, and switching a host to another kernel by rebooting it.

Without `kernel` patterns in the spec a host contributes the kernel it runs (DESIGN: "the
kernel axis is the hosts"). With patterns it contributes every kernel of its own that one
matches: the running one and those it declares in its `kernels` host var
(`linux-image-<release>` packages; `lab.up` fills it in from what a VM's box carries). The
matrix then runs the host's cells kernel by kernel, switching in between, and reboots the host
back to its default kernel at the end.

Switching is install (when missing) → next boot entry → reboot → wait for SSH → verify
`uname -r`:

- A package not yet installed is installed with `apt-get install -y` (debconf
  non-interactive); its postinst hook regenerates /boot/grub/grub.cfg. Lab boxes carry their
  kernels (installing one in an emulated VM takes about ten minutes), so this is usually a
  `dpkg-query` that finds it.
- The boot entry is chosen by reading grub.cfg for the (non-recovery) `menuentry` whose
  `linux` line loads `vmlinuz-<release>`, and naming it to `grub-reboot` by its menu-entry id
  (`submenu-id>entry-id` inside "Advanced options"). grub-reboot sets `next_entry` in grubenv,
  which the header of every grub.cfg that grub-mkconfig writes honours for one boot whatever
  GRUB_DEFAULT says; the boot after that returns to the host's usual default, so a host is
  never left stranded on an experimental kernel.
- Coming back is recognised by a changed boot marker (the kernel's boot_id plus PID 1's start
  time, so that a container restarted from outside counts too), not by SSH answering: SSH
  may still answer for a moment after `shutdown` returns.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from orchestrator.connection import (
    Command,
    CommandResult,
    CommandTimeout,
    Connection,
    UnreachableError,
)
from orchestrator.errors import NetmatrixError
from orchestrator.host import Host

# A Debian package name (lowercase letters, digits, `+ . -`): nothing a shell would read.
KERNEL_PACKAGE = re.compile(r"linux-image-(?:unsigned-)?(?P<release>\d[a-z0-9+.-]*)")
GRUB_CFG = "/boot/grub/grub.cfg"
INSTALL_TIMEOUT = 1800.0
REBOOT_COMMAND_TIMEOUT = 30.0

_BLOCK = re.compile(r"""\s*(menuentry|submenu)\s+(?:'([^']*)'|"([^"]*)")(.*)\{\s*""")
_ENTRY_ID = re.compile(r"""(?:\$menuentry_id_option|--id)\s+['"]?([^'"\s]+)""")
_LINUX = re.compile(r"\s*linux(?:16|efi)?\s+\S*/vmlinuz-(\S+)")

Reconnect = Callable[[], Connection]


@dataclass(frozen=True)
class KernelSwitch:
    """Boot `host` into `kernel` by installing `package`, before that host's cells run."""

    host: str
    package: str
    kernel: str


def installable_kernels(host: Host) -> dict[str, str]:
    """The host's installable kernels (host var `kernels`), release → package, declared order."""
    declared = host.vars.get("kernels", [])
    if not isinstance(declared, list) or not all(isinstance(item, str) for item in declared):
        raise NetmatrixError(
            f"{host.name}: host var kernels must be a list of linux-image-<release> packages"
        )
    kernels = {}
    for index, package in enumerate(declared):
        match = KERNEL_PACKAGE.fullmatch(package)
        if match is None:
            raise NetmatrixError(
                f"{host.name}: kernels[{index}]: {package!r} names no kernel release "
                "(expected linux-image-<release>, like linux-image-6.1.0-13-amd64)"
            )
        kernels[match["release"]] = package
    return kernels


def measured_kernels(host: Host, running: str, patterns: Sequence[str]) -> tuple[str, ...]:
    """The kernel releases `host` measures on, in the order its cells run.

    Without patterns, the running kernel. With patterns, every kernel of the host, running or
    installable, that one of them matches: patterns in the spec's order and, for each, the
    running kernel first, then the installable ones in the order the inventory declares them.
    A host none of whose kernels matches is refused, naming what it has.
    """
    if not patterns:
        return (running,)
    installable = installable_kernels(host)
    candidates = [running, *(release for release in installable if release != running)]
    chosen: list[str] = []
    for pattern in patterns:
        chosen += [
            release
            for release in candidates
            if fnmatchcase(release, pattern) and release not in chosen
        ]
    if chosen:
        return tuple(chosen)
    declared = ", ".join(installable.values()) or "none"
    raise NetmatrixError(
        f"{host.name} runs kernel {running}, which matches none of the kernel patterns "
        f"({', '.join(patterns)}), and none of its installable kernels does "
        f"(host var kernels: {declared})"
    )


def kernel_switch(host: Host, running: str, kernel: str) -> KernelSwitch | None:
    """The switch `host` needs to measure on `kernel`, or None when it already runs it."""
    if kernel == running:
        return None
    package = installable_kernels(host).get(kernel)
    if package is None:
        raise NetmatrixError(
            f"{host.name}: kernel {kernel} is neither running ({running}) "
            "nor installable (host var kernels)"
        )
    return KernelSwitch(host=host.name, package=package, kernel=kernel)


def switch_kernel(
    conn: Connection,
    package: str,
    expected_pattern: str,
    *,
    reconnect: Reconnect,
    timeout: float,
    poll: float = 5.0,
) -> Connection:
    """Install `package`, boot into it once, and return a connection to the rebooted host.

    Args:
        conn: a connection to the host, which is closed by the reboot.
        package: a `linux-image-<release>` package.
        expected_pattern: fnmatch pattern `uname -r` must match after the reboot.
        reconnect: opens a new connection to the host; may raise UnreachableError.
        timeout: seconds to wait for the host to come back after the reboot.
        poll: seconds between connection attempts.
    """
    match = KERNEL_PACKAGE.fullmatch(package)
    if match is None:
        raise NetmatrixError(f"kernel switch on {conn.host.name}: {package!r} is not a kernel")
    if not _installed(conn, package):
        install = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", package]
        _required(conn, install, timeout=INSTALL_TIMEOUT)
    grub_cfg = _required(conn, ["cat", GRUB_CFG]).stdout
    entry = grub_entry(grub_cfg, match["release"])
    if entry is None:
        raise NetmatrixError(
            f"kernel switch on {conn.host.name}: no menu entry in {GRUB_CFG} "
            f"boots {match['release']}"
        )
    _required(conn, ["grub-reboot", entry])
    return reboot_and_verify(
        conn, expected_pattern, reconnect=reconnect, timeout=timeout, poll=poll
    )


def _installed(conn: Connection, package: str) -> bool:
    status = conn.run(["dpkg-query", "-W", "-f=${Status}", package])
    return status.ok and status.stdout.strip() == "install ok installed"


def request_reboot(conn: Connection) -> None:
    """Ask the host to reboot now.

    A session the reboot cuts (no exit status, a dropped connection, no answer) means the
    reboot has begun; only a clear refusal (a positive exit status) is an error.
    """
    try:
        result = conn.sudo(["shutdown", "-r", "now"], timeout=REBOOT_COMMAND_TIMEOUT)
    except (UnreachableError, CommandTimeout):
        return
    if result.rc > 0:
        raise _failed(conn, result)


def reboot_and_verify(
    conn: Connection,
    expected_pattern: str,
    *,
    reconnect: Reconnect,
    timeout: float,
    poll: float = 5.0,
    reboot: Callable[[Connection], None] = request_reboot,
) -> Connection:
    """Reboot the host, wait until it is back, and check `uname -r` matches the pattern.

    `reboot` replaces the reboot request, for hosts restarted from outside such as a
    Docker-provider node (whose kernel cannot change, so verification then fails). `conn` is
    closed; the connection returned is the new one.
    """
    name = conn.host.name
    before = boot_marker(conn)
    reboot(conn)
    conn.close()
    new = _wait_for_restart(name, before, reconnect, timeout, poll)
    try:
        running = _required(new, ["uname", "-r"], sudo=False).stdout.strip()
        if not fnmatchcase(running, expected_pattern):
            raise NetmatrixError(
                f"kernel switch on {name}: expected {expected_pattern}, "
                f"running {running} after reboot"
            )
    except NetmatrixError:
        new.close()
        raise
    return new


def _wait_for_restart(
    name: str, before: str, reconnect: Reconnect, timeout: float, poll: float
) -> Connection:
    """A connection to the host once its boot marker differs from `before`."""
    deadline = time.monotonic() + timeout
    while True:
        new = None
        try:
            new = reconnect()
            if boot_marker(new) != before:
                return new
            last = "it has not gone down yet"
        except NetmatrixError as error:
            last = str(error)
        if new is not None:
            new.close()
        if time.monotonic() >= deadline:
            raise NetmatrixError(
                f"kernel switch on {name}: not back within {timeout:g}s after reboot ({last})"
            )
        time.sleep(poll)


def boot_marker(conn: Connection) -> str:
    """What changes when the host restarts: boot_id and PID 1's start time (clock ticks)."""
    output = _required(
        conn, ["cat", "/proc/sys/kernel/random/boot_id", "/proc/1/stat"], sudo=False
    ).stdout
    boot_id, _, stat = output.partition("\n")
    # Field 22 of /proc/PID/stat; the fields after the parenthesised command start at 3.
    fields = stat.rpartition(")")[2].split()
    if not boot_id.strip() or len(fields) < 20:
        raise NetmatrixError(f"{conn.host.name}: cannot read the boot marker from {output!r}")
    return f"{boot_id.strip()}/{fields[19]}"


def grub_entry(grub_cfg: str, release: str) -> str | None:
    """The grub-reboot name of the first non-recovery menu entry booting `release`, or None.

    Entries are named by id where grub.cfg gives one, else by title; a nested entry is
    `submenu>entry`.
    """
    open_blocks: list[tuple[str, str, str] | None] = []  # (kind, name, title) or another block
    for line in grub_cfg.splitlines():
        block = _BLOCK.fullmatch(line)
        if block:
            title = block[2] if block[2] is not None else block[3]
            entry_id = _ENTRY_ID.search(block[4])
            open_blocks.append((block[1], entry_id[1] if entry_id else title, title))
        elif line.strip().endswith("{"):
            open_blocks.append(None)
        elif line.strip() == "}" and open_blocks:
            open_blocks.pop()
        elif (linux := _LINUX.match(line)) and linux[1] == release and open_blocks:
            innermost = open_blocks[-1]
            if innermost and innermost[0] == "menuentry" and "recovery" not in innermost[2].lower():
                return ">".join(block[1] for block in open_blocks if block)
    return None


def _required(
    conn: Connection, command: Command, *, sudo: bool = True, timeout: float | None = None
) -> CommandResult:
    result = (conn.sudo if sudo else conn.run)(command, timeout=timeout)
    if not result.ok:
        raise _failed(conn, result)
    return result


def _failed(conn: Connection, result: CommandResult) -> NetmatrixError:
    detail = (result.stderr or result.stdout).strip().splitlines()
    return NetmatrixError(
        f"kernel switch on {conn.host.name}: `{result.command}` exited {result.rc}: "
        f"{detail[-1] if detail else 'no output'}"
    )
