"""Running playbooks from files, and provisioning: the playbook that readies lab hosts.

Provisioning needs one thing a playbook cannot do on the hosts: the traffic image, built on
the controller (labs may have no registry) and handed to the play as a tarball to load.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from orchestrator.engine import run_playbook
from orchestrator.experiment.traffic_image import ensure_traffic_tarball, traffic_image
from orchestrator.inventory import load_inventory
from orchestrator.lab.dockerd import ensure_dockerd
from orchestrator.lab.lifecycle import open_lab
from orchestrator.lab.node_image import ensure_node_image
from orchestrator.outcome import PlaybookRun
from orchestrator.playbook import load_playbook

PROVISION_PLAYBOOK = Path(__file__).resolve().parent.parent / "playbooks" / "provision.yml"


def play_file(
    playbook: Path | str,
    hosts: str,
    inventory: Path | str,
    *,
    check: bool = False,
    tags: Iterable[str] = (),
    skip_tags: Iterable[str] = (),
    forks: int = 5,
    extra_vars: Mapping[str, Any] | None = None,
) -> PlaybookRun:
    """Load a playbook and an inventory, select hosts, and run the playbook on them."""
    return _loaded(playbook, hosts, inventory)(
        check=check, tags=tags, skip_tags=skip_tags, forks=forks, extra_vars=extra_vars
    )


def provision(
    hosts: str, inventory: Path | str, *, check: bool = False, forks: int = 5
) -> PlaybookRun:
    """Build (or reuse) the traffic image on the controller, then run provision.yml.

    The playbook, the inventory and the host pattern are checked first: a missing inventory
    is one line at once, not one line after minutes of building images.
    """
    play = _loaded(PROVISION_PLAYBOOK, hosts, inventory)
    lab = open_lab()
    client = ensure_dockerd(lab.say)
    ensure_node_image(client, lab.config.image, lab.paths.cache, lab.say)
    tarball = ensure_traffic_tarball(client, lab.config.image, lab.paths.cache, lab.say)
    return play(
        check=check,
        forks=forks,
        extra_vars={"traffic_image": traffic_image(), "traffic_image_tar": str(tarball)},
    )


def _loaded(playbook: Path | str, hosts: str, inventory: Path | str) -> Callable[..., PlaybookRun]:
    """The playbook run on the selected hosts, loaded and selected now, run when called with
    `run_playbook`'s options."""
    book = load_playbook(playbook)
    loaded = load_inventory(inventory)
    return functools.partial(run_playbook, book, loaded.select(hosts), select=loaded.select)
