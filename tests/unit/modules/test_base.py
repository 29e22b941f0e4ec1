"""Argument specs, the result shape, debug and set_fact, and the registry."""

import pytest

from orchestrator import modules
from orchestrator.modules.base import ArgSpec, ModuleArgError, Param, TaskResult
from tests.fakes import FakeConnection
from tests.unit.modules.helpers import run_module


def test_result_has_ansibles_keys():
    result = TaskResult(changed=True, rc=0, stdout="a\nb").as_dict()
    for key in ("changed", "failed", "skipped", "msg", "rc", "stdout", "stderr"):
        assert key in result
    assert result["stdout_lines"] == ["a", "b"]


def test_result_is_frozen():
    with pytest.raises(AttributeError):
        TaskResult().changed = True  # type: ignore[misc]


SPEC = ArgSpec(
    params={
        "name": Param(required=True, aliases=("pkg",)),
        "count": Param(type="int", default=1),
        "flag": Param(type="bool", default=False),
        "items": Param(type="list", elements="str"),
        "state": Param(default="present", choices=("present", "absent")),
    }
)


def test_parse_converts_and_fills_defaults():
    parsed = SPEC.parse("m", {"pkg": "x", "count": "3", "flag": "yes", "items": "a, b"})
    assert parsed == {
        "name": "x",
        "count": 3,
        "flag": True,
        "items": ["a", "b"],
        "state": "present",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "missing required argument 'name'"),
        ({"name": "x", "nmae": 1}, "m has no argument 'nmae'; its arguments: count, flag"),
        ({"name": "x", "count": "many"}, "argument 'count'"),
        ({"name": "x", "flag": "perhaps"}, "expected a boolean"),
        ({"name": "x", "state": "gone"}, "must be one of: present, absent"),
    ],
)
def test_parse_errors(args, message):
    with pytest.raises(ModuleArgError, match=message):
        SPEC.parse("m", args)


def test_registry_knows_the_modules_and_fqcn():
    assert modules.names() == [
        "apt", "command", "copy", "debug", "docker_image", "file", "mount", "reboot",
        "service", "set_fact", "shell", "sysctl", "template", "wait_for",
    ]  # fmt: skip
    assert modules.get("ansible.builtin.copy") is modules.MODULES["copy"]
    assert modules.get("community.docker.docker_image").name == "docker_image"
    assert modules.get("nope") is None


def test_debug_msg_and_var():
    conn = FakeConnection()
    assert run_module("debug", conn, {"msg": "hi"}).msg == "hi"
    shown = run_module("debug", conn, {"var": "x"}, evaluator=lambda e: {"x": 42}[e])
    assert shown.as_dict()["x"] == 42 and not shown.changed
    assert conn.commands == []


def test_set_fact_returns_facts_and_checks_names():
    result = run_module("set_fact", FakeConnection(), {"a": 1, "b": [2]})
    assert result.as_dict()["ansible_facts"] == {"a": 1, "b": [2]}
    with pytest.raises(ModuleArgError, match="not a valid variable name"):
        run_module("set_fact", FakeConnection(), {"a-b": 1})
