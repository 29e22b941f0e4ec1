"""The plan of a matrix: which runs remain, in which lane and order, and how long they take.

Hosts that share hardware (the same `hardware` host var — all Docker-provider nodes, VMs on
one workstation) share a kernel or CPUs, so their measurements must never overlap: they form
one lane whose runs go strictly one after another. A host without `hardware` is a lane of
its own. Lanes run in parallel.

Inside a lane, repetitions are interleaved: repetition 1 of every cell, then repetition 2,
and so on. Drift over a campaign (thermal state, page cache, background work) then spreads
over all cells alike instead of biasing whichever cell happened to run its repetitions last.
Hosts that must switch kernel come after the runs on kernels already in place, one stage
per switch (so a host reboots once per kernel it is not running), and a host that switched is
rebooted back to its default kernel when its lane is done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from orchestrator.experiment.cells import Cell, HostKernel, PlannedRun, RunKey
from orchestrator.experiment.kernels import KernelSwitch, kernel_switch
from orchestrator.experiment.spec import Spec
from orchestrator.host import Host

# Rough guesses for the estimate: per run, mode setup and teardown, server start and
# fetching results; per kernel switch, a reboot through GRUB into the other kernel (a Debian
# VM under QEMU's TCG takes 55-80 s; KVM or hardware far less) and a fresh look at the host.
RUN_OVERHEAD_SECONDS = 5.0
KERNEL_SWITCH_SECONDS = 120.0


@dataclass(frozen=True)
class Stage:
    """Runs done one after another, after `switch` (None: on the kernels in place)."""

    switch: KernelSwitch | None
    runs: tuple[PlannedRun, ...]


@dataclass(frozen=True)
class Lane:
    """Hosts that never measure at the same time, and what they do in order."""

    name: str
    hosts: tuple[str, ...]
    stages: tuple[Stage, ...]
    seconds: float
    restores: tuple[str, ...] = ()  # hosts rebooted back to their default kernel at the end

    @property
    def runs(self) -> tuple[PlannedRun, ...]:
        return tuple(run for stage in self.stages for run in stage.runs)


@dataclass(frozen=True)
class Plan:
    """The runs left to do of a matrix, by lane, with counts and an estimated time."""

    name: str
    cells: tuple[Cell, ...]
    repetitions: int
    lanes: tuple[Lane, ...]
    done: int

    @property
    def total(self) -> int:
        return len(self.cells) * self.repetitions

    @property
    def todo(self) -> int:
        return sum(len(lane.runs) for lane in self.lanes)

    @property
    def seconds(self) -> float:
        """Lanes run in parallel, so the matrix takes as long as its longest lane."""
        return max((lane.seconds for lane in self.lanes), default=0.0)

    def render(self) -> str:
        """The plan as `--dry-run` prints it: cells, runs, estimated time per lane and total."""
        todo = Counter(run.cell.key for lane in self.lanes for run in lane.runs)
        width = max((len(cell.key) for cell in self.cells), default=0)
        lines = [
            f"plan {self.name}: {len(self.cells)} cells × {self.repetitions} repetitions = "
            f"{self.total} runs ({self.done} done, {self.todo} to do)",
            "cells:",
            *(
                f"  {cell.key:<{width}}  kernel {cell.kernel}  "
                f"{todo[cell.key]}/{self.repetitions} to do"
                for cell in self.cells
            ),
            "lanes (in parallel; the runs of a lane one after another):",
        ]
        for lane in self.lanes:
            lines.append(
                f"  {lane.name} ({', '.join(lane.hosts)}): {len(lane.runs)} runs, "
                f"about {format_seconds(lane.seconds)}"
            )
            lines.extend(f"    {_stage_text(stage)}" for stage in lane.stages)
            lines.extend(
                f"    {host}: reboot back to its default kernel, about "
                f"{format_seconds(KERNEL_SWITCH_SECONDS)}"
                for host in lane.restores
            )
        lines.append(f"estimated time: about {format_seconds(self.seconds)}")
        return "\n".join(lines)


def plan(
    spec: Spec, cells: Sequence[Cell], done: Collection[RunKey], hosts: Sequence[HostKernel]
) -> Plan:
    """Plan the runs of `cells` not in `done` (resume), over `hosts` with their running kernels.

    `hosts` must hold every host a cell names; a host with no cell to run is left out.
    """
    by_name = {host.name: (host, running) for host, running in hosts}
    members: dict[str, list[str]] = {}
    for host, _ in hosts:
        members.setdefault(hardware_group(host), []).append(host.name)
    lanes = []
    for name, lane_hosts in members.items():
        groups: dict[KernelSwitch | None, list[Cell]] = {}
        for cell in cells:
            if cell.host in lane_hosts:
                switch = kernel_switch(*by_name[cell.host], cell.kernel)
                groups.setdefault(switch, []).append(cell)
        stages = []
        # Runs on the kernels in place first; sorting is stable, so switches keep host order.
        for switch, group in sorted(groups.items(), key=lambda item: item[0] is not None):
            runs = _interleaved(group, spec.repetitions, done)
            if runs:
                stages.append(Stage(switch, runs))
        if stages:
            switched = [stage.switch.host for stage in stages if stage.switch]
            restores = tuple(dict.fromkeys(switched))
            runs = sum(len(stage.runs) for stage in stages)
            reboots = len(switched) + len(restores)
            seconds = runs * run_seconds(spec) + reboots * KERNEL_SWITCH_SECONDS
            lanes.append(Lane(name, tuple(lane_hosts), tuple(stages), seconds, restores))
    planned = sum(len(lane.runs) for lane in lanes)
    return Plan(
        name=spec.name,
        cells=tuple(cells),
        repetitions=spec.repetitions,
        lanes=tuple(lanes),
        done=len(cells) * spec.repetitions - planned,
    )


def hardware_group(host: Host) -> str:
    """The lane a host belongs to: `hardware=<var>`, or `host=<name>` without the var."""
    hardware = host.vars.get("hardware")
    return f"hardware={hardware}" if hardware not in (None, "") else f"host={host.name}"


def run_seconds(spec: Spec) -> float:
    """Estimated seconds of one run: warm-up, each phase's traffic, and the overhead."""
    return spec.warmup + spec.duration * len(spec.phases) + RUN_OVERHEAD_SECONDS


def format_seconds(seconds: float) -> str:
    """`1h 02m`, `8m 05s` or `42s`: precise enough for an estimate."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _interleaved(
    cells: Sequence[Cell], repetitions: int, done: Collection[RunKey]
) -> tuple[PlannedRun, ...]:
    return tuple(
        run
        for repetition in range(1, repetitions + 1)
        for cell in cells
        if (run := PlannedRun(cell, repetition)).run_key not in done
    )


def _stage_text(stage: Stage) -> str:
    if stage.switch is None:
        return f"on the kernels in place: {len(stage.runs)} runs"
    return (
        f"{stage.switch.host}: switch to kernel {stage.switch.kernel} "
        f"({stage.switch.package}; reboot, about {format_seconds(KERNEL_SWITCH_SECONDS)}), "
        f"then {len(stage.runs)} runs"
    )
