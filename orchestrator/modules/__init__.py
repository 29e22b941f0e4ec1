"""Task modules, one per file, and the registry that maps a task's module name to one.

Names may be written as Ansible's fully qualified ones (`ansible.builtin.copy`,
`community.docker.docker_image`): the last part is what counts.
"""

from __future__ import annotations

from types import MappingProxyType

from orchestrator.modules import (
    apt,
    command,
    copy,
    debug,
    docker_image,
    file,
    mount,
    reboot,
    service,
    set_fact,
    shell,
    sysctl,
    template,
    wait_for,
)
from orchestrator.modules.base import Module, ModuleContext, TaskResult

MODULES: MappingProxyType[str, Module] = MappingProxyType(
    {
        m.MODULE.name: m.MODULE
        for m in (
            apt, command, copy, debug, docker_image, file, mount,
            reboot, service, set_fact, shell, sysctl, template, wait_for,
        )
    }
)  # fmt: skip

# The collections whose modules of the same name these stand in for.
_COLLECTIONS = ("ansible.builtin.", "ansible.posix.", "community.general.", "community.docker.")


def canonical_name(name: str) -> str:
    """`ansible.builtin.copy` -> `copy`; other names unchanged."""
    for prefix in _COLLECTIONS:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def get(name: str) -> Module | None:
    """The module called `name` (short or fully qualified), or None."""
    return MODULES.get(canonical_name(name))


def names() -> list[str]:
    return sorted(MODULES)


__all__ = ["MODULES", "Module", "ModuleContext", "TaskResult", "canonical_name", "get", "names"]
