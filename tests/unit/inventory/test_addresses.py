"""Host entries: ports, IPv6 brackets and the range syntax of Ansible inventories."""

from __future__ import annotations

import pytest

from orchestrator.inventory.addresses import expand_host_entry, parse_address
from orchestrator.inventory.errors import InventoryError


@pytest.mark.parametrize(
    ("entry", "hosts", "port"),
    [
        ("lab1", ["lab1"], None),
        ("lab[1:3]", ["lab1", "lab2", "lab3"], None),
        ("node[01:05]", ["node01", "node02", "node03", "node04", "node05"], None),
        ("node[08:10]", ["node08", "node09", "node10"], None),
        ("w[a:c]", ["wa", "wb", "wc"], None),
        ("w[y:B]", ["wy", "wz", "wA", "wB"], None),  # letters run a…z then A…Z
        ("w[1:10:4]", ["w1", "w5", "w9"], None),
        ("w[a:e:2]", ["wa", "wc", "we"], None),
        ("t[:2]", ["t0", "t1", "t2"], None),  # an empty begin is 0
        ("lab[3:1]", [], None),  # an empty range, as in Ansible
        ("rack[1:2]-u[a:b]", ["rack1-ua", "rack1-ub", "rack2-ua", "rack2-ub"], None),
        ("db[1:2]:2200", ["db1", "db2"], 2200),
        ("lab1:2222", ["lab1"], 2222),
        ("10.0.0.[1:2]", ["10.0.0.1", "10.0.0.2"], None),
        ("10.0.0.1:22", ["10.0.0.1"], 22),
        ("[fe80::1]:2201", ["fe80::1"], 2201),
        ("fe80::1", ["fe80::1"], None),
        ("host.example.com", ["host.example.com"], None),
        ("weird@name:22", ["weird@name:22"], None),  # not an address: taken as a whole
    ],
)
def test_expand_host_entry(entry: str, hosts: list[str], port: int | None) -> None:
    assert expand_host_entry(entry) == (hosts, port)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("node[01:5]", "equal width"),
        ("lab[a:3]", "invalid bounds"),
        ("lab[c:a]", "begin <= end"),
        ("lab[1:]", "end value"),
        ("lab[1:2:3:4]", "begin:end or begin:end:step"),
        ("lab[1:2:0]", "invalid bounds or step"),
        ("lab[1", "is not of the form"),
    ],
)
def test_malformed_ranges(entry: str, problem: str) -> None:
    with pytest.raises(InventoryError, match=problem):
        expand_host_entry(entry)


@pytest.mark.parametrize(
    ("address", "parsed"),
    [
        ("lab1", ("lab1", None)),
        ("lab1:22", ("lab1", 22)),
        ("192.168.60.11", ("192.168.60.11", None)),
        ("::1", ("::1", None)),
        ("[::1]:22", ("::1", 22)),
        ("all:!controller", None),
        ("bad_-", None),
    ],
)
def test_parse_address(address: str, parsed: tuple[str, int | None] | None) -> None:
    assert parse_address(address) == parsed
