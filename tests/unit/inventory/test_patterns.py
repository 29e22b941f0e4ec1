"""Host patterns for --hosts: names, groups, globs, exclusions, intersections, errors."""

from __future__ import annotations

import sys

import pytest

from orchestrator.inventory import InventoryError, load_inventory
from orchestrator.inventory.patterns import split_pattern
from tests.unit.inventory.conftest import FIXTURES

INVENTORY = load_inventory(FIXTURES / "compat" / "patterns.yml")

# Each of these is also checked against `ansible PATTERN --list-hosts` in test_ansible_compat.
PATTERNS = {
    "lab1,lab2": ["lab1", "lab2"],
    "lab2,lab1": ["lab2", "lab1"],
    "web": ["lab2", "web1", "web2"],
    "all": ["controller", "lab1", "lab2", "lab3", "web1", "web2", "db.example.com"],
    "lab*": ["lab1", "lab2", "lab3"],
    "all:!controller": ["lab1", "lab2", "lab3", "web1", "web2", "db.example.com"],
    "!controller": ["lab1", "lab2", "lab3", "web1", "web2", "db.example.com"],
    "web:&prod": ["web1"],
    "lab,web,!prod": ["lab1", "lab2", "web2"],
    "lab:web": ["lab1", "lab2", "lab3", "web1", "web2"],
    "~lab[12]": ["lab1", "lab2"],
    "*.example.com": ["db.example.com"],
    "web[0]": ["lab2"],
    "web[1:]": ["web1", "web2"],
    "web[-1]": ["web2"],
    "prod,lab1": ["web1", "lab3", "db.example.com", "lab1"],
    " lab1 , lab3 ": ["lab1", "lab3"],
    "lab1,lab1": ["lab1"],  # a host named twice is selected once, as by ansible
    "lab2,lab*,lab2": ["lab2", "lab1", "lab3"],
}


@pytest.mark.parametrize(("pattern", "expected"), list(PATTERNS.items()))
def test_select(pattern: str, expected: list[str]) -> None:
    assert [host.name for host in INVENTORY.select(pattern)] == expected


def test_select_returns_the_inventory_hosts() -> None:
    (host,) = INVENTORY.select("lab1")

    assert host is INVENTORY.hosts["lab1"]


@pytest.mark.parametrize(
    ("pattern", "terms"),
    [
        ("a,b", ["a", "b"]),
        ("all:!controller", ["all", "!controller"]),
        ("web:&prod", ["web", "&prod"]),
        ("lab[1:2]", ["lab[1:2]"]),  # a range is not a separator
        ("fe80::1", ["fe80::1"]),  # nor are the colons of an IPv6 address
        ("a, ,b,", ["a", "b"]),
    ],
)
def test_split_pattern(pattern: str, terms: list[str]) -> None:
    assert split_pattern(pattern) == terms


def test_localhost_is_implicit_when_not_in_the_inventory() -> None:
    (host,) = INVENTORY.select("localhost")

    assert host.name == "localhost"
    assert host.connection == "local"
    assert host.vars["ansible_python_interpreter"] == sys.executable
    assert "localhost" not in INVENTORY.hosts


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "the host pattern is empty"),
        ("  ", "the host pattern is empty"),
        (",", "the host pattern is empty"),
        ("lab9", "host pattern 'lab9' matches no host"),
        ("lab1,lab9", "'lab9' in host pattern 'lab1,lab9' matches no host"),
        ("zz*", "host pattern 'zz\\*' matches no host"),
        ("lab,web:!prod", r"'web:!prod' in host pattern .* \(a pattern with commas is split"),
        ("empty", "host pattern 'empty' matches no host"),
        ("all:!nosuch", "'nosuch' in host pattern 'all:!nosuch' is no host or group"),
        ("web:&nosuch", "'nosuch' in host pattern 'web:&nosuch' is no host or group"),
        ("web:&lab1", "host pattern 'web:&lab1' matches no hosts"),
        ("lab:!lab*", "matches no hosts"),
        ("web[5]", "subscript of 'web\\[5\\]' is out of range"),
        ("~lab(", "invalid host pattern"),
    ],
)
def test_bad_patterns_list_the_known_hosts(pattern: str, problem: str) -> None:
    with pytest.raises(InventoryError, match=problem) as error:
        INVENTORY.select(pattern)

    assert str(error.value).endswith(
        "known hosts: controller, lab1, lab2, lab3, web1, web2, db.example.com"
    )


def test_exclusions_by_glob_may_match_nothing() -> None:
    assert [host.name for host in INVENTORY.select("lab:!zz*")] == ["lab1", "lab2", "lab3"]


def test_a_long_host_list_is_shortened(load) -> None:
    inventory = load("inv.yml", "all:\n  hosts:\n    n[1:40]:\n")

    with pytest.raises(InventoryError, match=r"n30, … \(10 more\)$"):
        inventory.select("nosuch")
