"""Host entries as Ansible reads them: `name[:port]`, `[ipv6]:port`, and ranges like `lab[1:3]`.

The grammar follows ansible-core (`parsing/utils/addresses.py`, `expand_hostname_range`):
an entry that is not a valid address is still taken as a host name, and ranges expand even
then. Quirks are kept on purpose, since inventories must mean here what they mean to Ansible.
"""

from __future__ import annotations

import re
import string

from orchestrator.inventory.errors import InventoryError

_NUMERIC_RANGE = r"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_HEX_RANGE = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]"
_ALNUM_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"

_IPV4_PART = rf"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{_NUMERIC_RANGE})"
_IPV6_PART = rf"(?:[0-9a-f]{{1,4}}|{_HEX_RANGE})"
_LABEL = rf"(?:[\w]|{_ALNUM_RANGE})(?:[\w_-]|{_ALNUM_RANGE})*(?<![_-])"

_BRACKETED_HOSTPORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOSTPORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
IPV4 = re.compile(rf"^(?:{_IPV4_PART}\.){{3}}{_IPV4_PART}$", re.I)
_P, _Q = _IPV6_PART, rf"(?:{_IPV4_PART}\.){{3}}{_IPV4_PART}"
IPV6 = re.compile(
    "^(?:"
    + "|".join(
        [
            rf"(?:{_P}:){{7}}{_P}",
            rf"(?:{_P}:){{1,6}}:",
            rf"(?:{_P}:)(?::{_P}){{1,6}}",
            rf"(?:{_P}:){{2}}(?::{_P}){{1,5}}",
            rf"(?:{_P}:){{3}}(?::{_P}){{1,4}}",
            rf"(?:{_P}:){{4}}(?::{_P}){{1,3}}",
            rf"(?:{_P}:){{5}}(?::{_P}){{1,2}}",
            rf"(?:{_P}:){{6}}(?::{_P})",
            rf":(?::{_P}){{1,6}}",
            rf"{_P}?::",
            rf"(?:0:){{6}}{_Q}",
            rf"::(?:ffff:)?{_Q}",
            rf"(?:0:){{5}}ffff:{_Q}",
        ]
    )
    + ")$",
    re.I,
)
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I)


def parse_address(address: str) -> tuple[str, int | None] | None:
    """`(host, port)` if `address` is a host name or IP with an optional port, else None."""
    port = None
    for pattern in (_BRACKETED_HOSTPORT, _HOSTPORT):
        match = pattern.match(address)
        if match:
            address, port = match.group(1), int(match.group(2))
    if IPV4.match(address) or IPV6.match(address) or _HOSTNAME.match(address):
        return address, port
    return None


def expand_host_entry(entry: str) -> tuple[list[str], int | None]:
    """The host names an inventory host entry stands for, and the port it gives them (if any).

    Raises:
        InventoryError: for a malformed range (the caller adds the file position).
    """
    parsed = parse_address(entry)
    name, port = parsed if parsed else (entry, None)
    if "[" in name:
        return expand_ranges(name), port
    return [name], port


def expand_ranges(name: str) -> list[str]:
    """Expand every `[begin:end(:step)]` range of `name`, left to right.

    Numeric bounds with a leading zero keep their width (`node[01:03]`), letters count through
    `a…zA…Z` (`w[a:c]`), an empty begin means 0 and the step defaults to 1.
    """
    parts = name.replace("[", "|", 1).replace("]", "|", 1).split("|")
    if len(parts) != 3:
        raise InventoryError(f"host range in {name!r} is not of the form head[begin:end]tail")
    head, spec, tail = parts
    bounds = spec.split(":")
    if len(bounds) not in (2, 3):
        raise InventoryError(f"host range in {name!r} must be begin:end or begin:end:step")
    begin, end = bounds[0] or "0", bounds[1]
    step = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise InventoryError(f"host range in {name!r} must specify an end value")
    width = len(begin) if begin[0] == "0" and len(begin) > 1 else 0
    if width and width != len(end):
        raise InventoryError(f"host range in {name!r} must have begin and end of equal width")
    try:
        sequence: list[str] = _letter_range(name, begin, end, step)
    except ValueError:  # not letters: numbers, as in Ansible
        try:
            sequence = [str(i).zfill(width) for i in range(int(begin), int(end) + 1, int(step))]
        except ValueError:
            raise InventoryError(f"host range in {name!r} has invalid bounds or step") from None
    hosts: list[str] = []
    for item in sequence:
        host = f"{head}{item}{tail}"
        hosts.extend(expand_ranges(host) if "[" in host else [host])
    return hosts


def _letter_range(name: str, begin: str, end: str, step: str) -> list[str]:
    # Ansible locates bounds with str.index in ascii_letters, so "a" to "Z" spans both cases.
    first, last = string.ascii_letters.index(begin), string.ascii_letters.index(end)
    if first > last:
        raise InventoryError(f"host range in {name!r} must have begin <= end")
    return list(string.ascii_letters[first : last + 1 : int(step)])
