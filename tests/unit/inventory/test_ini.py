"""The INI inventory format: sections, declaration rules and value typing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.inventory import Unsafe, load_inventory
from tests.unit.inventory.conftest import FIXTURES, run_ansible

COMPAT = FIXTURES / "compat"


def test_ini_and_yaml_spell_the_same_inventory() -> None:
    ini = load_inventory(COMPAT / "basic.ini")
    yml = load_inventory(COMPAT / "basic.yml")

    assert ini.to_ansible_list() == yml.to_ansible_list()
    assert {name: host.vars for name, host in ini.hosts.items()} == {
        name: host.vars for name, host in yml.hosts.items()
    }


def test_hosts_before_any_section_are_ungrouped_until_grouped() -> None:
    inventory = load_inventory(COMPAT / "overlap.ini")

    assert inventory.groups["ungrouped"].hosts == (
        "loner",
        "solo",
        "explicit_ungrouped",
        "in_all_only",
    )
    assert inventory.hosts["both"].groups == ("only_children", "prod", "web-servers")


def test_children_may_be_named_before_their_section() -> None:
    inventory = load_inventory(COMPAT / "precedence.ini")

    assert inventory.groups["top"].children == ("middle",)
    assert inventory.groups["middle"].children == ("bottom",)
    assert inventory.groups["bottom"].parents == ("middle", "other")
    assert inventory.groups["all"].children == ("ungrouped", "top", "zeta", "alpha", "other")


def test_vars_section_may_come_before_its_group_and_sections_repeat() -> None:
    inventory = load_inventory(COMPAT / "quirks.ini")

    assert inventory.groups["late"].hosts == ("l1", "l2")
    assert inventory.groups["late"].vars == {
        "declared_later": "yes",
        "spaced": "value with spaces",
        "tricky": "'a' if True else 'b'",  # not a literal: kept as written
    }


def test_group_names_are_kept_as_written() -> None:
    inventory = load_inventory(COMPAT / "overlap.ini")

    assert "web-servers" in inventory.groups
    assert inventory.groups["prod"].children == ("web-servers",)


def test_comment_lines_and_trailing_comments(load) -> None:
    inventory = load(
        "inv.ini",
        "; semicolon comment\n# hash comment\n[lab] # header comment\nlab1 x=1 # trailing\n",
    )

    assert inventory.hosts["lab1"].vars == {"x": 1}


def test_quoted_host_values_keep_spaces(load) -> None:
    inventory = load("inv.ini", "lab1 motd=\"two words\" path='/a b/c'\n")

    assert inventory.hosts["lab1"].vars == {"motd": "two words", "path": "/a b/c"}


TYPED = load_inventory(COMPAT / "types.ini")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("x", 1),
        ("y", "true"),  # not a Python literal: a string
        ("t", True),
        ("n", None),
        ("z", "quoted"),
        ("w", [1, 2]),
        ("d", {"a": 1}),  # quoted for the shell, then a dict literal
        ("f", 1.5),
        ("neg", -3),
        ("hex", 31),
        ("big", 10000000000000000000),
        ("s", "single"),
        ("sp", "two words"),
        ("e", ""),
        ("tup", [1, 2]),  # tuples become lists
        ("ell", "..."),
        ("c", "(1+2j)"),  # complex numbers become their text
        ("nested", {"k": [1, {"m": None}]}),
        ("under", 1000),
    ],
)
def test_host_line_values_are_python_literals(name: str, expected: Any) -> None:
    value = TYPED.hosts["h1"].vars[name]

    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("yy", True),
        ("spaced", "some words here"),
        ("commented", 42),  # `42 # …` is a literal with a Python comment
        ("commented_text", "abc # not a literal, so the comment stays"),
        ("quoted_hash", "a # b"),
        ("empty", ""),
        ("tuple", [1, "two"]),
        ("set", [3]),
        ("float", 1000.0),
        ("none", None),
    ],
)
def test_vars_section_values_are_evaluated_whole(name: str, expected: Any) -> None:
    value = TYPED.hosts["h2"].vars[name]

    assert value == expected
    assert type(value) is type(expected)


def test_quotes_keep_a_number_a_string_only_in_vars_sections(load) -> None:
    inventory = load("inv.ini", "[g]\nh1 a='1'\n\n[g:vars]\nb='1'\n")

    # the shell split eats the host line's quotes, so a='1' is the int 1 there
    assert inventory.hosts["h1"].vars == {"b": "1", "a": 1}


def test_a_bytes_literal_becomes_an_unsafe_string() -> None:
    value = TYPED.hosts["h2"].vars["bytes"]

    assert isinstance(value, Unsafe)
    assert value == "raw"


def test_non_utf8_bytes_are_tolerated_in_comment_lines(write) -> None:
    path = write("inv.ini", "")
    path.write_bytes(b"# caf\xe9\n[lab]\nlab1\n")

    assert list(load_inventory(path).hosts) == ["lab1"]


@pytest.mark.slow
def test_a_host_listed_twice_in_a_group_merges_as_in_ansible(write, tmp_path) -> None:
    """INI has no keys to repeat: a second host line adds to the first, in ansible-core too."""
    path = write("dup.ini", "[lab]\nlab1 x=1\nlab2\nlab1 y=2 x=3\n[lab]\nlab1 z=4\n")
    theirs = run_ansible("ansible-inventory", "-i", str(path), "--list", home=tmp_path)
    assert theirs.returncode == 0, theirs.stderr

    expected = json.loads(theirs.stdout)
    del expected["_meta"]["profile"]
    inventory = load_inventory(path)
    assert inventory.to_ansible_list() == expected
    assert inventory.groups["lab"].hosts == ("lab1", "lab2")
    assert inventory.hosts["lab1"].vars == {"x": 3, "y": 2, "z": 4}
