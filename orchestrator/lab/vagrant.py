"""Vagrant on the controller: `up`, `destroy` and `ssh-config`, parsed into values.

Every call runs with VAGRANT_CWD (the repository's Vagrantfile) and VAGRANT_DOTFILE_PATH set,
so tests can keep their machines apart from a developer's own lab.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orchestrator.errors import NetmatrixError
from orchestrator.lab.config import LabPaths
from orchestrator.lab.tools import one_line, require, run_tool

INSTALL_HINT = "install Vagrant (apt-get install vagrant)"


@dataclass(frozen=True)
class SshConfig:
    """How to reach one machine, from `vagrant ssh-config`."""

    host: str
    hostname: str
    port: int
    user: str
    identity_file: str


def parse_ssh_config(text: str) -> dict[str, SshConfig]:
    """Parse `vagrant ssh-config` output (one `Host` block per machine) by machine name."""
    blocks: dict[str, dict[str, str]] = {}
    options: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if not words:
            continue
        key, value = words[0].lower(), " ".join(words[1:])
        if key == "host":
            options = blocks.setdefault(value, {})
        else:
            options.setdefault(key, value)  # ssh uses the first value of a repeated option
    configs = {}
    for host, options in blocks.items():
        missing = [k for k in ("hostname", "port", "user", "identityfile") if k not in options]
        if missing:
            raise NetmatrixError(f"vagrant ssh-config for {host} lacks {', '.join(missing)}")
        configs[host] = SshConfig(
            host=host,
            hostname=options["hostname"],
            port=int(options["port"]),
            user=options["user"],
            identity_file=options["identityfile"],
        )
    return configs


@dataclass(frozen=True)
class Vagrant:
    """The vagrant command for one lab (Vagrantfile and machine state)."""

    paths: LabPaths
    environ: Mapping[str, str]

    def up(self, hosts: Sequence[str], provider: str) -> None:
        self._run(["up", f"--provider={provider}", *hosts], "then rerun `invoke lab.up`", True)

    def destroy(self, hosts: Sequence[str]) -> None:
        self._run(["destroy", "--force", *hosts], "then rerun `invoke lab.down`", True)

    def ssh_config(self, hosts: Sequence[str]) -> dict[str, SshConfig]:
        output = self._run(["ssh-config", *hosts], "is the machine running? (`invoke lab.up`)")
        configs = parse_ssh_config(output)
        absent = [host for host in hosts if host not in configs]
        if absent:
            raise NetmatrixError(f"vagrant ssh-config printed nothing for {', '.join(absent)}")
        return configs

    def _run(self, args: list[str], fix: str, stream: bool = False) -> str:
        """Run vagrant; `stream` shows its progress instead of capturing stdout."""
        vagrant = require("vagrant", INSTALL_HINT)
        result = run_tool(
            [vagrant, *args],
            env=self.paths.vagrant_env(self.environ),
            capture_stdout=not stream,
        )
        if result.returncode != 0:
            detail = one_line(result.stderr or result.stdout or "no output")
            raise NetmatrixError(f"`vagrant {' '.join(args)}` failed: {detail}; {fix}")
        return result.stdout or ""
