"""Every fact's parser against real output recorded on a Debian 12 host (tests/fixtures/facts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.facts import FACTS, FactOutput, HostFacts, parse_os_release

FIXTURES = Path(__file__).parents[2] / "fixtures" / "facts"
BY_NAME = {fact.name: fact for fact in FACTS}
CASES = sorted(path for path in FIXTURES.glob("*/*.json") if path.parent.name in BY_NAME)


def plain(name: str, value: object) -> object:
    """A parsed value as `HostFacts.as_dict` renders it (dicts and lists)."""
    return HostFacts(**{name: value}).as_dict()[name]


@pytest.mark.parametrize("path", CASES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_recorded_output_parses_to_expected_value(path: Path) -> None:
    case = json.loads(path.read_text())
    fact = BY_NAME[path.parent.name]
    value = fact.collect(FactOutput(case["stdout"], case["stderr"], case["rc"]))
    assert plain(fact.name, value) == case["expected"]


def test_every_fact_has_a_recorded_case() -> None:
    assert {path.parent.name for path in CASES} == set(BY_NAME)


def test_failed_command_means_absent_even_with_output() -> None:
    output = FactOutput(stdout="perf version 6.1.192\n", stderr="", rc=1)
    assert BY_NAME["perf_version"].collect(output) is None


def test_docker_output_is_used_when_the_daemon_is_down() -> None:
    # docker exits 1 without a daemon but still prints the client part.
    output = FactOutput('{"Client":{"Version":"20.10.24"},"Server":null}\n', "Cannot connect", 1)
    assert BY_NAME["docker_version"].collect(output) == "20.10.24"


def test_os_release_quoting() -> None:
    text = 'ID=ubuntu\nVERSION_ID=\'22.04\'\nPRETTY_NAME="Ubuntu \\"Jammy\\" 22.04"\n# c\n\n'
    assert parse_os_release(text) == {
        "ID": "ubuntu",
        "VERSION_ID": "22.04",
        "PRETTY_NAME": 'Ubuntu "Jammy" 22.04',
    }


def test_os_release_unbalanced_quote_keeps_the_text() -> None:
    assert parse_os_release('NAME="Broken\n')["NAME"] == "Broken"


def test_sysfs_line_without_address() -> None:
    (nic,) = BY_NAME["nics"].process("wg0  1420 0x90\n")
    assert (nic.name, nic.mac, nic.mtu, nic.promisc) == ("wg0", None, 1420, False)


def test_netdev_failure_without_message_names_the_exit_code() -> None:
    value = BY_NAME["netdev_types"].process("bridge 0 \nipvlan 2 \n")
    assert plain("netdev_types", value) == {
        "bridge": {"supported": True, "message": None},
        "ipvlan": {"supported": False, "message": "ip link add exited 2"},
    }


def test_debugfs_mount_means_tracing_below_it() -> None:
    tracefs = BY_NAME["tracefs"].process("mount debugfs /sys/kernel/debug\nfilesystem tracefs\n")
    assert plain("tracefs", tracefs) == {
        "mounted": True,
        "path": "/sys/kernel/debug/tracing",
        "supported": True,
    }
