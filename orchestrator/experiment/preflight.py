"""Before any run: the hosts selected and checked, their facts gathered, and those that cannot
run the spec refused with what to do ("run invoke provision"), one line each."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchestrator.errors import NetmatrixError
from orchestrator.experiment import modes
from orchestrator.experiment.context import LabHost, MatrixOptions
from orchestrator.experiment.spec import Spec
from orchestrator.host import Host
from orchestrator.inventory import load_inventory

GatherFn = Callable[[Sequence[Host]], Mapping[str, Any]]
"""`gather(hosts)`: each host's facts, or the NetmatrixError that kept them (`gather_hosts`)."""

_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def with_repetitions(spec: Spec, repetitions: int) -> Spec:
    if not 1 <= repetitions <= 1000:
        raise NetmatrixError(f"--repetitions: {repetitions} is out of range (1..1000)")
    return replace(spec, repetitions=repetitions)


def select_hosts(options: MatrixOptions) -> list[Host]:
    if not options.inventory.exists():
        raise NetmatrixError(
            f"{options.inventory}: no such inventory; bring a lab up with invoke lab.up "
            "or pass --inventory"
        )
    hosts = load_inventory(options.inventory).select(options.hosts or "all")
    for host in hosts:
        _check_host(options.inventory, host)
    return hosts


def _check_host(inventory: Path, host: Host) -> None:
    """Refuse, before any host is contacted, a host the matrix cannot use safely.

    Host names become cell keys, directory names and report labels, so they keep to the
    characters of a file name (Ansible allows more; `invoke inventory` still shows them).
    """
    if not _HOST_NAME.fullmatch(host.name):
        raise NetmatrixError(
            f"{inventory}: host {host.name!r}: a matrix host name may hold only letters, "
            "digits, '.', '_' and '-'"
        )
    try:
        host.port  # noqa: B018  (the property validates ansible_port)
    except NetmatrixError as error:
        raise NetmatrixError(f"{inventory}: {error}") from None


def gather(hosts: Sequence[Host], spec: Spec, gather_hosts: GatherFn) -> list[LabHost]:
    """Facts of every host, refusing those that cannot run this spec (one line each)."""
    answers = gather_hosts(hosts)
    problems = []
    lab = []
    for host in hosts:
        answer = answers[host.name]
        if isinstance(answer, NetmatrixError):
            problems.append(f"{host.name}: {answer}")
            continue
        facts = answer.as_dict()
        problems += readiness_problems(host, facts, spec)
        lab.append(LabHost(host, facts, facts["kernel_release"] or "?"))
    if problems:
        raise NetmatrixError("; ".join(problems))
    return lab


def readiness_problems(host: Host, facts: dict[str, Any], spec: Spec) -> list[str]:
    """What the host lacks for this spec, as one line naming the fix; empty when ready."""
    missing = []
    containers = any(modes.driver_for(mode).containers for mode in spec.axes.mode)
    if containers and not facts.get("docker_version"):
        missing.append("docker")
    if "traced" in spec.phases and not facts.get("perf_version"):
        missing.append("perf")
    if "traced" in spec.phases and not (facts.get("tracefs") or {}).get("mounted"):
        missing.append("tracefs")
    if not missing:
        return []
    return [f"{host.name}: {', '.join(missing)} missing: run invoke provision --hosts {host.name}"]


def source_commit() -> str | None:
    """The netmatrix commit measuring, recorded with the campaign (None outside a checkout)."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parents[2],
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.strip() or None
