"""YAML that remembers where every key and value stands, so config errors can name file:line:col.

PyYAML forgets node marks once objects are built. This loader keeps them: every mapping it
builds is a `LocatedDict` and every sequence a `LocatedList`, each carrying the location of
the container and of each key, value and item. `Node` walks such a tree with the key path
(`axes.size[2]`) and turns a problem into a `NetmatrixError` like
`playbooks/x.yml:7:3: axes.size[2]: 0 is out of range (1..65507 for udp)`.

Duplicate keys are errors here (PyYAML silently keeps the last one), since a config where a
key is written twice almost always hides a mistake.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import NetmatrixError


@dataclass(frozen=True)
class Location:
    """A place in a source file, 1-based like editors and compilers show it."""

    source: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


class LocatedDict(dict):
    """A mapping loaded from YAML, with the location of itself and of each key and value."""

    location: Location
    key_locations: dict[Hashable, Location]
    value_locations: dict[Hashable, Location]


class LocatedList(list):
    """A sequence loaded from YAML, with the location of itself and of each item."""

    location: Location
    item_locations: list[Location]


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences remember their marks."""

    source = "<string>"

    def locate(self, mark: yaml.Mark) -> Location:
        return Location(self.source, mark.line + 1, mark.column + 1)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Iterator[LocatedDict]:
    data = LocatedDict()
    data.location = loader.locate(node.start_mark)
    data.key_locations, data.value_locations = {}, {}
    yield data
    explicit = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    merged = len(node.value) - explicit
    seen: dict[Hashable, Location] = {}
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node)
        where = loader.locate(key_node.start_mark)
        if not isinstance(key, Hashable):
            raise NetmatrixError(
                f"{where}: a mapping key must be a scalar (a value that starts with {{{{ must be "
                "quoted)"
            )
        if index >= merged:  # keys brought in by a `<<` merge may be overridden
            if key in seen:
                raise NetmatrixError(
                    f"{where}: duplicate key {key!r} (first at line {seen[key].line})"
                )
            seen[key] = where
        data[key] = loader.construct_object(value_node)
        data.key_locations[key] = where
        data.value_locations[key] = loader.locate(value_node.start_mark)


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> Iterator[LocatedList]:
    data = LocatedList()
    data.location = loader.locate(node.start_mark)
    data.item_locations = []
    yield data
    for item in node.value:
        data.append(loader.construct_object(item))
        data.item_locations.append(loader.locate(item.start_mark))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def parse_yaml(text: str | bytes, source: str) -> Any:
    """Load one YAML document; malformed YAML becomes a NetmatrixError naming source:line:col."""
    try:
        # The reader decodes bytes as the loader is built: undecodable input fails here.
        loader = _Loader(text)
    except yaml.reader.ReaderError as error:
        raise NetmatrixError(
            f"{source}: not UTF-8 text ({error.reason} at byte {error.position})"
        ) from None
    loader.source = source
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = loader.locate(mark) if mark else source
        problem = error.problem or error.context or "malformed YAML"
        raise NetmatrixError(f"{where}: {problem}") from None
    except yaml.YAMLError as error:
        raise NetmatrixError(f"{source}: {error}") from None
    finally:
        loader.dispose()


def load_yaml(path: Path | str) -> Any:
    """Read and load a YAML file; an unreadable file is a NetmatrixError naming it."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise NetmatrixError(f"{path}: cannot read: {error.strerror}") from None
    return parse_yaml(data, str(path))


def describe(value: Any) -> str:
    """A value as an error message shows it: scalars as written, containers by kind."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Node:
    """A value of a loaded document, with its location and its key path from the root.

    The accessors check a type and return children as Nodes, so validation code reads as a
    walk over the config and every error it raises names file, line, column and key.
    """

    value: Any
    location: Location
    path: str = ""

    @classmethod
    def root(cls, value: Any, source: str) -> Node:
        """The node of a whole document (an empty one stands at line 1, column 1)."""
        return cls(value, getattr(value, "location", Location(source, 1, 1)))

    def error(self, message: str, location: Location | None = None) -> NetmatrixError:
        """An error about this node: `file:line:col: path: message`."""
        prefix = f"{location or self.location}: "
        return NetmatrixError(prefix + (f"{self.path}: {message}" if self.path else message))

    def _key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def mapping(
        self,
        *,
        required: Collection[str] = (),
        optional: Collection[str] = (),
        defaults: Mapping[str, Any] | None = None,
    ) -> dict[str, Node]:
        """The children of a mapping, keyed by name; absent keys with a default get it.

        Unknown keys and missing required keys are errors; an unknown key's error points at the
        key and suggests the closest known one.
        """
        if not isinstance(self.value, Mapping):
            raise self.error(f"expected a mapping, got {describe(self.value)}")
        defaults = defaults or {}
        known = [*required, *optional, *defaults]
        key_locations = getattr(self.value, "key_locations", {})
        value_locations = getattr(self.value, "value_locations", {})
        children: dict[str, Node] = {}
        for key, value in self.value.items():
            child = Node(value, value_locations.get(key, self.location), self._key_path(str(key)))
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
                raise child.error(f"unknown key ({hint})", key_locations.get(key))
            children[key] = child
        for key in required:
            if key not in children:
                raise self.error(f"missing required key {key!r}")
        for key, value in defaults.items():
            children.setdefault(key, Node(value, self.location, self._key_path(key)))
        return children

    def sequence(self, *, unique: bool = False) -> list[Node]:
        """The items of a non-empty list; with `unique`, an item listed twice is an error."""
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {describe(self.value)}")
        if not self.value:
            raise self.error("must not be empty")
        locations = getattr(self.value, "item_locations", [])
        items = [
            Node(value, locations[index] if locations else self.location, f"{self.path}[{index}]")
            for index, value in enumerate(self.value)
        ]
        if unique:
            for item in items:
                first = next(other for other in items if _same(other.value, item.value))
                if first is not item:
                    raise item.error(
                        f"{describe(item.value)} is listed twice (first as {first.path})"
                    )
        return items

    def string(self) -> str:
        """A non-empty string."""
        if not isinstance(self.value, str):
            raise self.error(f"expected a string, got {describe(self.value)}")
        if not self.value.strip():
            raise self.error("must not be empty")
        return self.value

    def integer(self) -> int:
        """An integer (YAML's true/false are not integers here, whatever Python thinks)."""
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.error(f"expected an integer, got {describe(self.value)}")
        return self.value

    def choice(self, choices: Collection[str], what: str) -> str:
        """One of `choices`; a near miss is suggested."""
        value = self.string()
        if value not in choices:
            close = difflib.get_close_matches(value, list(choices), n=1)
            hint = f"did you mean {close[0]}?" if close else f"one of {', '.join(choices)}"
            raise self.error(f"{value!r} is not a known {what} ({hint})")
        return value


def _same(one: Any, other: Any) -> bool:
    """Equal and of one type: YAML's `1` and `true` are different values."""
    return type(one) is type(other) and one == other
