"""Bad inventories: one clear error naming file:line:col, and never a secret's value."""

from __future__ import annotations

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.inventory import InventoryError, load_inventory
from tests.unit.inventory.conftest import FIXTURES

BAD = FIXTURES / "bad"

CASES = {
    "malformed.yml": "5:6: malformed YAML: did not find expected key (while parsing a block "
    "mapping started at line 3)",
    "unclosed_quote.yml": "6:1: malformed YAML: found unexpected end of stream (while scanning "
    "a quoted scalar started at line 3)",
    "tab.yml": "3:1: malformed YAML: found character that cannot start any token; a tab: YAML "
    "indents with spaces",
    "not_mapping.yml": "1:1: a YAML inventory must be a mapping of group names, not a list",
    "cycle.yml": "5:9: group 'b' cannot be a child of 'a': group children would form a cycle "
    "(a → b → c → a)",
    "self_child.yml": "3:5: group 'loop' cannot be a child of 'loop'",
    "all_as_child.yml": "3:5: group 'all' holds every group; it cannot be a child of 'web'",
    "cycle.ini": "8:1: group 'a' cannot be a child of 'c': group children would form a cycle "
    "(c → a → b → c)",
    "unclosed_quote.ini": "3:1: cannot split host line: No closing quotation",
    "not_key_value.ini": "2:1: word 2 of the host line is not a key=value variable",
    "vars_without_equals.ini": "6:1: expected key=value in [lab:vars]",
    "bad_section.ini": "4:1: invalid section header",
    "unknown_section_type.ini": "1:1: section [lab:hostz] has unknown type 'hostz'",
    "undefined_child.ini": "6:1: section [all_labs:children] names group 'ghost', which is "
    "never declared (add a [ghost] section)",
    "undefined_vars_group.ini": "4:1: section [ghost:vars] is for group 'ghost', which is never "
    "declared",
    "port_colon.ini": "2:1: host 'lab1:' ends in ':', which is reserved for a port",
    "yaml_in_ini.ini": "1:1: host '---' looks like YAML: is this a YAML inventory?",
    "latin1.ini": "2:14: not valid UTF-8",
    "bad_range.yml": "3:5: host range in 'node[01:5]' must have begin and end of equal width",
    "bad_range.ini": "2:1: host range in 'lab[a:3]' has invalid bounds or step",
    "priority.yml": "3:5: ansible_group_priority of group 'lab' must be an integer",
    "hosts_list.yml": "2:3: hosts of group 'lab' must be a mapping, not a list",
    "host_vars_scalar.yml": "3:5: the variables of host 'lab1' must be a mapping, not a str",
    "number_host.yml": "3:5: host 1 must be a string (quote numbers in host names)",
    "plugin.yml": "1:1: inventory plugin configurations (plugin: …) are not supported",
    "duplicate_host.yml": "6:5: host 'lab1' is listed twice in the hosts of group 'lab' (first "
    "at line 3): merge its variables into one entry",
}


@pytest.mark.parametrize(("name", "message"), list(CASES.items()))
def test_bad_inventory(name: str, message: str) -> None:
    with pytest.raises(InventoryError) as error:
        load_inventory(BAD / name)

    assert str(error.value).startswith(f"{BAD / name}:{message}")
    assert "\n" not in str(error.value)
    assert isinstance(error.value, NetmatrixError)
    assert error.value.exit_code == 2


def test_every_bad_fixture_has_a_case() -> None:
    assert sorted(path.name for path in BAD.iterdir()) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_errors_never_show_a_password(name: str) -> None:
    with pytest.raises(InventoryError) as error:
        load_inventory(BAD / name)

    assert "hunter2" not in str(error.value)


def test_missing_file_and_directory(tmp_path) -> None:
    with pytest.raises(InventoryError, match=r"nope\.yml: no such inventory file$"):
        load_inventory(tmp_path / "nope.yml")
    with pytest.raises(InventoryError, match="is a directory; pass one inventory file"):
        load_inventory(tmp_path)


def test_vault_encrypted_and_toml_files_are_refused(write) -> None:
    vaulted = write("inv.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    toml = write("inv.toml", "[lab.hosts]\n")

    with pytest.raises(InventoryError, match="vault-encrypted files are not supported"):
        load_inventory(vaulted)
    with pytest.raises(InventoryError, match="TOML inventories are not supported"):
        load_inventory(toml)


def test_a_bad_vars_file_names_itself(write) -> None:
    vars_file = write("group_vars/all.yml", "- not\n- a mapping\n")
    inventory = write("inv.ini", "lab1\n")

    with pytest.raises(InventoryError, match=f"^{vars_file}: a vars file must be a mapping"):
        load_inventory(inventory)


def test_a_malformed_vars_file_names_line_and_column(write) -> None:
    vars_file = write("host_vars/lab1.yml", "a: [1\n")
    inventory = write("inv.ini", "lab1\n")

    with pytest.raises(InventoryError, match=f"^{vars_file}:2:1: malformed YAML"):
        load_inventory(inventory)


def test_binary_values_are_refused_with_their_position(write) -> None:
    path = write("inv.yml", "all:\n  vars:\n    blob: !!binary aGVsbG8=\n")

    with pytest.raises(
        InventoryError, match=r"inv\.yml:3:11: binary \(!!binary\) values are not supported"
    ):
        load_inventory(path)
