"""`invoke play` end to end: the real CLI, Fabric and real sshd hosts (see conftest.py).

The playbook (tests/fixtures/playbooks/integration/site.yml) manages a directory, a file, a
template, a sysctl and a plain daemon with a pid file on both hosts. The hosts are this machine,
so what the play did is checked here directly: files on disk, the daemon answering HTTP on its
host's address, the kernel's value. Everything lives under one /tmp folder per module; the
daemons are stopped and the sysctl restored at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.host import Host
from tests.integration.sshd import free_port, pid_alive, port_is_free, write_inventory

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "tests" / "fixtures" / "playbooks" / "integration"
INVOKE = Path(sys.executable).with_name("invoke")
SYSCTL = Path("/proc/sys/net/ipv4/ip_local_reserved_ports")
RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+: (?P<fields>(?:\w+=\d+\s*)+)$", re.MULTILINE)
TASKS = 6  # tasks in site.yml


def play(playbook: str, inventory: Path, *options: str) -> Played:
    """Run `invoke play` as a user would, from the repository root."""
    done = subprocess.run(
        [str(INVOKE), "play", str(PLAYBOOKS / playbook), "--hosts", "all",
         "--inventory", str(inventory), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    return Played(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Played:
    """One `invoke play` run: exit code, output, and the PLAY RECAP parsed per host."""

    code: int
    out: str
    err: str

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        """`{host: {ok: 7, changed: 0, …}}` from Ansible's recap lines."""
        _, _, tail = self.out.partition("PLAY RECAP")
        return {
            line["host"]: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line["fields"])}
            for line in RECAP_LINE.finditer(tail)
        }


def stats(ok: int = 0, changed: int = 0, unreachable: int = 0, failed: int = 0) -> dict[str, int]:
    """A full recap entry: the counters these playbooks never touch are 0."""
    return {
        "ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed,
        "skipped": 0, "rescued": 0, "ignored": 0,
    }  # fmt: skip


def common_free_port(addresses: list[str]) -> int:
    """A port nothing listens on at any of `addresses`."""
    for _ in range(20):
        port = free_port(addresses[0], preferred=None)
        if all(port_is_free(address, port) for address in addresses):
            return port
    raise RuntimeError(f"no port free on all of {addresses}")


def stop_daemon(pidfile: Path) -> None:
    """End the daemon a pid file names, if it is still running."""
    if not pidfile.is_file():
        return
    pid = int(pidfile.read_text())
    if pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid), f"daemon {pid} ({pidfile}) survived SIGTERM"


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int, int]]:
    """Every path under `root` but the daemons' logs: content (files), mode, mtime."""
    return {
        str(path): (path.read_bytes() if path.is_file() else None, *_mode_mtime(path))
        for path in sorted(root.rglob("*"))
        if path.suffix != ".log"
    }


def _mode_mtime(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mode, info.st_mtime_ns


def unique_root() -> Path:
    """A fresh folder name under /tmp, which the hosts (this machine) and the test share."""
    return Path(f"/tmp/netmatrix-it-play-{uuid.uuid4().hex[:10]}")


@dataclass(frozen=True)
class Applied:
    """Where the playbook works: one root folder, one port, the two sshd hosts."""

    root: Path
    port: int
    inventory: Path
    hosts: tuple[Host, ...]

    def home(self, host: Host) -> Path:
        return self.root / host.name

    def pid(self, host: Host) -> int:
        return int((self.home(host) / "http.pid").read_text())

    def pids(self) -> list[int]:
        return [self.pid(host) for host in self.hosts]

    def extra_vars(self, **more: str) -> str:
        return json.dumps({"root": str(self.root), "http_port": str(self.port), **more})

    def play(self, *options: str, **more_vars: str) -> Played:
        return play(
            "site.yml", self.inventory, *options, "--extra-vars", self.extra_vars(**more_vars)
        )


@pytest.fixture(scope="module")
def applied(
    tmp_path_factory: pytest.TempPathFactory, sshd_hosts: tuple[Host, ...]
) -> Iterator[Applied]:
    """The place the playbook works in; afterwards the daemons are stopped, the folder
    removed and the kernel value restored."""
    inventory = write_inventory(tmp_path_factory.mktemp("play") / "inventory.yml", sshd_hosts)
    port = common_free_port([host.address for host in sshd_hosts])
    state = Applied(unique_root(), port, inventory, sshd_hosts)
    original = SYSCTL.read_text()
    try:
        yield state
    finally:
        try:
            for host in sshd_hosts:
                stop_daemon(state.home(host) / "http.pid")
        finally:
            SYSCTL.write_text(original)
            shutil.rmtree(state.root, ignore_errors=True)


@pytest.fixture(scope="module")
def first_run(applied: Applied) -> Played:
    """The first run; the other tests start from what it left."""
    return applied.play()


def test_first_run_changes_and_everything_is_in_place(applied: Applied, first_run: Played) -> None:
    assert first_run.code == 0, first_run.out + first_run.err
    assert first_run.recap == {h.name: stats(ok=TASKS, changed=TASKS) for h in applied.hosts}
    assert SYSCTL.read_text().strip() == str(applied.port)
    for host in applied.hosts:
        home = applied.home(host)
        static = home / "www" / "static.txt"
        assert static.read_text() == f"hello from {host.name}\n"
        assert static.stat().st_mode & 0o777 == 0o640
        index = home / "www" / "index.html"
        expected = f"<p>hello from {host.name} at {host.address}:{applied.port}</p>\n"
        assert index.read_text() == expected
        assert (home / "www").stat().st_mode & 0o777 == 0o755
        assert (home / "stamp").is_file()
        sysctl_line = f"net.ipv4.ip_local_reserved_ports = {applied.port}\n"
        assert (home / "sysctl.conf").read_text() == sysctl_line
        # The daemon is the pid file's process and serves this host's page on its address.
        cmdline = Path(f"/proc/{applied.pid(host)}/cmdline").read_bytes().split(b"\0")
        assert [b"-m", b"http.server", b"--bind", host.address.encode()] == cmdline[1:5]
        url = f"http://{host.address}:{applied.port}/index.html"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read().decode() == expected


@pytest.mark.usefixtures("first_run")
def test_second_run_changes_nothing(applied: Applied) -> None:
    pids, before = applied.pids(), snapshot(applied.root)
    second = applied.play()
    assert second.code == 0, second.out + second.err
    assert second.recap == {h.name: stats(ok=TASKS) for h in applied.hosts}
    assert snapshot(applied.root) == before
    assert applied.pids() == pids, "a run with nothing to do restarted the daemon"
    assert all(pid_alive(pid) for pid in pids)


@pytest.mark.usefixtures("first_run")
def test_check_mode_reports_changes_and_makes_none(applied: Applied) -> None:
    pids, before = applied.pids(), snapshot(applied.root)
    checked = applied.play("--check", message="changed", reserved_ports=str(applied.port + 1))
    assert checked.code == 0, checked.out + checked.err
    # static file, index page and sysctl would change; the rest already holds.
    assert checked.recap == {h.name: stats(ok=TASKS, changed=3) for h in applied.hosts}
    assert snapshot(applied.root) == before
    assert SYSCTL.read_text().strip() == str(applied.port)
    assert applied.pids() == pids


@pytest.mark.usefixtures("first_run")
def test_unreachable_host_is_counted_and_the_others_finish(
    applied: Applied, sshd_inventory_with_unreachable: Path, unreachable_host: Host
) -> None:
    run = play("site.yml", sshd_inventory_with_unreachable, "--extra-vars", applied.extra_vars())
    assert run.code == 4, run.out + run.err  # Ansible's exit code for an unreachable host
    assert run.recap == {
        unreachable_host.name: stats(unreachable=1),
        **{h.name: stats(ok=TASKS) for h in applied.hosts},
    }
    assert f"fatal: [{unreachable_host.name}]: UNREACHABLE!" in run.out


def test_shell_metacharacters_in_values_are_data(
    tmp_path: Path, sshd_hosts: tuple[Host, ...]
) -> None:
    root = unique_root()
    canaries = [Path(f"{root}-canary{n}") for n in ("", "2", "3")]
    evil = f"$(touch {canaries[0]});`touch {canaries[1]}`;touch {canaries[2]}"
    inventory = write_inventory(tmp_path / "inventory.yml", sshd_hosts)
    try:
        run = play(
            "canary.yml",
            inventory,
            "--extra-vars",
            json.dumps({"root": str(root), "evil": evil}),
        )
        assert [path for path in canaries if path.exists()] == [], "a shell ran the value"
        assert run.code == 0, run.out + run.err
        assert run.recap == {h.name: stats(ok=4, changed=4) for h in sshd_hosts}
        for host in sshd_hosts:
            home = Path(f"{root}/{host.name}/{evil}")  # the value's slashes make folders
            assert home.is_dir()
            assert (home / "copied").read_text() == evil
            assert (home / "rendered").read_text() == evil + "\n"
            assert (home / "by-command").read_text() == evil + "\n"
    finally:
        shutil.rmtree(root, ignore_errors=True)
        for path in canaries:
            path.unlink(missing_ok=True)
