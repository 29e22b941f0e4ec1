"""Variable precedence, exactly as Ansible merges inventory variables for a host."""

from __future__ import annotations

from orchestrator.inventory import load_inventory
from tests.unit.inventory.conftest import FIXTURES

COMPAT = FIXTURES / "compat"


def test_yaml_precedence_rules() -> None:
    inventory = load_inventory(COMPAT / "precedence.yml")
    h1, h2 = inventory.hosts["h1"].vars, inventory.hosts["h2"].vars

    assert h1["v_all"] == "all"  # nothing overrides: all's value stays
    assert h1["v_depth"] == "bottom"  # the deepest group wins over parents and `alpha`
    assert h2["v_depth"] == "alpha"  # depth 1 beats all (depth 0)
    assert h1["v_name"] == h2["v_name"] == "beta"  # equal depth: later name wins
    assert h1["v_prio"] == "low"  # ansible_group_priority 10 beats 5, whatever the names
    assert h1["v_host"] == "h1"  # host vars last
    assert h2["v_host"] == "all"  # `top` does not hold h2


def test_group_depth_is_the_longest_path_from_all() -> None:
    inventory = load_inventory(COMPAT / "precedence.yml")

    depths = {name: group.depth for name, group in inventory.groups.items()}
    assert depths["all"] == 0
    assert depths["ungrouped"] == depths["top"] == depths["deep_via_two_paths"] == 1
    assert depths["bottom"] == 3  # all → top → middle → bottom, not all → deep… → bottom
    assert inventory.groups["prio_low"].priority == 10
    assert "ansible_group_priority" not in inventory.groups["prio_low"].vars
    assert "ansible_group_priority" not in inventory.hosts["h1"].vars


def test_ini_precedence_rules() -> None:
    inventory = load_inventory(COMPAT / "precedence.ini")
    h1, h2 = inventory.hosts["h1"].vars, inventory.hosts["h2"].vars

    assert h1["v_depth"] == "bottom"
    assert h2["v_depth"] == "alpha"
    assert h1["v_name"] == "zeta"  # zeta's priority 3 beats alpha's default 1
    assert h2["v_prio"] == "zeta"
    assert h1["v_host"] == "h1"


def test_parent_vars_reach_hosts_of_children(load) -> None:
    inventory = load(
        "inv.yml",
        "all:\n  vars: {a: all, b: all}\n  children:\n    parent:\n      vars: {a: parent}\n"
        "      children:\n        child:\n          hosts: {h: }\n",
    )

    assert inventory.hosts["h"].vars == {"a": "parent", "b": "all"}
    assert inventory.hosts["h"].groups == ("child", "parent")


def test_dict_values_are_replaced_not_merged(load) -> None:
    inventory = load(
        "inv.yml",
        "all:\n  vars: {opts: {a: 1, b: 2}}\n  hosts:\n    h:\n      opts: {a: 3}\n",
    )

    assert inventory.hosts["h"].vars["opts"] == {"a": 3}


def test_vars_files_beside_the_inventory() -> None:
    inventory = load_inventory(COMPAT / "varsdirs" / "hosts.yml")
    lab1, lab2, e1 = (inventory.hosts[name].vars for name in ("lab1", "lab2", "e1"))

    assert lab1["source"] == "host_vars_lab1"  # host_vars/ beats the host's inline vars
    assert lab2["source"] == "group_vars_lab_a"  # edge and lab have files: lab is later by name
    assert e1["source"] == "group_vars_edge"
    assert lab2["lab_inline"] == "kept"
    assert lab2["lab_files"] == ["b"]  # files of a group_vars dir merge in sorted order
    assert lab2["second"] is True
    assert lab2["json_file"] == "yes"
    assert lab2["no_extension"] is True
    assert "ignored" not in lab2  # .txt, hidden and backup files are skipped
    assert lab2["from_all_file"] == 1
    assert lab2["only_inline"] is True


def test_group_vars_files_override_inline_vars_of_every_group(load, write) -> None:
    # Ansible's order: all inline < groups inline < group_vars/all < group_vars/<group>
    write("group_vars/all.yml", "x: all_file\n")
    inventory = load("inv.ini", "[lab]\nh\n\n[lab:vars]\nx=lab_inline\ny=lab_inline\n")

    assert inventory.hosts["h"].vars == {"x": "all_file", "y": "lab_inline"}


def test_group_vars_files_follow_group_order(load, write) -> None:
    write("group_vars/a.yml", "x: a\n")
    write("group_vars/b.yml", "x: b\n")
    write("host_vars/h.yml", "")
    inventory = load("inv.yml", "b:\n  hosts: {h: }\na:\n  hosts: {h: }\n")

    assert inventory.hosts["h"].vars == {"x": "b"}  # equal depth: by name, b last


def test_extensionless_ini_gets_vars_files_too() -> None:
    inventory = load_inventory(COMPAT / "varsdirs_ini" / "hosts")

    assert inventory.hosts["lab1"].vars == {"source": "inline_host", "file_only": 1}
    assert inventory.hosts["lab2"].vars == {"source": "group_vars_lab", "file_only": 1}
