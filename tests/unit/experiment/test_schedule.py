"""Scheduling: lanes by hardware, interleaved repetitions, resume, kernel stages, estimates."""

from orchestrator.experiment.cells import RunKey, expand
from orchestrator.experiment.kernels import KernelSwitch
from orchestrator.experiment.schedule import (
    KERNEL_SWITCH_SECONDS,
    RUN_OVERHEAD_SECONDS,
    format_seconds,
    plan,
    run_seconds,
)
from orchestrator.host import Host
from tests.unit.experiment.builders import make_spec

DOCKER = [
    (Host("lab1", {"hardware": "docker"}), "6.18.44"),
    (Host("lab2", {"hardware": "docker"}), "6.18.44"),
]
SPEC = make_spec()  # 4 cells per host, 2 repetitions


def test_hosts_sharing_hardware_form_one_sequential_lane() -> None:
    cells = expand(SPEC, DOCKER)
    result = plan(SPEC, cells, set(), DOCKER)
    assert len(result.lanes) == 1
    lane = result.lanes[0]
    assert (lane.name, lane.hosts) == ("hardware=docker", ("lab1", "lab2"))
    assert len(lane.runs) == 16


def test_repetitions_are_interleaved_across_every_cell_of_a_lane() -> None:
    cells = expand(SPEC, DOCKER)
    runs = plan(SPEC, cells, set(), DOCKER).lanes[0].runs
    assert [run.repetition for run in runs] == [1] * 8 + [2] * 8
    assert [run.cell for run in runs[:8]] == cells
    assert runs[8].key == "mode=loopback,size=64,proto=tcp,host=lab1,rep=2"


def test_hosts_without_hardware_are_lanes_of_their_own() -> None:
    hosts = [
        (Host("a"), "6.1.0"),
        (Host("b", {"hardware": "ws"}), "6.1.0"),
        (Host("c"), "6.1.0"),
        (Host("d", {"hardware": "ws"}), "6.1.0"),
    ]
    lanes = plan(SPEC, expand(SPEC, hosts), set(), hosts).lanes
    assert [(lane.name, lane.hosts) for lane in lanes] == [
        ("host=a", ("a",)),
        ("hardware=ws", ("b", "d")),
        ("host=c", ("c",)),
    ]


def test_estimate_is_per_lane_and_the_longest_lane_for_the_total() -> None:
    hosts = [*DOCKER, (Host("vm"), "5.15.0")]
    result = plan(SPEC, expand(SPEC, hosts), set(), hosts)
    per_run = SPEC.warmup + SPEC.duration * len(SPEC.phases) + RUN_OVERHEAD_SECONDS
    assert run_seconds(SPEC) == per_run
    assert [lane.seconds for lane in result.lanes] == [16 * per_run, 8 * per_run]
    assert result.seconds == 16 * per_run


def test_resume_skips_done_runs_and_counts_them() -> None:
    cells = expand(SPEC, DOCKER)
    done = {RunKey(cell.key, 1) for cell in cells} | {
        RunKey("mode=gone,size=1,proto=tcp,host=x", 1)
    }
    result = plan(SPEC, cells, done, DOCKER)
    assert (result.total, result.done, result.todo) == (16, 8, 8)
    assert {run.repetition for run in result.lanes[0].runs} == {2}


def test_a_lane_with_nothing_left_is_dropped() -> None:
    hosts = [*DOCKER, (Host("vm"), "5.15.0")]
    cells = expand(SPEC, hosts)
    done = {RunKey(cell.key, rep) for cell in cells if cell.host == "vm" for rep in (1, 2)}
    result = plan(SPEC, cells, done, hosts)
    assert [lane.name for lane in result.lanes] == ["hardware=docker"]
    assert plan(SPEC, [], set(), hosts).seconds == 0


def test_a_host_needing_another_kernel_switches_once_after_the_others() -> None:
    spec = make_spec(kernel=("6.18.*", "6.1.*"))
    vm1 = Host("vm1", {"hardware": "ws", "kernels": ["linux-image-6.1.0-13-amd64"]})
    vm2 = Host("vm2", {"hardware": "ws"})
    hosts = [(vm1, "5.10.0-9-amd64"), (vm2, "6.18.44")]
    result = plan(spec, expand(spec, hosts), set(), hosts)
    (lane,) = result.lanes
    assert [stage.switch for stage in lane.stages] == [
        None,
        KernelSwitch("vm1", "linux-image-6.1.0-13-amd64", "6.1.0-13-amd64"),
    ]
    assert {run.cell.host for run in lane.stages[0].runs} == {"vm2"}
    assert [run.repetition for run in lane.stages[1].runs] == [1, 1, 1, 1, 2, 2, 2, 2]
    assert lane.restores == ("vm1",), "back to its default kernel at the end"
    assert lane.seconds == 16 * run_seconds(spec) + 2 * KERNEL_SWITCH_SECONDS


def test_no_switch_when_its_runs_are_all_done() -> None:
    spec = make_spec(kernel=("6.1.*",))
    vm1 = Host("vm1", {"kernels": ["linux-image-6.1.0-13-amd64"]})
    cells = expand(spec, [(vm1, "5.10.0")])
    done = {RunKey(cell.key, rep) for cell in cells for rep in (1, 2)}
    assert plan(spec, cells, done, [(vm1, "5.10.0")]).lanes == ()


def test_render_shows_cells_runs_lanes_and_time() -> None:
    spec = make_spec(kernel=("6.1.*",))
    vm1 = Host("vm1", {"kernels": ["linux-image-6.1.0-13-amd64"]})
    hosts = [(vm1, "5.10.0"), (Host("vm2"), "6.1.0-13-amd64")]
    cells = expand(spec, hosts)
    text = plan(spec, cells, {RunKey(cells[0].key, 1)}, hosts).render()
    lines = text.splitlines()
    assert lines[0] == "plan t: 8 cells × 2 repetitions = 16 runs (1 done, 15 to do)"
    vm1 = "mode=loopback,size=64,proto=tcp,host=vm1,kernel=6.1.0-13-amd64"
    assert lines[2] == f"  {vm1}    kernel 6.1.0-13-amd64  1/2 to do"
    vm2 = "mode=bridge,size=1400,proto=tcp,host=vm2,kernel=6.1.0-13-amd64"
    assert f"  {vm2}    kernel 6.1.0-13-amd64  2/2 to do" in lines
    assert "  host=vm1 (vm1): 7 runs, about 4m 42s" in lines
    assert (
        "    vm1: switch to kernel 6.1.0-13-amd64 (linux-image-6.1.0-13-amd64; reboot, "
        "about 2m 00s), then 7 runs" in lines
    )
    assert "    vm1: reboot back to its default kernel, about 2m 00s" in lines
    assert "    on the kernels in place: 8 runs" in lines
    assert lines[-1] == "estimated time: about 4m 42s"


def test_format_seconds() -> None:
    assert [format_seconds(s) for s in (0, 42.4, 485, 3600 * 2 + 125)] == [
        "0s",
        "42s",
        "8m 05s",
        "2h 02m",
    ]
