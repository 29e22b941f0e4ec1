"""Shared helpers: fixture paths, writing small inventories, and the real ansible-inventory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.inventory import Inventory, load_inventory

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "inventories"
REPO = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write `text` to tmp_path/`name` and return the path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return _write


@pytest.fixture
def load(write: Callable[[str, str], Path]) -> Callable[[str, str], Inventory]:
    """Load an inventory written from text; the name's extension picks the format."""

    def _load(name: str, text: str) -> Inventory:
        return load_inventory(write(name, text))

    return _load


def run_ansible(tool: str, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run one of ansible-core's command line tools from the venv, writing nothing under ~."""
    env = {
        **os.environ,
        "HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "1",
    }
    return subprocess.run(
        [str(VENV_BIN / tool), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,  # no ansible.cfg or group_vars/ of the working directory can leak in
        timeout=120,
        check=False,
    )
