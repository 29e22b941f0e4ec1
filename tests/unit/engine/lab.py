"""A lab of fake hosts for engine tests: each keeps files, sysctls and a log across runs."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable
from pathlib import Path

from orchestrator.connection import UnreachableError
from orchestrator.display import PlainDisplay
from orchestrator.engine import run_playbook
from orchestrator.host import Host
from orchestrator.outcome import PlaybookRun
from orchestrator.playbook import Playbook, load_playbook, parse_playbook
from tests.fakes import FakeConnection, FakeFilesystem

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "playbooks"


class Lab:
    """Hosts named `names`, all reachable but `unreachable`; state survives between runs."""

    def __init__(
        self,
        *names: str,
        unreachable: Iterable[str] = (),
        host_vars: dict[str, dict] | None = None,
        groups: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        host_vars = host_vars or {}
        groups = groups or {}
        self.hosts = [Host(n, host_vars.get(n, {}), groups.get(n, ())) for n in names]
        self.unreachable = set(unreachable)
        self.conns: dict[str, FakeConnection] = {}
        self.filesystems: dict[str, FakeFilesystem] = {}
        self.sysctl: dict[str, dict[str, str]] = {}
        self.connects: list[str] = []
        self.log: list[tuple[str, str]] = []  # (host, command) in the order they ran
        self.lock = threading.Lock()
        self.output = io.StringIO()

    def conn(self, name: str, host: Host | None = None) -> FakeConnection:
        if name not in self.conns:
            self.conns[name] = self._build(host or Host(name))
        return self.conns[name]

    def _build(self, host: Host) -> FakeConnection:
        conn = FakeConnection(host=host)
        values = self.sysctl.setdefault(host.name, {"net.ipv4.ip_forward": "0"})

        def sysctl(text: str):
            argv = text.split()
            if argv[1] == "-n":
                return (0, values[argv[2]] + "\n", "") if argv[2] in values else (255, "", "no")
            name, value = argv[2].split("=", 1)
            values[name] = value
            return 0, "", ""

        def logged(answer):
            def record(text: str):
                with self.lock:
                    self.log.append((host.name, text))
                return answer(text) if callable(answer) else (*answer, "")[:3]

            return record

        conn.on(r"^sysctl ", logged(sysctl))
        conn.on(r"^uname -r$", logged((0, "6.1.0-13-amd64\n")))
        conn.on(r"^(true|echo|/bin/sh -c)( |$)", logged((0, "")))
        conn.on(r"^false$", logged((1, "", "false failed")))
        filesystem = FakeFilesystem(conn)
        filesystem.dirs.add("/srv")
        filesystem.install()
        self.filesystems[host.name] = filesystem
        return conn

    def connect(self, host: Host) -> FakeConnection:
        with self.lock:
            self.connects.append(host.name)
        if host.name in self.unreachable:
            raise UnreachableError(f"{host.name}: ssh connect to {host.name}:22 refused")
        return self.conn(host.name, host)

    def run(self, playbook: Playbook | str, **options) -> PlaybookRun:
        """Run a playbook (a Playbook, YAML text, or a fixture file name) on every host."""
        if isinstance(playbook, str):
            if playbook.endswith(".yml"):
                playbook = load_playbook(FIXTURES / playbook)
            else:
                playbook = parse_playbook(playbook, FIXTURES / "inline.yml")
        self.output = io.StringIO()
        options.setdefault("display", PlainDisplay(self.output))
        return run_playbook(playbook, self.hosts, connect=self.connect, **options)

    def text(self) -> str:
        return self.output.getvalue()

    def commands(self, name: str) -> list[str]:
        return self.conn(name).commands
