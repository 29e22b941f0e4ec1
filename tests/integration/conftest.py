"""Fixtures for integration tests: real sshd servers on 127.0.0.2 and 127.0.0.3.

- `sshd_lab`: the running servers (session-wide; stopped at the end of the session).
- `sshd_hosts`: `Host` values for both servers (root, key auth, verified host keys).
- `unreachable_host`: a `Host` on 127.0.0.4 at a port where nothing listens.
- `sshd_inventory` / `sshd_inventory_with_unreachable`: a YAML inventory file with the two
  hosts (group `sshd`), or with the unreachable one too (group `sshd`, 3 hosts).
- `write_inventory(path, hosts, group)` in `tests.integration.sshd` for other shapes.
- `provisioned_lab`: a two-node Docker-provider lab (lab1, lab2 on 192.168.214.0/24), brought
  up and provisioned once per session and destroyed at its end; see `ProvisionedLab` in
  `tests.integration.lab_fixture` for what tests get (inventory, environment, `invoke`,
  `connect`). Tests that change a node put it back before they end.
- `vm_lab`: two libvirt VMs (lab1, lab2) with their own kernels, up through `invoke lab.up
  --provider libvirt` and provisioned once per session, destroyed with `invoke lab.down`
  (tests.integration.vm_lab).

Every test under tests/integration is marked `integration`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.host import Host
from tests.integration.lab_fixture import ProvisionedLab, provisioned_docker_lab
from tests.integration.sshd import SshdLab, write_inventory
from tests.integration.vm_lab import provisioned_vm_lab, vm_diagnosis

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark integration tests; run the tests on the VM lab last, in their order. Emulated VMs
    take CPU even idle, so they must not boot for one early test and run beside the rest."""
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)
    items.sort(key=_uses_vms)  # stable: False (no VMs) first


def _uses_vms(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    return "vm_lab" in getattr(item, "fixturenames", ()) or "vm_lab" in params.values()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed test on the VM lab carries the VMs' state and console tails."""
    outcome = yield
    report = outcome.get_result()
    lab = getattr(item, "funcargs", {}).get("vm_lab")
    if report.failed and lab is not None:
        report.sections.append(("VM lab state and consoles", vm_diagnosis(lab)))


@pytest.fixture(scope="session")
def sshd_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdLab]:
    lab = SshdLab.start(tmp_path_factory.mktemp("sshd"))
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="session")
def sshd_hosts(sshd_lab: SshdLab) -> tuple[Host, ...]:
    """The two sshd servers as inventory hosts `sshd1` (127.0.0.2) and `sshd2` (127.0.0.3)."""
    return sshd_lab.hosts()


@pytest.fixture(scope="session")
def unreachable_host(sshd_lab: SshdLab) -> Host:
    """`closed1`: 127.0.0.4 at a closed port, otherwise configured like the sshd hosts."""
    return sshd_lab.unreachable_host()


@pytest.fixture
def sshd_inventory(tmp_path: Path, sshd_hosts: tuple[Host, ...]) -> Path:
    return write_inventory(tmp_path / "inventory.yml", sshd_hosts)


@pytest.fixture
def sshd_inventory_with_unreachable(
    tmp_path: Path, sshd_hosts: tuple[Host, ...], unreachable_host: Host
) -> Path:
    return write_inventory(tmp_path / "inventory.yml", [*sshd_hosts, unreachable_host])


@pytest.fixture(scope="session")
def provisioned_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProvisionedLab]:
    """One ready lab for the whole session: bringing it up and provisioning it is the slow
    part of the integration suite, so it is done once."""
    with provisioned_docker_lab(tmp_path_factory.mktemp("provisioned-lab")) as lab:
        yield lab


@pytest.fixture(scope="session")
def vm_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProvisionedLab]:
    """Two libvirt VMs (lab1, lab2: Debian 12 with generic, rt and cloud 6.1 kernels), up and
    provisioned once per session through `invoke lab.up --provider libvirt`; see vm_lab.py."""
    with provisioned_vm_lab(tmp_path_factory.mktemp("vm-lab")) as lab:
        yield lab
