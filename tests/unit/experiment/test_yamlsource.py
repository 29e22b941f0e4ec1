"""The located YAML loader: every key, value and item knows where it was written."""

from pathlib import Path

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.yamlsource import Location, Node, load_yaml, parse_yaml

DOCUMENT = """\
top:
  list:
    - first
    - {inner: 1}
  flow: [a, b]
"""


def test_mappings_and_lists_remember_their_marks() -> None:
    data = parse_yaml(DOCUMENT, "doc.yml")
    assert data == {"top": {"list": ["first", {"inner": 1}], "flow": ["a", "b"]}}
    top = data["top"]
    assert data.key_locations["top"] == Location("doc.yml", 1, 1)
    assert top.key_locations["flow"] == Location("doc.yml", 5, 3)
    assert top.value_locations["flow"] == Location("doc.yml", 5, 9)
    assert top["list"].item_locations == [Location("doc.yml", 3, 7), Location("doc.yml", 4, 7)]
    assert top["flow"].item_locations[1] == Location("doc.yml", 5, 13)
    assert str(top["list"][1].key_locations["inner"]) == "doc.yml:4:8"


def test_duplicate_key_is_an_error() -> None:
    with pytest.raises(NetmatrixError, match=r"^d\.yml:3:1: duplicate key 'a' \(first at line 1\)"):
        parse_yaml("a: 1\nb: 2\na: 3\n", "d.yml")


def test_merge_keys_may_be_overridden() -> None:
    data = parse_yaml("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n", "m.yml")
    assert data["derived"] == {"x": 1, "y": 3}


def test_malformed_yaml_names_line_and_column() -> None:
    with pytest.raises(NetmatrixError, match=r"^bad\.yml:2:5: mapping values are not allowed"):
        parse_yaml("a: b\nc: d: e\n", "bad.yml")


def test_load_reads_files_and_names_unreadable_ones(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_text("k: v\n")
    assert load_yaml(path).key_locations["k"] == Location(str(path), 1, 1)
    with pytest.raises(NetmatrixError, match="cannot read"):
        load_yaml(tmp_path / "missing.yml")


def test_node_walk_names_path_and_location() -> None:
    root = Node.root(parse_yaml(DOCUMENT, "doc.yml"), "doc.yml")
    top = root.mapping(required=("top",))["top"]
    fields = top.mapping(optional=("list", "flow"), defaults={"extra": 7})
    assert fields["extra"].value == 7 and fields["extra"].path == "top.extra"
    items = fields["flow"].sequence(unique=True)
    assert [item.path for item in items] == ["top.flow[0]", "top.flow[1]"]
    with pytest.raises(
        NetmatrixError, match=r"^doc\.yml:5:13: top\.flow\[1\]: expected an integer"
    ):
        items[1].integer()


def test_node_unknown_key_points_at_the_key_and_suggests() -> None:
    root = Node.root(parse_yaml("name: x\nmodes: []\n", "u.yml"), "u.yml")
    with pytest.raises(
        NetmatrixError, match=r"^u\.yml:2:1: modes: unknown key \(did you mean mode\?\)"
    ):
        root.mapping(required=("name",), optional=("mode",))


def test_node_choice_suggests_close_value() -> None:
    node = Node("tpc", Location("c.yml", 1, 1), "proto")
    with pytest.raises(
        NetmatrixError, match=r"'tpc' is not a known protocol \(did you mean tcp\?\)"
    ):
        node.choice(("tcp", "udp"), "protocol")


def test_unique_items_compare_by_type_too() -> None:
    node = Node.root(parse_yaml("[1, true, 1.5, '1']", "u.yml"), "u.yml")
    assert [item.value for item in node.sequence(unique=True)] == [1, True, 1.5, "1"]
    with pytest.raises(NetmatrixError, match=r"^u\.yml:1:5: \[1\]: 'a' is listed twice"):
        Node.root(parse_yaml("[a, a]", "u.yml"), "u.yml").sequence(unique=True)
