"""gather_facts: one script, one round trip, parsed per fact; gather_hosts over many hosts."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest

from orchestrator.connection import CommandFailed, UnreachableError
from orchestrator.facts import (
    FACTS,
    Fact,
    HostFacts,
    build_script,
    facts_from_output,
    gather_facts,
    gather_hosts,
    parse_sections,
)
from orchestrator.host import Host
from tests.fakes import FakeConnection, fake

GATHER = Path(__file__).parents[2] / "fixtures" / "facts" / "gather"
RECORDED = (GATHER / "local-root.out").read_text()
EXPECTED = json.loads((GATHER / "local-root.expected.json").read_text())


def test_recorded_script_output_gives_every_fact() -> None:
    conn = fake([("@@netmatrix-fact", (0, RECORDED))])
    facts = gather_facts(conn)
    assert facts.as_dict() == EXPECTED
    assert len(conn.calls) == 1, "one round trip"
    assert json.loads(json.dumps(facts.as_dict())) == EXPECTED


def test_runs_plainly_unless_the_host_becomes() -> None:
    conn = fake([("@@netmatrix-fact", (0, RECORDED))])
    gather_facts(conn)
    assert conn.calls[0][1] is False
    conn = fake([("@@netmatrix-fact", (0, RECORDED))], ansible_become=True)
    gather_facts(conn)
    assert conn.calls[0][1] is True, "gathered through sudo"
    gather_facts(conn, become=False)
    assert conn.calls[1][1] is False


def test_script_runs_every_probe_in_order() -> None:
    script = build_script()
    positions = [script.index(f"nm_fact {fact.name} ") for fact in FACTS]
    assert positions == sorted(positions)


def test_no_section_at_all_is_an_error_naming_the_host() -> None:
    conn = fake([(".", (1, "", "sudo: a password is required\n"))])
    with pytest.raises(CommandFailed, match="fake: `gather facts` exited 1: sudo: a password"):
        gather_facts(conn)


def test_unreachable_propagates() -> None:
    conn = FakeConnection(host=Host("lab9"), unreachable=True)
    with pytest.raises(UnreachableError):
        gather_facts(conn)


def test_probe_cut_off_midway_is_absent_the_rest_is_kept() -> None:
    cut = RECORDED[: RECORDED.index("@@netmatrix-fact netdev_types rc")]
    facts = facts_from_output(cut)
    assert facts.netdev_types is None
    assert facts.kernel_release == EXPECTED["kernel_release"]


def test_parser_that_chokes_gives_absent_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    broken = RECORDED.replace("\n2\n", "\ntwo\n", 1)  # cpus' section
    with caplog.at_level(logging.WARNING):
        facts = facts_from_output(broken)
    assert facts.cpus is None
    assert "fact cpus" in caplog.text
    assert facts.mem_mb == EXPECTED["mem_mb"]


def test_absent_facts_are_null_in_json() -> None:
    assert json.loads(json.dumps(HostFacts().as_dict())) == {fact.name: None for fact in FACTS}


class Echo(Fact[str]):
    """A probe whose output has awkward edges: no final newline, stderr, a non-zero exit."""

    name = "echo"
    command = "printf 'a\\n\\nb'; printf 'oops\\n' >&2; exit 3"
    needs_success = False

    def process(self, stdout: str) -> str:
        return stdout


def test_script_sections_hold_exactly_what_each_probe_printed() -> None:
    # Runs the generated script for real, with a harmless probe (no root, nothing changed).
    done = subprocess.run(
        ["/bin/sh", "-c", build_script([Echo()])], capture_output=True, text=True, check=True
    )
    section = parse_sections(done.stdout)["echo"]
    assert (section.stdout, section.stderr, section.rc) == ("a\n\nb", "oops\n", 3)


def test_gather_hosts_keeps_partial_success_in_host_order() -> None:
    good = Host("lab1")
    bad = Host("lab2")

    def opener(host: Host, **_: object) -> FakeConnection:
        if host is bad:
            raise UnreachableError("lab2 (10.0.0.2:22): connection refused (4 attempts)")
        return FakeConnection(host=host, rules=[("@@netmatrix-fact", (0, RECORDED))])

    results = gather_hosts([bad, good], opener=opener)
    assert list(results) == ["lab2", "lab1"]
    assert isinstance(results["lab2"], UnreachableError)
    assert isinstance(results["lab1"], HostFacts)
    assert results["lab1"].as_dict() == EXPECTED
