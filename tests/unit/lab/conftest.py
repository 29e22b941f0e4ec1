"""Shared pieces of the lab unit tests: an isolated lab and stand-ins for vagrant,
VBoxManage and ssh-keyscan."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from orchestrator.host import Host
from orchestrator.lab.config import REPO_ROOT
from orchestrator.lab.lifecycle import Lab, open_lab

FIXTURES = Path(__file__).parent / "fixtures"
VBOX_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "vbox"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.fixture
def lab_environ(tmp_path: Path) -> dict[str, str]:
    """This environment less lab settings, with lab state and inventory under tmp_path."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NETMATRIX_", "VAGRANT_"))},
        "VAGRANT_DOTFILE_PATH": str(tmp_path / "dot"),
        "NETMATRIX_LAB_INVENTORY": str(tmp_path / "lab.yml"),
        "NETMATRIX_CACHE": str(tmp_path / "cache"),
    }


@pytest.fixture
def said() -> list[str]:
    """What the lab told the user."""
    return []


@pytest.fixture
def lab(lab_environ: dict[str, str], said: list[str]) -> Lab:
    return open_lab(lab_environ, said.append)


def standin_env(
    monkeypatch: pytest.MonkeyPatch, lab_environ: dict[str, str], bin_dir: Path, **variables: str
) -> None:
    """Put `bin_dir` first on PATH and set `variables`, here and in the lab's environment."""
    for environ in (lab_environ, os.environ):
        monkeypatch.setitem(environ, "PATH", f"{bin_dir}:{environ['PATH']}")
        for name, value in variables.items():
            monkeypatch.setitem(environ, name, value)


@pytest.fixture
def vboxmanage_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lab_environ: dict[str, str]
) -> Path:
    """Put the stand-in VBoxManage first on PATH; returns the file its calls are logged to."""
    log = tmp_path / "vboxmanage.log"
    standin_env(monkeypatch, lab_environ, VBOX_FIXTURES, VBOXMANAGE_LOG=str(log))
    return log


def write_machine_id(lab: Lab, host: str, provider: str, machine_id: str) -> None:
    """What `vagrant up` leaves behind for a created machine."""
    id_file = lab.paths.machine_id_file(host, provider)
    id_file.parent.mkdir(parents=True, exist_ok=True)
    id_file.write_text(machine_id)


STANDIN_VAGRANT = """#!/bin/sh
# Stand-in for vagrant: logs its arguments, keeps Vagrant's machine state files, and answers
# ssh-config from a recorded output. VAGRANT_STANDIN_FAIL makes every call fail with it.
echo "$*" >> "$VAGRANT_STANDIN_LOG"
if [ -n "$VAGRANT_STANDIN_FAIL" ]; then echo "$VAGRANT_STANDIN_FAIL" >&2; exit 1; fi
command=$1; shift
case "$command" in
up)
    provider=${1#--provider=}; shift
    for host in "$@"; do
        mkdir -p "$VAGRANT_DOTFILE_PATH/machines/$host/$provider"
        echo "id-of-$host" > "$VAGRANT_DOTFILE_PATH/machines/$host/$provider/id"
    done ;;
destroy)
    shift
    for host in "$@"; do rm -rf "$VAGRANT_DOTFILE_PATH/machines/$host"; done ;;
ssh-config)
    cat "$VAGRANT_STANDIN_SSH_CONFIG" ;;
esac
"""


def install_standin(directory: Path, tool: str, script: str) -> Path:
    """`script` as the executable `directory/tool` (a new directory)."""
    directory.mkdir()
    path = directory / tool
    path.write_text(script)
    path.chmod(0o755)
    return directory


@pytest.fixture
def vagrant_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lab_environ: dict[str, str]
) -> Path:
    """Put a stand-in vagrant first on PATH; returns the file its calls are logged to."""
    bin_dir = install_standin(tmp_path / "bin", "vagrant", STANDIN_VAGRANT)
    log = tmp_path / "vagrant.log"
    standin_env(
        monkeypatch,
        lab_environ,
        bin_dir,
        VAGRANT_STANDIN_LOG=str(log),
        VAGRANT_STANDIN_SSH_CONFIG=str(FIXTURES / "vagrant-ssh-config-docker.txt"),
    )
    return log


def as_data(hosts: Mapping[str, Host]) -> dict[str, tuple[dict[str, Any], tuple[str, ...]]]:
    """Hosts as comparable data (Host compares by identity): name -> (vars, groups)."""
    return {name: (dict(host.vars), host.groups) for name, host in hosts.items()}


STANDIN_KEYSCAN = """#!/bin/sh
# Stand-in for ssh-keyscan: logs its arguments and prints what the real ssh-keyscan printed
# for an sshd (host keys made by `ssh-keygen`, rsa, ecdsa and ed25519) listening at the port
# asked: $SSH_KEYSCAN_STANDIN_DIR/ssh-keyscan-<port>.txt, recorded from sshds on 127.0.0.9.
echo "$*" >> "$SSH_KEYSCAN_STANDIN_LOG"
port=22
while [ $# -gt 1 ]; do
    case "$1" in -p) port=$2; shift 2 ;; -T) shift 2 ;; *) shift ;; esac
done
echo "# $1:$port SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10" >&2
cat "$SSH_KEYSCAN_STANDIN_DIR/ssh-keyscan-$port.txt" 2>/dev/null
exit 0
"""


@pytest.fixture
def keyscan_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lab_environ: dict[str, str]
) -> Path:
    """Put a stand-in ssh-keyscan first on PATH, answering from the recorded scans in
    FIXTURES; returns the file its calls are logged to."""
    bin_dir = install_standin(tmp_path / "keyscan-bin", "ssh-keyscan", STANDIN_KEYSCAN)
    log = tmp_path / "ssh-keyscan.log"
    standin_env(
        monkeypatch,
        lab_environ,
        bin_dir,
        SSH_KEYSCAN_STANDIN_LOG=str(log),
        SSH_KEYSCAN_STANDIN_DIR=str(FIXTURES),
    )
    return log


def key_lines(path: Path) -> list[str]:
    """The key lines of a known_hosts file, without its comments."""
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def recorded_scan(port: int, machine: str, known_as: str) -> list[str]:
    """The known_hosts lines lab.up makes of the recorded scan at `port`: each key under
    `known_as`, tagged with the machine's name, sorted."""
    scanned = fixture_text(f"ssh-keyscan-{port}.txt").splitlines()
    return sorted(f"{known_as} {line.split()[1]} {line.split()[2]} {machine}" for line in scanned)
