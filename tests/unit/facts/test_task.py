"""The `facts` task: arguments, JSON and table output, partial failure."""

from __future__ import annotations

import importlib
import json
import sys
import types
from typing import Any

import pytest
from invoke import Context, Exit

from orchestrator.connection import UnreachableError
from orchestrator.facts import HostFacts, NetdevSupport, Nic
from orchestrator.host import Host
from orchestrator.tasks import facts as facts_task

FACTS = HostFacts(
    kernel_release="6.1.0-13-amd64",
    cpus=2,
    nics=(Nic("eth0", "02:fc:00:00:00:01", 1500, True),),
    netdev_types={"ipvlan": NetdevSupport(False, "Error: Unknown device type.")},
)


@pytest.fixture
def selected(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Stub the inventory (`load_inventory(path).select(pattern)`) and record what was asked."""
    asked: list[tuple[str, str]] = []

    class Inventory:
        def __init__(self, path: str) -> None:
            self.path = path

        def select(self, pattern: str) -> list[Host]:
            asked.append((self.path, pattern))
            return [Host("lab1"), Host("lab2")]

    try:
        module = importlib.import_module("orchestrator.inventory")
    except ImportError:  # built in parallel; the task imports it lazily
        module = types.ModuleType("orchestrator.inventory")
        monkeypatch.setitem(sys.modules, "orchestrator.inventory", module)
    monkeypatch.setattr(module, "load_inventory", Inventory, raising=False)
    return asked


def answers(monkeypatch: pytest.MonkeyPatch, results: dict[str, Any]) -> None:
    monkeypatch.setattr(facts_task, "gather_hosts", lambda hosts: results)


def test_json_is_host_to_fact_to_value_with_null(
    monkeypatch: pytest.MonkeyPatch, selected: list, capsys: pytest.CaptureFixture[str]
) -> None:
    answers(monkeypatch, {"lab1": FACTS, "lab2": HostFacts()})
    facts_task.facts(Context(), hosts="lab*", inventory="inv.yml", format="json")
    printed = json.loads(capsys.readouterr().out)
    assert selected == [("inv.yml", "lab*")]
    assert printed["lab1"] == FACTS.as_dict()
    assert printed["lab2"]["kernel_release"] is None
    assert printed["lab1"]["netdev_types"]["ipvlan"] == {
        "supported": False,
        "message": "Error: Unknown device type.",
    }


def test_table_shows_values_and_kernel_messages(
    monkeypatch: pytest.MonkeyPatch, selected: list, capsys: pytest.CaptureFixture[str]
) -> None:
    answers(monkeypatch, {"lab1": FACTS})
    facts_task.facts(Context(), hosts="lab1")
    out = capsys.readouterr().out
    assert "6.1.0-13-amd64" in out
    assert "promisc" in out
    assert "ipvlan: no (Error: Unknown device type.)" in out


def test_unreachable_host_is_reported_and_fails_the_run(
    monkeypatch: pytest.MonkeyPatch, selected: list, capsys: pytest.CaptureFixture[str]
) -> None:
    down = UnreachableError("lab2 (10.0.0.2:22): connection refused (4 attempts)")
    answers(monkeypatch, {"lab1": FACTS, "lab2": down})
    with pytest.raises(Exit) as stop:
        facts_task.facts(Context(), hosts="all", format="json")
    assert stop.value.code == 2
    assert "lab2 (10.0.0.2:22): connection refused" in str(stop.value.message)
    assert list(json.loads(capsys.readouterr().out)) == ["lab1"]


def test_unknown_format_is_a_user_error(selected: list) -> None:
    with pytest.raises(Exit) as stop:
        facts_task.facts(Context(), hosts="all", format="yaml")
    assert stop.value.code == 2
    assert "--format must be one of table, json" in str(stop.value.message)
