"""`invoke play`: run an Ansible-style playbook on inventory hosts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from invoke import Exit, task

from orchestrator.errors import NetmatrixError
from orchestrator.flags import count_flag
from orchestrator.tasks._cli import user_errors


def parse_extra_vars(text: str) -> dict[str, Any]:
    """`--extra-vars`: `k=v,k2=v2` (values are text), a JSON/YAML mapping, or `@file.yml`."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as error:
            raise NetmatrixError(f"--extra-vars: cannot read {path}: {error}") from None
        except yaml.YAMLError as error:
            raise NetmatrixError(f"--extra-vars: {path} is not valid YAML: {error}") from None
        if not isinstance(data, dict):
            raise NetmatrixError(f"--extra-vars: {path} must hold a mapping")
        return data
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise NetmatrixError(f"--extra-vars: not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise NetmatrixError("--extra-vars: the JSON must be an object")
        return data
    result: dict[str, Any] = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise NetmatrixError(f"--extra-vars: {pair!r} is not name=value")
        result[key] = value
    return result


# More hosts at once than this is a typo, not a lab: each fork holds SSH connections.
MOST_FORKS = 256


def _forks(value: str | None) -> int:
    """`--forks`, checked before any file is read or any host contacted."""
    return count_flag("--forks", value, 5, MOST_FORKS)


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@task(
    help={
        "playbook": "the playbook file (YAML list of plays)",
        "hosts": "host pattern: lab1,lab2, a group, all, globs (lab*), exclusions (all:!ctl)",
        "inventory": "inventory file, YAML or INI (default: inventories/lab.yml)",
        "check": "change nothing; report what would change",
        "tags": "run only tasks with one of these comma-separated tags (and `always`)",
        "skip-tags": "skip tasks with one of these comma-separated tags",
        "forks": "at most this many hosts work at once (default 5)",
        "extra-vars": "k=v,k2=v2, a JSON object, or @file.yml; above all other variables",
    }
)
@user_errors
def play(
    c: Any,
    playbook: str,
    hosts: str = "",
    inventory: str = "inventories/lab.yml",
    check: bool = False,
    tags: str = "",
    skip_tags: str = "",
    forks: str | None = None,
    extra_vars: str = "",
) -> None:
    """Run a playbook on the selected hosts; exit 2 if a host failed, 4 if unreachable."""
    if not hosts.strip():
        raise NetmatrixError("--hosts is required (e.g. --hosts lab1,lab2 or --hosts all)")
    workers = _forks(forks)
    from orchestrator.provision import play_file

    result = play_file(
        playbook,
        hosts,
        inventory,
        check=check,
        tags=_names(tags),
        skip_tags=_names(skip_tags),
        forks=workers,
        extra_vars=parse_extra_vars(extra_vars),
    )
    if result.exit_code:
        raise Exit(code=result.exit_code)


@task(
    help={
        "hosts": "host pattern: lab1,lab2, a group, all, globs (lab*), exclusions (all:!ctl)",
        "inventory": "inventory file, YAML or INI (default: inventories/lab.yml)",
        "check": "change nothing; report what would change",
        "forks": "at most this many hosts work at once (default 5)",
    }
)
@user_errors
def provision(
    c: Any,
    hosts: str = "all",
    inventory: str = "inventories/lab.yml",
    check: bool = False,
    forks: str | None = None,
) -> None:
    """Install Docker, perf and the traffic image on lab hosts (playbooks/provision.yml)."""
    workers = _forks(forks)
    from orchestrator.provision import provision as provision_hosts

    result = provision_hosts(hosts, inventory, check=check, forks=workers)
    if result.exit_code:
        raise Exit(code=result.exit_code)
