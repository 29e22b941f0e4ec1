"""Cells: expansion over hosts and their kernels, stable keys, selection by --cell."""

import dataclasses
import re

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.experiment.cells import (
    Cell,
    PlannedRun,
    RunKey,
    expand,
    parse_cell_selector,
    select_cells,
)
from orchestrator.host import Host
from tests.unit.experiment.builders import make_spec

LAB1 = Host("lab1", {"hardware": "docker"})
LAB2 = Host("lab2", {"hardware": "docker"})


def test_cell_key_is_stable_text_without_kernel() -> None:
    cell = Cell("bridge", 1400, "tcp", "lab2", "6.1.0-13-amd64")
    assert cell.key == "mode=bridge,size=1400,proto=tcp,host=lab2"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cell.mode = "host"  # type: ignore[misc]


def test_run_keys_carry_the_repetition() -> None:
    cell = Cell("bridge", 1400, "tcp", "lab2", "6.1")
    run = PlannedRun(cell, 3)
    assert run.run_key == RunKey("mode=bridge,size=1400,proto=tcp,host=lab2", 3)
    assert run.key == "mode=bridge,size=1400,proto=tcp,host=lab2,rep=3"


def test_expand_crosses_hosts_modes_sizes_protos_in_order() -> None:
    cells = expand(make_spec(proto=("tcp", "udp")), [(LAB1, "6.18.44"), (LAB2, "6.18.44")])
    assert len(cells) == 2 * 2 * 2 * 2
    assert [cell.key for cell in cells[:3]] == [
        "mode=loopback,size=64,proto=tcp,host=lab1",
        "mode=loopback,size=64,proto=udp,host=lab1",
        "mode=loopback,size=1400,proto=tcp,host=lab1",
    ]
    assert cells[8].key == "mode=loopback,size=64,proto=tcp,host=lab2"
    assert {cell.kernel for cell in cells} == {"6.18.44"}


def test_running_kernel_matching_a_pattern_is_used() -> None:
    cells = expand(make_spec(kernel=("5.15.*", "6.18.*")), [(LAB1, "6.18.44"), (LAB2, "5.15.0")])
    assert {(cell.host, cell.kernel) for cell in cells} == {("lab1", "6.18.44"), ("lab2", "5.15.0")}
    assert cells[0].key == "mode=loopback,size=64,proto=tcp,host=lab1,kernel=6.18.44"


def test_a_host_measures_on_every_kernel_of_its_own_that_a_pattern_matches() -> None:
    host = Host(
        "lab1", {"kernels": ["linux-image-6.1.0-13-rt-amd64", "linux-image-5.10.0-9-amd64"]}
    )
    cells = expand(make_spec(kernel=("6.1.*",)), [(host, "6.1.0-13-amd64")])
    assert [cell.kernel for cell in cells][::4] == ["6.1.0-13-amd64", "6.1.0-13-rt-amd64"]


def test_a_pattern_no_host_can_measure_on_is_refused() -> None:
    with pytest.raises(NetmatrixError) as caught:
        expand(make_spec(kernel=("6.18.*", "5.4.*")), [(LAB1, "6.18.44")])
    assert str(caught.value) == (
        "kernel pattern '5.4.*' matches no kernel the hosts run or have installed (lab1: 6.18.44)"
    )


def test_installable_kernel_matching_a_pattern_is_chosen() -> None:
    host = Host("lab1", {"kernels": ["linux-image-5.10.0-9-amd64", "linux-image-6.1.0-13-amd64"]})
    cells = expand(make_spec(kernel=("6.1.*",)), [(host, "6.18.44")])
    assert {cell.kernel for cell in cells} == {"6.1.0-13-amd64"}


def test_pattern_order_decides_between_installable_kernels() -> None:
    host = Host("lab1", {"kernels": ["linux-image-6.1.0-13-amd64", "linux-image-5.15.0-1-amd64"]})
    cells = expand(make_spec(kernel=("5.15.*", "6.1.*")), [(host, "6.18.44")])
    assert cells[0].kernel == "5.15.0-1-amd64"


def test_hosts_whose_kernel_matches_no_pattern_are_refused_together() -> None:
    lab2 = Host("lab2", {"kernels": ["linux-image-6.12.0-1-amd64"]})
    with pytest.raises(NetmatrixError) as caught:
        expand(make_spec(kernel=("5.15.*", "6.1.*")), [(LAB1, "6.18.44"), (lab2, "6.18.44")])
    assert str(caught.value) == (
        "lab1 runs kernel 6.18.44, which matches none of the kernel patterns (5.15.*, 6.1.*), "
        "and none of its installable kernels does (host var kernels: none); "
        "lab2 runs kernel 6.18.44, which matches none of the kernel patterns (5.15.*, 6.1.*), "
        "and none of its installable kernels does (host var kernels: linux-image-6.12.0-1-amd64)"
    )


@pytest.mark.parametrize(
    "package", ["linux-image-amd64", "linux-image-6.1$(touch x)", "linux-image-6.1;reboot"]
)
def test_kernels_host_var_must_name_releases(package: str) -> None:
    host = Host("lab1", {"kernels": [package]})
    with pytest.raises(
        NetmatrixError, match=rf"lab1: kernels\[0\]: {re.escape(repr(package))} names no"
    ):
        expand(make_spec(kernel=("6.1.*",)), [(host, "6.18.44")])


def test_selector_parses_known_keys() -> None:
    selector = parse_cell_selector(" mode=bridge , size=1400")
    assert selector.criteria == (("mode", "bridge"), ("size", "1400"))
    assert selector.text == "mode=bridge,size=1400"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "mode=bridge,colour=red",
            "unknown key 'colour' (known: mode, size, proto, host, kernel, netem)",
        ),
        ("mode=bridge,size", "'size' is not key=value"),
        ("", "'' is not key=value"),
        ("mode=bridge,mode=host", "mode is given twice"),
        ("mode=", "'mode=' is not key=value"),
    ],
)
def test_selector_errors(text: str, message: str) -> None:
    with pytest.raises(NetmatrixError) as caught:
        parse_cell_selector(text)
    assert str(caught.value).startswith(f"cell selector {text!r}: {message}")


def test_select_cells_by_values_and_globs() -> None:
    cells = expand(make_spec(), [(LAB1, "6.18.44"), (LAB2, "6.1.0-13-amd64")])
    chosen = select_cells(cells, parse_cell_selector("mode=bridge,size=1400"))
    assert [cell.host for cell in chosen] == ["lab1", "lab2"]
    assert select_cells(cells, parse_cell_selector("kernel=6.1.*,size=64,mode=bridge")) == [
        Cell("bridge", 64, "tcp", "lab2", "6.1.0-13-amd64")
    ]
    assert len(select_cells(cells, parse_cell_selector("host=lab*"))) == len(cells)


def test_selecting_nothing_lists_the_closest_keys() -> None:
    cells = expand(make_spec(), [(LAB1, "6.18.44")])
    with pytest.raises(NetmatrixError) as caught:
        select_cells(cells, parse_cell_selector("mode=brige,size=1400"))
    assert str(caught.value) == (
        "no cell matches mode=brige,size=1400; closest: "
        "mode=bridge,size=1400,proto=tcp,host=lab1, mode=bridge,size=64,proto=tcp,host=lab1, "
        "mode=loopback,size=1400,proto=tcp,host=lab1, mode=loopback,size=64,proto=tcp,host=lab1"
    )


def test_selecting_from_no_cells_says_so() -> None:
    with pytest.raises(NetmatrixError, match="the matrix has no cells"):
        select_cells([], parse_cell_selector("mode=bridge"))
