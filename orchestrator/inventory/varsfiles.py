"""`group_vars/` and `host_vars/` next to an inventory file, as Ansible's `host_group_vars`.

For an entity `name`, the first of `name`, `name.yml`, `name.yaml`, `name.json` that exists is
used; if it is a directory, every file below it with one of those extensions (or none) is
read in sorted order, skipping hidden files and `~` backups. Later files replace earlier keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.inventory.errors import InventoryError
from orchestrator.inventory.yamlfile import load_document, read_text

EXTENSIONS = (".yml", ".yaml", ".json")


class VarsFiles:
    """Variables from the vars directories beside one inventory file; files read once."""

    def __init__(self, inventory_path: Path) -> None:
        self.base = Path(os.path.realpath(inventory_path.absolute().parent))
        self._cache: dict[Path, dict[Any, Any]] = {}

    def group_vars(self, group: str) -> dict[Any, Any]:
        return self._vars("group_vars", group)

    def host_vars(self, host: str) -> dict[Any, Any]:
        return self._vars("host_vars", host)

    def _vars(self, subdir: str, name: str) -> dict[Any, Any]:
        if name.startswith(os.sep):  # Ansible skips chroot-style names such as /srv/root
            return {}
        directory = self.base / subdir
        if not directory.is_dir():
            return {}
        result: dict[Any, Any] = {}
        for path in _find(directory, name):
            result |= self._load(path)
        return result

    def _load(self, path: Path) -> dict[Any, Any]:
        if path not in self._cache:
            data = load_document(read_text(path, str(path)), str(path)).data
            if data and not isinstance(data, Mapping):
                raise InventoryError(
                    f"{path}: a vars file must be a mapping of variables, "
                    f"not a {type(data).__name__}"
                )
            self._cache[path] = dict(data or {})
        return self._cache[path]


def _find(directory: Path, name: str) -> list[Path]:
    for extension in ("", *EXTENSIONS):
        path = directory / f"{name}{extension}"
        if path.exists():
            return _walk(path) if path.is_dir() else [path]
    return []


def _walk(directory: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(os.listdir(directory)):
        if entry.startswith(".") or entry.endswith("~"):
            continue
        path = directory / entry
        extension = os.path.splitext(entry)[1]
        if path.is_dir() and not extension:
            found.extend(_walk(path))
        elif path.is_file() and (not extension or extension in EXTENSIONS):
            found.append(path)
    return found
