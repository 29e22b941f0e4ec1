"""The netem axis: its grammar, the cells and keys it makes, and what a run does with it on a
fake lab host (put on the path after the server listens, recorded, removed by teardown and
sweep, `unsupported` in tc's words on a kernel without netem)."""

import dataclasses
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from orchestrator.experiment import netem, run
from orchestrator.experiment.cells import Cell, expand, parse_cell_selector, select_cells
from orchestrator.experiment.spec import Axes, load_spec, parse_spec, spec_hash
from orchestrator.host import Host
from orchestrator.yamlsource import Node, parse_yaml
from tests.fakes import FakeConnection
from tests.unit.experiment.test_run import KERNEL, lab_host, make_request, started

ROOT = Path(__file__).resolve().parents[3]
LAB1 = Host("lab1", {"hardware": "docker"})
# The demo spec's hash before the netem axis existed: its campaigns must resume as they were.
DEMO_HASH = "9fb332be59ab2156f329498d34b45a9b82ddc045344153aa7daf37dfb986d000"
NO_NETEM = "Error: Specified qdisc kind is unknown."
SHOWN = "qdisc netem 8001: root refcnt 2 limit 1000 delay 5ms\n"


def spec_with(netem_axis: str) -> str:
    return (
        "name: n\nbaseline: loopback\n"
        f"axes: {{mode: [loopback, bridge], size: [64], proto: [tcp]{netem_axis}}}\n"
    )


def parsed(text: str):
    return parse_spec(Node.root(parse_yaml(text, "spec.yml"), "spec.yml"))


# --- grammar -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("none", "none"),
        ("delay 5ms", "delay 5ms"),
        ("delay  5ms   1ms", "delay 5ms 1ms"),
        ("delay 200us loss 0.1%", "delay 200us loss 0.1%"),
        ("rate 100mbit delay 1s", "rate 100mbit delay 1s"),
        ("loss 100%", "loss 100%"),
        ("rate 1gbit", "rate 1gbit"),
        ("delay 9.5s 0.5s", "delay 9.5s 0.5s"),
    ],
)
def test_accepted_values_come_back_canonical(written: str, canonical: str) -> None:
    assert netem.parse(written) == canonical


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("", "must not be empty"),
        ("delay", "delay needs a TIME like 5ms, 200us or 1s, not ''"),
        ("delay 5", "delay needs a TIME"),
        ("delay -5ms", "delay needs a TIME"),
        ("delay 5ms 1ms 1ms", "unknown word '1ms'"),
        ("loss 1", "loss needs a percentage"),
        ("loss 100.1%", "loss needs a percentage"),
        ("rate 10Mbit", "rate needs a RATE"),
        ("rate 0gbit", "rate needs a RATE"),
        ("duplicate 1%", "unknown word 'duplicate'"),
        ("delay 5ms; reboot", "delay needs a TIME like 5ms, 200us or 1s, not '5ms;'"),
        ("loss 1% loss 2%", "loss is given twice"),
        ("delay 6s 5s", "delay and jitter exceed 10 s"),
    ],
)
def test_refused_values_say_why(written: str, message: str) -> None:
    with pytest.raises(netem.NetemError, match=re.escape(message)):
        netem.parse(written)


def test_tokens_are_the_value_with_underscores() -> None:
    assert netem.token("delay 5ms loss 0.1%") == "delay_5ms_loss_0.1%"
    assert netem.token("none") == "none"


# --- spec and cells ------------------------------------------------------------------------------


def test_a_spec_without_netem_keeps_its_hash_and_keys() -> None:
    demo = load_spec(ROOT / "playbooks" / "demo.yml")
    assert demo.axes.netem == ()
    assert spec_hash(demo) == DEMO_HASH
    [first, *_] = expand(demo, [(LAB1, KERNEL)])
    assert first.key == "mode=loopback,size=64,proto=tcp,host=lab1"
    assert first.netem == "none"


def test_the_netem_axis_is_crossed_last_and_named_in_the_keys() -> None:
    spec = parsed(spec_with(', netem: [none, "delay 5ms", "delay 5ms  loss 0.1%"]'))
    assert spec.axes.netem == ("none", "delay 5ms", "delay 5ms loss 0.1%")
    assert spec_hash(spec) != spec_hash(parsed(spec_with("")))
    cells = expand(spec, [(LAB1, KERNEL)])
    assert [cell.key for cell in cells[:3]] == [
        "mode=loopback,size=64,proto=tcp,host=lab1,netem=none",
        "mode=loopback,size=64,proto=tcp,host=lab1,netem=delay_5ms",
        "mode=loopback,size=64,proto=tcp,host=lab1,netem=delay_5ms_loss_0.1%",
    ]
    assert cells[4].netem == "delay 5ms"
    assert len(cells) == 6


def test_a_netem_axis_of_none_only_still_names_it() -> None:
    [cell, _] = expand(parsed(spec_with(", netem: [none]")), [(LAB1, KERNEL)])
    assert cell.key == "mode=loopback,size=64,proto=tcp,host=lab1,netem=none"


def test_the_selector_knows_netem_by_its_token() -> None:
    spec = parsed(spec_with(', netem: [none, "delay 5ms", "delay 5ms loss 1%"]'))
    cells = expand(spec, [(LAB1, KERNEL)])
    chosen = select_cells(cells, parse_cell_selector("mode=bridge,netem=delay_5ms"))
    assert [cell.key for cell in chosen] == [
        "mode=bridge,size=64,proto=tcp,host=lab1,netem=delay_5ms"
    ]
    assert len(select_cells(cells, parse_cell_selector("netem=delay_*"))) == 4


def test_axes_default_to_no_netem() -> None:
    assert Axes(("loopback",), (64,), ("tcp",)).netem == ()


# --- one run on a fake host ----------------------------------------------------------------------


def shaped_host(*first) -> FakeConnection:
    """`lab_host` that also answers the netem commands: the server's pid, tc, and the marker."""
    return lab_host(
        *first,
        (r"^docker inspect --format '\{\{\.State\.Pid\}\}' ", (0, "4242\n")),
        (r"^sh -c 'printf ", (0, "")),
        (r"tc qdisc replace ", (0, "")),
        (r"tc qdisc show ", (0, SHOWN)),
    )


def shaped_request(tmp_path: Path, mode: str, value: str = "delay 5ms"):
    request = make_request(tmp_path, mode)
    cell = dataclasses.replace(request.cell, netem=value, netem_axis=True)
    return dataclasses.replace(request, cell=cell)


def test_a_container_run_shapes_the_server_egress_inside_its_namespace(tmp_path: Path) -> None:
    said: list[str] = []
    conn = shaped_host()
    request = shaped_request(tmp_path, "bridge")
    outcome = run.execute(conn, request, said.append)

    assert outcome.status == "ok", outcome.error
    assert said.index("netem") < said.index("plain")
    [replace] = started(conn, "nsenter -t 4242 -n tc qdisc replace")
    assert replace[5:] == ["qdisc", "replace", "dev", "eth0", "root", "netem", "delay", "5ms"]
    commands = conn.commands
    shaping = commands.index(shlex.join(replace))
    assert commands.index(next(c for c in commands if c.startswith("docker run "))) < shaping
    assert shaping < commands.index(next(c for c in commands if c.startswith("docker exec ")))
    assert started(conn, "sh -c 'printf") == []  # the namespace goes with the container
    [kept] = [item for item in outcome.artifacts if item.kind == "netem"]
    assert kept.path.read_text() == (
        "netem: delay 5ms\ndevice: eth0 of container nm-t1-srv's network namespace "
        f"(server egress)\n{SHOWN}"
    )


@pytest.mark.parametrize("mode", ["loopback", "host"])
def test_a_run_over_127_0_0_1_shapes_lo_and_names_it_first(tmp_path: Path, mode: str) -> None:
    conn = shaped_host()
    outcome = run.execute(conn, shaped_request(tmp_path, mode, "delay 1ms loss 0.1%"))

    assert outcome.status == "ok", outcome.error
    [marker] = started(conn, "sh -c 'printf")
    assert marker[-2:] == ["/var/tmp/netmatrix/t1/netem-host-dev", "lo"]
    [replace] = started(conn, "tc qdisc replace")
    assert shlex.join(replace) == "tc qdisc replace dev lo root netem delay 1ms loss 0.1%"
    assert conn.commands.index(shlex.join(marker)) < conn.commands.index(shlex.join(replace))


def test_no_netem_runs_no_tc(tmp_path: Path) -> None:
    conn = shaped_host()
    outcome = run.execute(conn, make_request(tmp_path, "bridge"))
    assert outcome.status == "ok", outcome.error
    assert started(conn, "tc ") == started(conn, "nsenter ") == []
    assert not any(item.kind == "netem" for item in outcome.artifacts)


def test_a_kernel_without_netem_makes_the_run_unsupported_in_tcs_words(tmp_path: Path) -> None:
    conn = shaped_host((r"tc qdisc replace ", (2, "", NO_NETEM)))
    outcome = run.execute(conn, shaped_request(tmp_path, "loopback"))

    assert outcome.status == "unsupported"
    assert outcome.error == f"netem: {NO_NETEM}"
    assert not started(conn, "python3 /opt/netmatrix/app/client.py")
    assert conn.commands[-1].startswith("sh -c '\ntag=")  # torn down all the same


def test_another_tc_failure_fails_the_run(tmp_path: Path) -> None:
    conn = shaped_host((r"tc qdisc replace ", (1, "", 'Error: Cannot find device "eth0".')))
    outcome = run.execute(conn, shaped_request(tmp_path, "bridge"))
    assert outcome.status == "failed"
    assert "tc qdisc replace on eth0 of container nm-t1-srv" in (outcome.error or "")
    assert 'Cannot find device "eth0"' in (outcome.error or "")


def test_teardown_and_sweep_remove_the_qdisc_before_the_work_directory() -> None:
    teardown, sweep = run._TEARDOWN, run._SWEEP
    assert teardown.index('netem_remove "$work/netem-host-dev"') < teardown.index('rm -rf "$work"')
    assert sweep.index("/var/tmp/netmatrix/*/netem-host-dev") < sweep.index("rm -rf")


# --- the removal shell itself, with a tc that logs what it is asked ------------------------------


def remove(tmp_path: Path, shown: str, marker: bool = True) -> list[str]:
    """Run `netem_remove` with a fake tc on PATH; the tc calls it made."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "tc.log"
    tc = bin_dir / "tc"
    tc.write_text(f'#!/bin/sh\necho "$@" >> {log}\n[ "$2" = show ] && printf "{shown}"\nexit 0\n')
    tc.chmod(0o755)
    path = tmp_path / "netem-host-dev"
    if marker:
        path.write_text("lo\n")
    script = f'{netem.REMOVE_SH}netem_remove "$1"'
    environ = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["sh", "-c", script, "sh", str(path)], env=environ, check=True, timeout=30)
    return log.read_text().splitlines() if log.exists() else []


def test_the_removal_deletes_a_netem_root_qdisc(tmp_path: Path) -> None:
    assert remove(tmp_path, SHOWN) == ["qdisc show dev lo", "qdisc del dev lo root"]


def test_the_removal_leaves_another_qdisc_alone(tmp_path: Path) -> None:
    assert remove(tmp_path, "qdisc noqueue 0: root refcnt 2\n") == ["qdisc show dev lo"]


def test_the_removal_without_a_marker_runs_no_tc(tmp_path: Path) -> None:
    assert remove(tmp_path, SHOWN, marker=False) == []


def test_the_device_choice_is_one_function() -> None:
    placement = run.modes.Placement("bridge", "t1", containers=True, docker_network="bridge")
    assert netem.device(run.modes.DRIVERS["bridge"], placement) == netem.Device("eth0", "nm-t1-srv")
    host = run.modes.Placement("host", "t1", containers=True, docker_network="host")
    assert netem.device(run.modes.DRIVERS["host"], host) == netem.Device("lo")
    loopback = run.modes.Placement("loopback", "t1", containers=False)
    assert netem.device(run.modes.DRIVERS["loopback"], loopback) == netem.Device("lo")


def test_cells_carry_netem_as_values() -> None:
    cell = Cell("bridge", 64, "tcp", "lab1", KERNEL, netem="delay 5ms", netem_axis=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cell.netem = "none"  # type: ignore[misc]
