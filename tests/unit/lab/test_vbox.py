from pathlib import Path

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.lab import vbox
from orchestrator.lab.lifecycle import Lab

from .conftest import VBOX_FIXTURES, write_machine_id

VM = "5b3c1f0e-8d2a-4c61-9f57-2e0a7c9d4b11"
SHOWVMINFO = (VBOX_FIXTURES / "showvminfo-lab1.txt").read_text()
MACHINE_READABLE = (VBOX_FIXTURES / "showvminfo-lab1-machinereadable.txt").read_text()


def test_promisc_policy_is_read_per_nic_from_showvminfo():
    assert vbox.promisc_policy(SHOWVMINFO, 1) == "deny"
    assert vbox.promisc_policy(SHOWVMINFO, 2) == "deny"
    allowed = SHOWVMINFO.replace(
        "'netmatrix-lab', Cable connected: on, Trace: off (file: none), Type: 82540EM, "
        "Reported speed: 0 Mbps, Boot priority: 0, Promisc Policy: deny",
        "'netmatrix-lab', Cable connected: on, Trace: off (file: none), Type: 82540EM, "
        "Reported speed: 0 Mbps, Boot priority: 0, Promisc Policy: allow-all",
    )
    assert vbox.promisc_policy(allowed, 2) == "allow-all"
    assert vbox.promisc_policy(allowed, 1) == "deny"


def test_disabled_nic_has_no_policy():
    assert vbox.promisc_policy(SHOWVMINFO, 3) is None


def test_machine_readable_output_carries_no_promisc_policy():
    # Why vbox.py verifies with the human-readable form: this one has no nicpromisc key.
    assert "nicpromisc" not in MACHINE_READABLE
    assert 'nic2="intnet"' in MACHINE_READABLE


def test_machine_state_with_standin_vboxmanage(vboxmanage_log: Path, monkeypatch):
    assert vbox.machine_state(VM) == "running"
    monkeypatch.setenv("VBOXMANAGE_VMSTATE", "poweroff")
    assert vbox.machine_state(VM) == "poweroff"
    assert vboxmanage_log.read_text().splitlines() == [f"showvminfo {VM} --machinereadable"] * 2


def test_set_promisc_then_verify_with_standin_vboxmanage(vboxmanage_log: Path):
    vbox.set_promisc("lab1", VM, 2, "allow-all")
    assert vboxmanage_log.read_text().splitlines() == [
        f"controlvm {VM} nicpromisc2 allow-all",
        f"showvminfo {VM}",
    ]


def test_refused_when_the_vm_is_off_with_standin_vboxmanage(vboxmanage_log: Path, monkeypatch):
    monkeypatch.setenv("VBOXMANAGE_VMSTATE", "poweroff")
    with pytest.raises(NetmatrixError) as error:
        vbox.set_promisc("lab1", VM, 2, "allow-all")
    assert str(error.value) == (
        f"lab1: VBoxManage refused nicpromisc2 allow-all: VBoxManage: error: Machine '{VM}' is "
        "not currently running; is the VM running? start it with `invoke lab.up --hosts lab1`"
    )


def test_policy_that_does_not_change_fails_verification_with_standin_vboxmanage(
    vboxmanage_log: Path, monkeypatch
):
    monkeypatch.setenv("VBOXMANAGE_STUCK", "1")
    with pytest.raises(NetmatrixError, match="NIC 2 has promiscuous mode deny after setting"):
        vbox.set_promisc("lab1", VM, 2, "allow-all")


def test_missing_vboxmanage_names_the_fix(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NetmatrixError, match="VBoxManage not found on PATH: install VirtualBox"):
        vbox.machine_state(VM)


def test_machine_uuid_comes_from_vagrant_state(lab: Lab):
    with pytest.raises(NetmatrixError, match="lab1: no VirtualBox machine"):
        vbox.machine_uuid(lab.paths, "lab1")
    write_machine_id(lab, "lab1", "virtualbox", VM + "\n")
    assert vbox.machine_uuid(lab.paths, "lab1") == VM


def test_unknown_mode_is_refused():
    with pytest.raises(NetmatrixError, match="use allow-all, allow-vms, deny"):
        vbox.check_promisc_mode("allow-some")
