"""Property tests: our parsing pieces against ansible-core's own functions, in process.

ansible-core (a dev dependency) is imported with ANSIBLE_LOCAL_TEMP pointing into pytest's
temporary directory, so nothing is written under ~. Whatever input Hypothesis finds, our
result must equal Ansible's, or both must refuse it.
"""

from __future__ import annotations

import string
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.inventory import InventoryError
from orchestrator.inventory.addresses import expand_ranges, parse_address
from orchestrator.inventory.ini import parse_value
from orchestrator.inventory.patterns import split_pattern


@pytest.fixture(scope="module")
def ansible(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANSIBLE_LOCAL_TEMP", str(tmp_path_factory.mktemp("ansible-tmp")))
        from ansible._internal._datatag._tags import Origin
        from ansible.inventory.manager import split_host_pattern
        from ansible.parsing.utils.addresses import parse_address as ansible_parse_address
        from ansible.plugins.inventory import expand_hostname_range
        from ansible.plugins.inventory.ini import InventoryModule

        ini = InventoryModule()
        ini._origin = Origin(path="/inventory.ini", line_num=1)
        return SimpleNamespace(
            expand=expand_hostname_range,
            parse_address=ansible_parse_address,
            split=split_host_pattern,
            parse_value=ini._parse_value,
        )


def outcome(function: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", function(*args)
    except Exception:  # Ansible raises whatever its helpers raise; we raise InventoryError
        return "refused", None


bound = st.one_of(
    st.integers(0, 30).map(str),
    st.integers(0, 30).map(lambda n: f"{n:02d}"),
    st.integers(0, 300).map(lambda n: f"{n:03d}"),
    st.sampled_from(list(string.ascii_letters)),
    st.sampled_from(["", "ab", "x1"]),
)
step = st.one_of(st.none(), st.integers(0, 5).map(str), st.just("a"))
word = st.text(alphabet="ab-.1", max_size=3)


@st.composite
def ranged_names(draw: st.DrawFn) -> str:
    begin, end, stride = draw(bound), draw(bound), draw(step)
    spec = f"{begin}:{end}" + (f":{stride}" if stride is not None else "")
    name = f"{draw(word)}[{spec}]{draw(word)}"
    if draw(st.booleans()):
        name += f"[{draw(bound)}:{draw(bound)}]"
    return name


@settings(max_examples=300, deadline=None)
@given(ranged_names())
def test_range_expansion_equals_ansible(ansible: SimpleNamespace, name: str) -> None:
    theirs = outcome(ansible.expand, name)
    ours = outcome(expand_ranges, name)

    assert ours == theirs


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab1.:[]-_f", min_size=1, max_size=12))
def test_address_parsing_equals_ansible(ansible: SimpleNamespace, address: str) -> None:
    status, theirs = outcome(ansible.parse_address, address, True)

    assert parse_address(address) == (theirs if status == "ok" else None)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab*,:!&[]1~ .", max_size=14))
def test_pattern_splitting_equals_ansible(ansible: SimpleNamespace, pattern: str) -> None:
    assert split_pattern(pattern) == ansible.split(pattern)


literal = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=4),
        st.binary(max_size=3).filter(lambda data: data.isascii()),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=3), children, max_size=3),
    ),
    max_leaves=6,
)
ini_text = st.one_of(
    literal.map(repr),
    st.text(alphabet="ab 1'\"#[]{}():,.=-+jxTrueNo", max_size=12),
    st.sampled_from(["...", "1+2j", "0x1F", "1_000", "True", "true", "None", "1e400", "{3}"]),
)


@settings(max_examples=400, deadline=None)
@given(ini_text)
def test_ini_values_equal_ansible(ansible: SimpleNamespace, text: str) -> None:
    theirs = outcome(ansible.parse_value, text)
    ours = outcome(parse_value, text, "inventory.ini:1:1")

    assert ours == theirs
    if ours[0] == "ok":
        assert _types(ours[1]) == _types(theirs[1])


def _types(value: Any) -> Any:
    """The JSON-level type tree of a value (Ansible's tagged types subclass the builtins)."""
    if isinstance(value, dict):
        return {key: _types(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_types(item) for item in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind.__name__
    return type(value).__name__


def test_malformed_ranges_raise_inventory_errors() -> None:
    with pytest.raises(InventoryError):
        expand_ranges("lab[x:1]")
