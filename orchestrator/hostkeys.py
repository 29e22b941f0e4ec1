"""SSH host-key checking: which keys a host may present, and refusing every other one.

Ansible's rule, applied non-interactively as OpenSSH does with `StrictHostKeyChecking yes`:

- `host_key_checking: false` (a host, group or `all` variable): no checking, any key is
  accepted and nothing is recorded.
- otherwise (the default) the key the server presents must be one recorded for it — under
  `address`, or `[address]:port` when the port is not 22 — in the file named by
  `netmatrix_known_hosts` (`invoke lab.up` writes one for its machines) or in
  `~/.ssh/known_hosts`. A different key refuses the connection (paramiko raises
  `BadHostKeyException`), and so does a key for which nothing is recorded (`UnknownHostKey`):
  nothing is trusted on first use, because nobody is there to confirm it.

The inventory's own file is read first: for a name it lists, its keys come before stale ones
a user's `~/.ssh/known_hosts` may still hold for the same loopback address and port.
"""

from __future__ import annotations

import contextlib
import shlex
from pathlib import Path
from typing import Any

import paramiko

from orchestrator.host import Host

USER_KNOWN_HOSTS = "~/.ssh/known_hosts"


class UnknownHostKey(Exception):
    """The server presented a key no known_hosts file records for it."""

    def __init__(self, address: str, port: int, key: paramiko.PKey) -> None:
        super().__init__(f"unknown {key.get_name()} host key for {address}:{port}")
        self.address = address
        self.port = port
        self.key = key


def checking_enabled(host: Host) -> bool:
    """`host_key_checking`, true unless the inventory says false (any YAML or INI spelling)."""
    value: Any = host.vars.get("host_key_checking", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off", "n", "f")
    return bool(value)


def known_hosts_files(host: Host) -> list[Path]:
    """The files checked for `host`'s key, the inventory's own first."""
    files = [Path(USER_KNOWN_HOSTS).expanduser()]
    inventory_file = host.vars.get("netmatrix_known_hosts")
    if inventory_file:
        files.insert(0, Path(str(inventory_file)).expanduser())
    return files


class _RefuseUnknownKeys(paramiko.MissingHostKeyPolicy):
    def __init__(self, host: Host) -> None:
        self.host = host

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        raise UnknownHostKey(self.host.address, self.host.port, key)


def host_key_policy(client: paramiko.SSHClient, host: Host) -> None:
    """Configure `client` to check `host`'s key as the module docstring says."""
    if not checking_enabled(host):
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        return
    for path in known_hosts_files(host):
        with contextlib.suppress(FileNotFoundError):  # none recorded there yet
            client.load_host_keys(str(path))
    client.set_missing_host_key_policy(_RefuseUnknownKeys(host))


def refusal(error: paramiko.BadHostKeyException | UnknownHostKey) -> str:
    """Why a connection was refused and how to fix it, for `host:port: <refusal>`."""
    if isinstance(error, UnknownHostKey):
        scan = shlex.join(["ssh-keyscan", "-p", str(error.port), error.address])
        return (
            f"unknown host key ({error.key.get_name()} {error.key.fingerprint}): if it is the "
            f"host's, record it with `{scan} >> {USER_KNOWN_HOSTS}`, or set "
            "host_key_checking: false in the inventory"
        )
    return (
        f"host key differs from the known one ({error.key.get_name()} {error.key.fingerprint}); "
        "someone may be intercepting, or the host was reinstalled: if so, remove its old key "
        "from the known_hosts file"
    )
