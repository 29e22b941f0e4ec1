"""Our views against the real ansible-core tools (`.venv/bin/ansible-inventory`, `ansible`).

Every inventory under tests/fixtures/inventories/compat (and the examples in inventories/)
goes through `ansible-inventory --list`; some also through `--graph` and `--host`, and host
patterns through `ansible PATTERN --list-hosts`. Outputs must be identical, text for text.
Each tool call costs about a second of CPU, so the tools run in parallel, once per session.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from orchestrator.inventory import load_inventory
from orchestrator.inventory.cli import ansible_inventory_text
from tests.unit.inventory.conftest import FIXTURES, REPO, run_ansible
from tests.unit.inventory.test_patterns import PATTERNS

pytestmark = pytest.mark.slow

COMPAT = FIXTURES / "compat"
INVENTORIES = [
    *sorted(
        path
        for path in COMPAT.rglob("*")
        if path.is_file() and not {"group_vars", "host_vars"} & set(path.parts)
    ),
    REPO / "inventories" / "example.yml",
    REPO / "inventories" / "example.ini",
]
IDS = [str(path.relative_to(REPO)) for path in INVENTORIES]
GRAPHS = ["basic.yml", "overlap.ini", "precedence.yml", "quirks.yml", "empty.yml"]
# --host prints unsafe values unmarked, unlike --list: check hosts that have some
HOSTS = [
    ("types.yml", "typed"),
    ("types.ini", "h2"),
    ("secrets.yml", "lab1"),
    ("basic.ini", "lab2"),
]
PATTERN_INVENTORY = COMPAT / "patterns.yml"
ORDER_PATTERNS = [
    "lab2,lab1",
    "web",
    "all",
    "all:!controller",
    "!controller",
    "web:&prod",
    "lab:web",
    "~lab[12]",
    "web[1:]",
    "prod,lab1",
    "lab1,lab1",
    "lab2,lab*,lab2",
]

Job = tuple[str, ...]


def _jobs() -> Iterator[Job]:
    for path in INVENTORIES:
        yield ("ansible-inventory", "-i", str(path), "--list")
    for name in GRAPHS:
        yield ("ansible-inventory", "-i", str(COMPAT / name), "--graph")
    for name, host in HOSTS:
        yield ("ansible-inventory", "-i", str(COMPAT / name), "--host", host)
    for pattern in ORDER_PATTERNS:
        yield ("ansible", "-i", str(PATTERN_INVENTORY), pattern, "--list-hosts")


@pytest.fixture(scope="session")
def ansible(tmp_path_factory: pytest.TempPathFactory) -> dict[Job, subprocess.CompletedProcess]:
    """The output of every ansible tool call the tests need, computed concurrently."""
    home = tmp_path_factory.mktemp("ansible-home")
    jobs = list(dict.fromkeys(_jobs()))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda job: run_ansible(job[0], *job[1:], home=home), jobs)
        return dict(zip(jobs, results, strict=True))


def _output(ansible: dict[Job, subprocess.CompletedProcess], *job: str) -> str:
    result = ansible[job]
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("path", INVENTORIES, ids=IDS)
def test_list_equals_ansible_inventory(ansible, path: Path) -> None:
    theirs = _output(ansible, "ansible-inventory", "-i", str(path), "--list")

    expected = json.loads(theirs)
    del expected["_meta"]["profile"]
    assert load_inventory(path).to_ansible_list() == expected
    assert ansible_inventory_text(path, list_=True) + "\n" == theirs


@pytest.mark.parametrize("name", GRAPHS)
def test_graph_equals_ansible_inventory(ansible, name: str) -> None:
    theirs = _output(ansible, "ansible-inventory", "-i", str(COMPAT / name), "--graph")

    assert ansible_inventory_text(COMPAT / name, graph=True) + "\n" == theirs


@pytest.mark.parametrize(("name", "host"), HOSTS)
def test_host_equals_ansible_inventory(ansible, name: str, host: str) -> None:
    theirs = _output(ansible, "ansible-inventory", "-i", str(COMPAT / name), "--host", host)

    assert ansible_inventory_text(COMPAT / name, host=host) + "\n" == theirs


def test_order_patterns_are_patterns_of_test_patterns() -> None:
    assert set(ORDER_PATTERNS) <= set(PATTERNS)


@pytest.mark.parametrize("pattern", ORDER_PATTERNS)
def test_patterns_select_what_ansible_selects(ansible, pattern: str) -> None:
    theirs = _output(ansible, "ansible", "-i", str(PATTERN_INVENTORY), pattern, "--list-hosts")

    listed = [line.strip() for line in theirs.splitlines()[1:]]
    assert theirs.splitlines()[0].strip() == f"hosts ({len(listed)}):"
    ours = [host.name for host in load_inventory(PATTERN_INVENTORY).select(pattern)]
    assert ours == listed == PATTERNS[pattern]


def test_enough_inventories_are_compared() -> None:
    yaml = [path for path in INVENTORIES if path.suffix in (".yml", ".yaml", ".json")]
    ini = [path for path in INVENTORIES if path.suffix == ".ini" or path.name == "hosts"]
    assert len(yaml) >= 8
    assert len(ini) >= 8
