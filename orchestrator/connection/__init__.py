"""The one seam for remote execution: run, sudo, put, get on a host, over SSH or locally.

Everything that touches a host goes through a `Connection`. Unit tests replace it with
`tests.fakes.FakeConnection`; integration tests use a real sshd.

Commands are given either as a sequence of arguments (each quoted with `shlex.quote`, so
values from data are never interpreted by a shell) or as one string of shell text (the
`shell` module's case, written by the playbook author).

How a command reaches the host (`wire_command`): the text runs under `/bin/sh -c` (Ansible's
`shell` default, the same whatever the login shell), inside `timeout -k` when it has a
timeout (GNU timeout signals the whole process group, so children die with it), inside
`sudo` for `sudo` (so the timeout runs as root and can kill root's processes). A
`CommandResult` keeps only the caller's text: never the wrappers, never a password.

`connect(host)` picks `SSHConnection` (Fabric/paramiko) or `LocalConnection` (subprocess)
from `ansible_connection`. Host keys are checked as `orchestrator.hostkeys` says.

One module per concern, as pyinfra's `connectors/`: `commands` (command text, results,
errors, the `Connection` protocol), `sudo` (how `run` and `sudo` wrap a command), `transfer`
(the one verify-then-rename copy), `ssh` and `local` (the two connections).
"""

from orchestrator.connection.commands import (
    KILL_AFTER,
    TRANSPORT_GRACE,
    ChecksumMismatch,
    Command,
    CommandFailed,
    CommandResult,
    CommandTimeout,
    Connection,
    MissingKeyFile,
    TransferError,
    TransferResult,
    UnreachableError,
    command_text,
    last_line,
    wire_command,
)
from orchestrator.connection.local import LocalConnection
from orchestrator.connection.ssh import SSHConnection, connect_ssh
from orchestrator.connection.transfer import TRANSFER_ATTEMPTS, sha256_file
from orchestrator.host import Host

__all__ = [
    "KILL_AFTER",
    "TRANSFER_ATTEMPTS",
    "TRANSPORT_GRACE",
    "ChecksumMismatch",
    "Command",
    "CommandFailed",
    "CommandResult",
    "CommandTimeout",
    "Connection",
    "LocalConnection",
    "MissingKeyFile",
    "SSHConnection",
    "TransferError",
    "TransferResult",
    "UnreachableError",
    "command_text",
    "connect",
    "connect_ssh",
    "last_line",
    "sha256_file",
    "wire_command",
]


def connect(
    host: Host,
    *,
    connect_timeout: float = 10,
    retries: int = 3,
    backoff: float = 0.5,
) -> Connection:
    """An open connection to `host`: local for `ansible_connection: local`, else SSH.

    SSH connection attempts that fail for network reasons are retried `retries` times,
    waiting `backoff`, 2×`backoff`, 4×`backoff`… seconds in between. Authentication and
    host-key failures are not retried: trying again cannot fix them.

    Raises:
        UnreachableError: the host could not be reached; one line naming host:port and why.
    """
    if host.connection == "local":
        return LocalConnection(host)
    if host.connection not in ("ssh", "paramiko", "smart"):
        raise UnreachableError(
            f"{host.name}: unsupported ansible_connection {host.connection!r} "
            "(netmatrix speaks ssh and local)"
        )
    return connect_ssh(host, connect_timeout=connect_timeout, retries=retries, backoff=backoff)
