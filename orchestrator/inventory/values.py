"""Variable values Ansible treats specially, and their JSON form in `ansible-inventory` output.

Ansible marks strings it must never template (`!unsafe` in YAML) and keeps `!vault` values
encrypted; `ansible-inventory --list` prints them as `{"__ansible_unsafe": …}` and
`{"__ansible_vault": …}`. These types carry that distinction so our `--list` can print the same.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any


class Unsafe(str):
    """A string that must never be templated; otherwise an ordinary `str`."""

    __slots__ = ()


@dataclass(frozen=True)
class Vaulted:
    """A `!vault` value. netmatrix does not decrypt vaults, so this only carries the ciphertext
    (for `--list`); using it as a plain value is a mistake the consumer must catch."""

    ciphertext: str

    def __repr__(self) -> str:
        return "Vaulted(<encrypted>)"

    def __str__(self) -> str:
        return "<vault-encrypted value>"


def json_key(key: Any) -> str:
    """A mapping key as Python's json module (and so Ansible) writes it."""
    if isinstance(key, str):
        return str(key)
    if key is None or isinstance(key, int | float):
        return json.dumps(key)
    return str(key)


def _marks_unsafe(stack: Sequence[Any]) -> bool:
    # ansible-inventory only spells out "unsafe" for values below `_meta.hostvars.<host>` and
    # below a `vars` key in second position (its inventory_legacy JSON profile).
    if len(stack) >= 4 and list(stack[:2]) == ["_meta", "hostvars"]:
        return True
    return len(stack) >= 3 and stack[1] == "vars"


def to_json(value: Any, stack: tuple[Any, ...] = ()) -> Any:
    """`value` as ansible-inventory serialises it, found at key path `stack` of the document."""
    if isinstance(value, Unsafe):
        return {"__ansible_unsafe": str(value)} if _marks_unsafe(stack) else str(value)
    if isinstance(value, Vaulted):
        return {"__ansible_vault": value.ciphertext}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {json_key(k): to_json(v, (*stack, k)) for k, v in value.items()}
    if isinstance(value, Sequence | Set):
        return [to_json(v, (*stack, i)) for i, v in enumerate(value)]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return value


def dumps(document: Any) -> str:
    """JSON text laid out exactly like ansible-inventory's (sorted keys, 4 spaces, UTF-8)."""
    return json.dumps(document, sort_keys=True, indent=4, ensure_ascii=False)
