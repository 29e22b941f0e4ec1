"""Ansible's YAML (and JSON) inventory format, read the way ansible-core's `yaml` plugin reads it.

Documents load as Ansible loads them: JSON first, then YAML 1.1 through PyYAML's safe loader
(so `yes` is true and `0o17` a string), duplicate keys keep the last value, `!unsafe` marks
strings never to template and `!vault` keeps ciphertext. The loader remembers where every
mapping key stands so that errors can name file:line:col.

One departure: a host written twice in the same `hosts` mapping is an error, where Ansible
warns and drops the first entry's variables; a lab inventory that says two things about one
host is a mistake to show, not to settle silently. (A host in several groups, or several
range entries naming one host, is as usual: its entries merge.)

Top-level keys are groups; each group may have `hosts`, `vars` and `children` (the latter
groups again). Like Ansible, a group whose value is not a mapping and unknown keys are skipped
with a warning, and a string where a mapping is expected counts as a one-key mapping.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from orchestrator.inventory.addresses import expand_host_entry
from orchestrator.inventory.builder import InventoryBuilder
from orchestrator.inventory.errors import InventoryError, where
from orchestrator.inventory.values import Unsafe, Vaulted

log = logging.getLogger(__name__)

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Unsupported(yaml.constructor.ConstructorError):
    """Well-formed YAML that an inventory cannot hold."""


class _Position(NamedTuple):
    mapping: dict[Any, Any]  # kept so that its id() stays unique while the document lives
    mark: Any
    keys: dict[Any, Any]  # key -> mark of its last occurrence
    first: dict[Any, Any]  # key written more than once -> mark of its first occurrence


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe loader that records key positions and knows Ansible's `!unsafe` and `!vault`."""

    def __init__(self, stream: str, positions: dict[int, _Position]) -> None:
        super().__init__(stream)
        self.positions = positions

    def construct_located_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        position = _Position(data, node.start_mark, {}, {})
        self.positions[id(data)] = position
        yield data
        written = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE)
        data.update(self.construct_mapping(node))
        merged = len(node.value) - written  # construct_mapping put the `<<` keys first
        seen: dict[Any, Any] = {}  # keys written here (a merged key may be overridden)
        for index, (key_node, _) in enumerate(node.value):
            key = self.construct_object(key_node)
            position.keys[key] = key_node.start_mark
            if index >= merged:
                if key in seen:
                    position.first.setdefault(key, seen[key])
                seen[key] = key_node.start_mark

    def construct_unsafe(self, node: yaml.Node) -> Any:
        resolved = copy.copy(node)
        resolved.tag = self.resolve(type(node), node.value, (True, False))
        return _mark_unsafe(self.construct_object(resolved, deep=True))

    def construct_vault(self, node: yaml.Node) -> Vaulted:
        resolved = copy.copy(node)
        resolved.tag = self.resolve(type(node), node.value, (True, False))
        ciphertext = self.construct_object(resolved, deep=True)
        if not isinstance(ciphertext, str):
            raise _Unsupported(
                None, None, "the !vault tag requires a string value", node.start_mark
            )
        return Vaulted(str(ciphertext))

    def construct_ordered_set(self, node: yaml.MappingNode) -> list[Any]:
        # Ansible prints a !!set as a list in hash order; file order is the stable choice
        return [self.construct_object(key_node) for key_node, _ in node.value]

    def construct_binary(self, node: yaml.Node) -> Any:
        raise _Unsupported(
            None,
            None,
            "binary (!!binary) values are not supported in inventories",
            node.start_mark,
        )


_MERGE = "tag:yaml.org,2002:merge"
_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_located_map)
_Loader.add_constructor("tag:yaml.org,2002:set", _Loader.construct_ordered_set)
_Loader.add_constructor("tag:yaml.org,2002:binary", _Loader.construct_binary)
_Loader.add_constructor("!unsafe", _Loader.construct_unsafe)
_Loader.add_constructor("!vault", _Loader.construct_vault)
_Loader.add_constructor("!vault-encrypted", _Loader.construct_vault)


def _mark_unsafe(value: Any) -> Any:
    if isinstance(value, str):
        return Unsafe(value)
    if isinstance(value, list):
        return [_mark_unsafe(item) for item in value]
    if isinstance(value, dict):
        return {key: _mark_unsafe(item) for key, item in value.items()}
    return value


def _json_object(pairs: dict[str, Any]) -> Any:
    # Ansible's JSON decoder turns its own markers back into values
    if "__ansible_unsafe" in pairs:
        value = pairs["__ansible_unsafe"]
        if type(value) is not str:
            raise TypeError("__ansible_unsafe must be a string")
        return Unsafe(value)
    if "__ansible_vault" in pairs:
        value = pairs["__ansible_vault"]
        if type(value) is not str:
            raise TypeError("__ansible_vault must be a string")
        return Vaulted(value)
    return pairs


class Document:
    """A loaded data file and the positions of its mapping keys."""

    def __init__(
        self, source: str, data: Any, positions: dict[int, _Position], root: str | None
    ) -> None:
        self.source = source
        self.data = data
        self._positions = positions
        self.root = root or source  # where the document's value starts

    def at(self, mapping: Any, key: Any = None, default: str | None = None) -> str:
        """`file:line:col` of `key` in `mapping` (of the mapping without a key), if known."""
        position = self._positions.get(id(mapping))
        if position is None or position.mapping is not mapping:
            return default or self.source
        mark = position.mark if key is None else position.keys.get(key, position.mark)
        return where(self.source, mark.line + 1, mark.column + 1)

    def first_line(self, mapping: Any, key: Any) -> int | None:
        """The line where `key` first stands in `mapping`, if the mapping writes it twice."""
        position = self._positions.get(id(mapping))
        if position is None or position.mapping is not mapping or key not in position.first:
            return None
        return int(position.first[key].line) + 1


def load_document(text: str, source: str) -> Document:
    """Load JSON or YAML text as Ansible does (JSON first); malformed YAML names line:col."""
    try:
        return Document(source, json.loads(text, object_hook=_json_object), {}, None)
    except (ValueError, TypeError, RecursionError):
        pass
    positions: dict[int, _Position] = {}
    loader = _Loader(text, positions)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        raise InventoryError(_describe(error, source, text)) from None
    except yaml.YAMLError as error:
        raise InventoryError(f"{source}: malformed YAML: {error}") from None
    finally:
        loader.dispose()
    root = where(source, node.start_mark.line + 1, node.start_mark.column + 1) if node else None
    return Document(source, data, positions, root)


def _describe(error: yaml.MarkedYAMLError, source: str, text: str) -> str:
    """`file:line:col: malformed YAML: problem (context)`, pointing at the problem."""
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "malformed YAML"
    context = error.context if error.problem else None
    if context and error.context_mark and mark and error.context_mark.line != mark.line:
        context += f" started at line {error.context_mark.line + 1}"
    if (
        mark
        and text.splitlines()[mark.line : mark.line + 1]
        and "\t" in (text.splitlines()[mark.line][: mark.column + 1])
    ):
        problem += "; a tab: YAML indents with spaces"
    message = problem if isinstance(error, _Unsupported) else f"malformed YAML: {problem}"
    message += f" ({context})" if context else ""
    if not mark:
        return f"{source}: {message}"
    return f"{where(source, mark.line + 1, mark.column + 1)}: {message}"


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text of a file; a bad byte is an error naming its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        raise InventoryError(f"{where(source, line, column)}: not valid UTF-8") from None


def read_text(path: Path, source: str) -> str:
    """The text of an inventory or vars file; unreadable and vault-encrypted files are errors."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InventoryError(f"{source}: cannot read: {error.strerror}") from None
    if data.lstrip().startswith(b"$ANSIBLE_VAULT;"):
        raise InventoryError(f"{source}: vault-encrypted files are not supported")
    return decode_text(data, source)


class NotYamlInventory(InventoryError):
    """The document is valid YAML but not a YAML inventory (Ansible then tries INI)."""


def parse_yaml(document: Document, builder: InventoryBuilder) -> None:
    """Add the groups, hosts and variables of a YAML inventory document to `builder`."""
    data = document.data
    if not data:
        raise NotYamlInventory(f"{document.root}: the inventory is empty")
    if not isinstance(data, Mapping):
        raise NotYamlInventory(
            f"{document.root}: a YAML inventory must be a mapping of group names, "
            f"not a {type(data).__name__}"
        )
    if data.get("plugin"):
        raise NotYamlInventory(
            f"{document.at(data, 'plugin')}: inventory plugin configurations (plugin: …) "
            "are not supported; list groups and hosts instead"
        )
    _Parser(document, builder).groups(data)


class _Parser:
    def __init__(self, document: Document, builder: InventoryBuilder) -> None:
        self.document = document
        self.builder = builder

    def groups(self, data: Mapping[Any, Any]) -> None:
        for name, group_data in data.items():
            self.group(name, group_data, self.document.at(data, name))

    def group(self, name: Any, data: Any, at: str) -> Any:
        if not isinstance(data, Mapping | None):
            log.warning("%s: skipping %r: a group must be a mapping", at, name)
            return name
        name = self.builder.add_group(name, at)
        if data is None:
            return name
        sections = dict(data)
        for section in ("vars", "children", "hosts"):
            value = sections.get(section)
            if isinstance(value, str):
                sections[section] = {value: None}
            elif section in sections and not isinstance(value, Mapping | None):
                raise InventoryError(
                    f"{self.document.at(data, section)}: {section} of group {name!r} must be "
                    f"a mapping, not a {type(value).__name__}"
                )
        for key, value in sections.items():
            key_at = self.document.at(data, key)
            if not isinstance(value, Mapping | None):
                log.warning("%s: skipping key %r of group %r: not a mapping", key_at, key, name)
            elif value is None:
                continue
            elif key == "vars":
                for var, var_value in value.items():
                    var_at = self.document.at(value, var, key_at)
                    self.builder.set_variable(name, var, var_value, var_at)
            elif key == "children":
                for child, child_data in value.items():
                    child_at = self.document.at(value, child, key_at)
                    child = self.group(child, child_data, child_at)
                    self.builder.add_child(name, child, child_at)
            elif key == "hosts":
                self.hosts(name, value, key_at)
            else:
                log.warning(
                    "%s: skipping key %r of group %r: only hosts, vars and children are valid",
                    key_at,
                    key,
                    name,
                )
        return name

    def hosts(self, group: str, hosts: Mapping[Any, Any], hosts_at: str) -> None:
        for entry, host_vars in hosts.items():
            at = self.document.at(hosts, entry, hosts_at)
            if not isinstance(entry, str):
                raise InventoryError(
                    f"{at}: host {entry!r} must be a string (quote numbers in host names)"
                )
            first = self.document.first_line(hosts, entry)
            if first is not None:
                raise InventoryError(
                    f"{at}: host {entry!r} is listed twice in the hosts of group {group!r} "
                    f"(first at line {first}): merge its variables into one entry"
                )
            try:
                names, port = expand_host_entry(entry)
            except InventoryError as error:
                raise InventoryError(f"{at}: {error}") from None
            host_vars = host_vars or {}
            if not isinstance(host_vars, Mapping):
                raise InventoryError(
                    f"{at}: the variables of host {entry!r} must be a mapping, "
                    f"not a {type(host_vars).__name__}"
                )
            for name in names:
                self.builder.add_host(name, group, port, at)
                for key, value in host_vars.items():
                    var_at = self.document.at(host_vars, key, at)
                    self.builder.set_variable(name, key, value, var_at)
