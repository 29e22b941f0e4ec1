"""The ansible-inventory views (--list, --host, --graph) and where secrets may appear."""

from __future__ import annotations

import json

import pytest

from orchestrator.inventory import InventoryError, load_inventory
from orchestrator.inventory.cli import ansible_inventory_text
from tests.unit.inventory.conftest import FIXTURES

COMPAT = FIXTURES / "compat"


def test_list_shape() -> None:
    document = load_inventory(COMPAT / "basic.yml").to_ansible_list()

    assert {key: value for key, value in document.items() if key != "_meta"} == {
        "all": {"children": ["ungrouped", "lab", "monitoring"]},
        "ungrouped": {"hosts": ["controller"]},
        "lab": {"children": ["bridge_hosts", "macvlan_hosts"]},
        "bridge_hosts": {"hosts": ["lab1", "lab2"]},
        "macvlan_hosts": {"hosts": ["lab2"]},
        "monitoring": {"hosts": ["grafana"]},
    }
    assert list(document["_meta"]) == ["hostvars"]
    assert document["_meta"]["hostvars"]["lab1"] == {
        "ansible_become": True,
        "ansible_host": "192.168.60.11",
        "ansible_user": "netmatrix",
        "level": "bridge_hosts",
        "site": "lab",
    }


def test_list_leaves_out_empty_groups_and_hosts_without_vars(load) -> None:
    document = load("inv.ini", "bare\n[empty]\n[other]\n").to_ansible_list()

    assert document == {
        "all": {"children": ["ungrouped", "empty", "other"]},
        "ungrouped": {"hosts": ["bare"]},
        "_meta": {"hostvars": {}},
    }


def test_list_marks_unsafe_and_vaulted_values_and_converts_types() -> None:
    hostvars = load_inventory(COMPAT / "types.yml").to_ansible_list()["_meta"]["hostvars"]
    typed = hostvars["typed"]

    assert typed["template"] == {"__ansible_unsafe": "{{ not_templated }}"}
    assert typed["unsafe_tree"] == {"list": [{"__ansible_unsafe": "{{ a }}"}, 1, True]}
    assert typed["secret"]["__ansible_vault"].startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert typed["date"] == "2024-01-02"
    assert typed["timestamp"] == "2001-12-14T21:59:43.100000-05:00"
    assert typed["int_key_map"] == {"1": "one", "2": "two"}
    assert typed["bool_key_map"] == {"true": "t"}
    json.dumps(hostvars)  # plain JSON data all the way down


def test_host_view_marks_unsafe_only_below_a_vars_key() -> None:
    document = load_inventory(COMPAT / "types.yml").to_ansible_host("typed")

    assert document["template"] == "{{ not_templated }}"  # as ansible-inventory --host
    assert document["nested"] == {"vars": {"hidden": {"__ansible_unsafe": "{{ b }}"}}}


def test_host_view_needs_exactly_one_host() -> None:
    inventory = load_inventory(COMPAT / "basic.yml")

    assert inventory.to_ansible_host("grafana")["level"] == "host"
    assert inventory.to_ansible_host("monitoring")["level"] == "host"  # a one-host pattern
    with pytest.raises(InventoryError, match=r"'lab' selects 2 hosts \(lab1, lab2\), not one"):
        inventory.to_ansible_host("lab")
    with pytest.raises(InventoryError, match="known hosts: controller, lab1, lab2, grafana"):
        inventory.to_ansible_host("nosuch")


def test_graph() -> None:
    inventory = load_inventory(COMPAT / "basic.yml")

    assert inventory.graph() == "\n".join(
        [
            "@all:",
            "  |--@ungrouped:",
            "  |  |--controller",
            "  |--@lab:",
            "  |  |--@bridge_hosts:",
            "  |  |  |--lab1",
            "  |  |  |--lab2",
            "  |  |--@macvlan_hosts:",
            "  |  |  |--lab2",
            "  |--@monitoring:",
            "  |  |--grafana",
        ]
    )
    assert inventory.graph("macvlan_hosts") == "@macvlan_hosts:\n  |--lab2"
    with pytest.raises(InventoryError, match="no group named 'nosuch'"):
        inventory.graph("nosuch")


def test_list_text_is_laid_out_like_ansible_inventory() -> None:
    text = ansible_inventory_text(COMPAT / "types.yml", list_=True)

    assert text.startswith('{\n    "_meta": {\n        "hostvars": {\n')
    assert '"profile": "inventory_legacy"' in text
    assert '"unicode": "héllo ☃"' in text  # not \u-escaped
    assert json.loads(text)["_meta"]["hostvars"]["plain"]["hex"] == 31


def test_exactly_one_view_is_chosen() -> None:
    with pytest.raises(InventoryError, match="choose exactly one of --list, --host NAME, --graph"):
        ansible_inventory_text(COMPAT / "basic.yml")
    with pytest.raises(InventoryError, match=r"\(got --list and --graph\)"):
        ansible_inventory_text(COMPAT / "basic.yml", list_=True, graph=True)


SECRET = "s3cr3t pass"


def test_connection_variables_reach_the_host_value() -> None:
    inventory = load_inventory(COMPAT / "secrets.yml")
    lab2, controller = inventory.hosts["lab2"], inventory.hosts["controller"]

    assert (lab2.address, lab2.port, lab2.user) == ("127.0.0.3", 2202, "vagrant")
    assert lab2.key_file == "~/.vagrant.d/insecure_private_key"
    assert lab2.connection == "ssh"
    assert lab2.become is True
    assert lab2.become_password == SECRET
    assert (controller.connection, controller.become, controller.port) == ("local", False, 22)


def test_secrets_stay_out_of_reprs_and_public_vars() -> None:
    inventory = load_inventory(COMPAT / "secrets.yml")

    shown = repr(inventory) + repr(list(inventory.hosts.values()))
    shown += repr(list(inventory.groups.values())) + repr(inventory.hosts["lab1"].public_vars())
    assert SECRET not in shown


def test_list_and_host_views_show_the_become_password_like_ansible() -> None:
    path = COMPAT / "secrets.yml"

    assert SECRET in ansible_inventory_text(path, list_=True)
    assert SECRET in ansible_inventory_text(path, host="lab1")
    assert SECRET not in ansible_inventory_text(path, graph=True)
