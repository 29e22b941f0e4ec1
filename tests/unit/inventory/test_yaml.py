"""The YAML inventory format: structure, membership, variables and YAML typing."""

from __future__ import annotations

import datetime
import logging

import pytest

from orchestrator.inventory import InventoryError, Unsafe, Vaulted, load_inventory
from tests.unit.inventory.conftest import FIXTURES

COMPAT = FIXTURES / "compat"


def test_groups_children_and_vars_at_every_level() -> None:
    inventory = load_inventory(COMPAT / "basic.yml")

    assert list(inventory.groups) == [
        "all",
        "ungrouped",
        "lab",
        "bridge_hosts",
        "macvlan_hosts",
        "monitoring",
    ]
    assert inventory.groups["lab"].children == ("bridge_hosts", "macvlan_hosts")
    assert inventory.groups["bridge_hosts"].parents == ("lab",)
    assert inventory.groups["all"].children == ("ungrouped", "lab", "monitoring")
    lab2 = inventory.hosts["lab2"]
    assert lab2.groups == ("bridge_hosts", "lab", "macvlan_hosts")
    assert lab2.vars == {
        "ansible_user": "netmatrix",  # all
        "site": "lab",
        "ansible_become": True,  # lab (parent)
        "level": "bridge_hosts",  # bridge_hosts (child) beats lab
        "nic": "eth1",  # macvlan_hosts
        "ansible_host": "192.168.60.12",  # host
        "ansible_port": 2222,
    }
    assert inventory.hosts["grafana"].vars["level"] == "host"  # host vars come last


def test_hosts_of_all_itself_are_ungrouped() -> None:
    inventory = load_inventory(COMPAT / "basic.yml")

    assert inventory.groups["ungrouped"].hosts == ("controller",)
    assert inventory.groups["all"].hosts == ("controller",)
    assert inventory.hosts["controller"].groups == ("ungrouped",)


def test_hosts_are_ordered_like_ansible_orders_all() -> None:
    inventory = load_inventory(COMPAT / "basic.yml")

    # hosts of `all` itself, then its children in order, then deeper groups
    assert list(inventory.hosts) == ["controller", "grafana", "lab1", "lab2"]


def test_top_level_groups_outside_all_join_all_and_definitions_merge() -> None:
    inventory = load_inventory(COMPAT / "overlap.yml")

    assert "standalone" in inventory.groups["all"].children
    # `db` is defined under all.children and again at the top level: one group
    assert inventory.groups["db"].hosts == ("w1", "d1", "d2")
    assert inventory.hosts["d2"].vars == {"tier": "db"}


def test_a_host_in_a_real_group_leaves_ungrouped() -> None:
    inventory = load_inventory(COMPAT / "overlap.yml")

    assert inventory.groups["ungrouped"].hosts == ("solo", "loner")
    assert "ungrouped" not in inventory.hosts["both"].groups
    assert inventory.hosts["solo"].groups == ("ungrouped",)


def test_empty_groups_exist_without_hosts() -> None:
    inventory = load_inventory(COMPAT / "overlap.yml")

    for name in ("empty_group", "empty_mapping", "nested_empty"):
        assert inventory.groups[name].hosts == ()
    assert inventory.groups["nested_empty"].parents == ("only_children",)


def test_a_string_stands_for_a_one_key_mapping(load) -> None:
    inventory = load("inv.yml", "lab:\n  hosts: lab1\n  children: sub\n")

    assert inventory.groups["lab"].hosts == ("lab1",)
    assert inventory.groups["lab"].children == ("sub",)


def test_invalid_groups_and_keys_are_skipped_with_a_warning(load, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        inventory = load("inv.yml", "lab:\n  hosts: {lab1: }\n  comment: {a: 1}\nbroken: [1]\n")

    assert "broken" not in inventory.groups
    assert list(inventory.hosts) == ["lab1"]
    assert "skipping key 'comment'" in caplog.text
    assert "skipping 'broken'" in caplog.text


def test_yaml_1_1_typing_as_ansible_loads_it() -> None:
    host = load_inventory(COMPAT / "types.yml").hosts["plain"]

    assert host.vars["yes_value"] is True
    assert host.vars["off_value"] is False
    assert host.vars["on_string"] == "on"
    assert host.vars["octal_11"] == 15
    assert host.vars["octal_12"] == "0o17"
    assert host.vars["sexagesimal"] == 90
    assert host.vars["exp_string"] == "1e3"
    assert host.vars["nothing"] is None
    assert host.vars["date"] == datetime.date(2024, 1, 2)
    assert host.vars["merged"] == {"k": 1, "j": 2, "extra": 3}


def test_unsafe_and_vault_tags_keep_their_meaning() -> None:
    host = load_inventory(COMPAT / "types.yml").hosts["plain"]

    assert isinstance(host.vars["template"], Unsafe)
    assert host.vars["template"] == "{{ not_templated }}"
    assert isinstance(host.vars["unsafe_tree"]["list"][0], Unsafe)
    assert host.vars["unsafe_tree"]["list"][1] == 1
    assert isinstance(host.vars["secret"], Vaulted)
    assert host.vars["secret"].ciphertext.startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert "ANSIBLE_VAULT" not in repr(host.vars["secret"]) + str(host.vars["secret"])


def test_json_is_read_as_json_first() -> None:
    inventory = load_inventory(COMPAT / "inventory.json")

    assert inventory.hosts["redis"].vars["exp"] == 1000.0  # YAML 1.1 would keep "1e3"
    assert isinstance(inventory.hosts["redis"].vars["unsafe"], Unsafe)
    assert inventory.groups["api"].hosts == ("api1", "api2")


def test_duplicate_keys_keep_the_last_value(load) -> None:
    inventory = load("inv.yml", "lab:\n  hosts:\n    lab1:\n      x: 1\n      x: 2\n")

    assert inventory.hosts["lab1"].vars == {"x": 2}


def test_a_host_listed_twice_in_one_hosts_mapping_is_an_error_naming_both_lines(load) -> None:
    # ansible-core warns and keeps the last entry, silently losing the first one's variables
    with pytest.raises(InventoryError) as error:
        load("inv.yml", "lab:\n  hosts:\n    lab1:\n      x: 1\n    lab1:\n      y: 2\n")

    assert str(error.value).endswith(
        "inv.yml:5:5: host 'lab1' is listed twice in the hosts of group 'lab' (first at line 3): "
        "merge its variables into one entry"
    )


def test_a_host_may_still_be_in_several_groups_and_override_a_merged_entry(load) -> None:
    inventory = load(
        "inv.yml",
        "base: &base\n  lab1: {x: 1}\n"
        "lab:\n  hosts:\n    <<: *base\n    lab1: {x: 2}\n"
        "web:\n  hosts:\n    lab1: {y: 3}\n",
    )

    assert inventory.hosts["lab1"].vars == {"x": 2, "y": 3}
    assert inventory.hosts["lab1"].groups == ("lab", "web")


def test_a_port_in_the_host_entry_sets_ansible_port_of_a_new_host(load) -> None:
    inventory = load(
        "inv.yml",
        "a:\n  hosts:\n    lab1:2201:\nb:\n  hosts:\n    lab1:2202:\n    lab2:2203:\n"
        "      ansible_port: 22\n",
    )

    assert inventory.hosts["lab1"].port == 2201  # the second entry's port is ignored
    assert inventory.hosts["lab2"].port == 22  # explicit vars win over the entry's port
    assert inventory.groups["b"].hosts == ("lab1", "lab2")


def test_an_extensionless_file_is_yaml_when_it_reads_as_yaml() -> None:
    assert load_inventory(COMPAT / "noext_yaml").hosts["e1"].vars == {"kind": "yaml"}
    assert load_inventory(COMPAT / "noext_ini").hosts["e1"].vars == {"kind": "ini"}


def test_a_yml_file_that_is_no_yaml_inventory_is_tried_as_ini() -> None:
    inventory = load_inventory(COMPAT / "plain_list.yml")

    assert inventory.groups["ungrouped"].hosts == ("one", "two")
    assert inventory.hosts["two"].vars == {"three": 3}


def test_an_empty_file_is_an_empty_inventory() -> None:
    inventory = load_inventory(COMPAT / "empty.yml")

    assert dict(inventory.hosts) == {}
    assert list(inventory.groups) == ["all", "ungrouped"]


def test_a_host_named_like_a_group_gives_its_vars_to_the_group(load) -> None:
    # Ansible's set_variable looks groups up first; netmatrix keeps the quirk for --list parity
    inventory = load("inv.yml", "web:\n  hosts:\n    web:\n      x: 1\n    other:\n")

    assert inventory.groups["web"].vars == {"x": 1}
    assert inventory.hosts["other"].vars == {"x": 1}
