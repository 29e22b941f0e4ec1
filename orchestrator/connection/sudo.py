"""`run` and `sudo` for every connection, on top of its `_execute`."""

from __future__ import annotations

from orchestrator.connection.commands import (
    Command,
    CommandResult,
    checked,
    command_text,
    wire_command,
)
from orchestrator.host import Host


class SudoMixin:
    """`run` and `sudo` for both connections, on top of their `_execute`.

    Decides how `sudo` wraps a command for the login user; asks the host at most once.
    """

    host: Host
    _sudo_prefix: list[str] | bool | None = False  # False: not decided yet

    def _is_root(self) -> bool:
        raise NotImplementedError

    def _execute(
        self, text: str, wire: str, timeout: float | None, stdin: str | None
    ) -> CommandResult:
        raise NotImplementedError

    def _raw_rc(self, text: str) -> int:
        return self._execute(text, wire_command(text, timeout=30), 30, None).rc

    def run(
        self,
        command: Command,
        *,
        timeout: float | None = None,
        check: bool = False,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        text = command_text(command)
        wire = wire_command(text, timeout=timeout, env=env)
        return checked(self.host, self._execute(text, wire, timeout, stdin), check)

    def sudo(
        self,
        command: Command,
        *,
        timeout: float | None = None,
        check: bool = False,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        text = command_text(command)
        prefix, password = self._sudo()
        wire = wire_command(text, timeout=timeout, env=env, sudo=prefix)
        if password is not None:
            stdin = password + "\n" + (stdin or "")
        return checked(self.host, self._execute(text, wire, timeout, stdin), check)

    def _sudo(self) -> tuple[list[str] | None, str | None]:
        """(sudo argv prefix or None when already root, password to feed on stdin)."""
        if self._sudo_prefix is False:
            if self._is_root():
                self._sudo_prefix = None
            elif self.host.become_password is None or self._raw_rc("sudo -n true") == 0:
                # Passwordless sudo: never send a password a NOPASSWD rule would not read
                # (it would end up on the command's stdin).
                self._sudo_prefix = ["sudo", "-n"]
            else:
                # -k: ignore cached credentials so sudo always reads the password line.
                self._sudo_prefix = ["sudo", "-k", "-S", "-p", ""]
        prefix = self._sudo_prefix
        password = self.host.become_password if prefix and "-S" in prefix else None
        return prefix, password
