"""The libvirt box and provider without building one: names, digest, disk layout, KVM cache,
refusals before anything is created."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.lab import box, guest, libvirt, qemu
from orchestrator.lab.lifecycle import needs_other_kernel
from tests.fakes import FakeConnection

DPKG_KERNELS = (
    "linux-image-6.1.0-50-amd64 installed\n"
    "linux-image-6.1.0-50-rt-amd64 installed\n"
    "linux-image-amd64 installed\n"
    "linux-image-6.1.0-49-amd64 config-files\n"
)


def test_kernel_packages_are_debian_names_and_duplicates_go() -> None:
    assert box.check_kernels(
        ["linux-image-amd64", "linux-image-rt-amd64", "linux-image-amd64"]
    ) == (
        "linux-image-amd64",
        "linux-image-rt-amd64",
    )
    for wrong in ("linux-image-$(reboot)", "vim", "linux-image-Amd64", "linux-image-"):
        with pytest.raises(NetmatrixError, match="is not a Debian kernel package name"):
            box.check_kernels([wrong])
    with pytest.raises(NetmatrixError, match="name at least one kernel package"):
        box.check_kernels([])


def test_the_digest_covers_kernels_their_order_the_key_and_the_image() -> None:
    base = box.box_digest(["linux-image-amd64"], "ssh-ed25519 AAAA", "netmatrix/traffic:1")
    assert len(base) == 64
    assert base == box.box_digest(["linux-image-amd64"], "ssh-ed25519 AAAA", "netmatrix/traffic:1")
    others = {
        box.box_digest(["linux-image-rt-amd64"], "ssh-ed25519 AAAA", "netmatrix/traffic:1"),
        box.box_digest(["linux-image-amd64"], "ssh-ed25519 BBBB", "netmatrix/traffic:1"),
        box.box_digest(["linux-image-amd64"], "ssh-ed25519 AAAA", "netmatrix/traffic:2"),
    }
    assert base not in others and len(others) == 3


def test_the_mbr_holds_one_bootable_linux_partition_after_the_first_mebibyte() -> None:
    sectors = 8 * 1024**3 // 512
    record = guest.mbr(sectors)
    assert len(record) == 512 and record[510:] == b"\x55\xaa"
    status, kind, start, count = struct.unpack("<B3xB3xII", record[446:462])
    assert (status, kind, start, start + count) == (0x80, 0x83, 2048, sectors)
    assert record[462:510] == bytes(48), "no other partition"


def test_the_tools_a_build_needs_are_named_with_their_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for tool in ("vagrant", "qemu-img", "mke2fs"):  # but no qemu-system-x86_64
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NetmatrixError) as raised:
        box.ensure_box(
            tmp_path / "cache", image="netmatrix/traffic:1", image_tarball=tmp_path / "x.tar"
        )
    assert str(raised.value) == (
        "qemu-system-x86_64 not found on PATH: the box boots once to install GRUB "
        "(apt-get install qemu-system-x86 qemu-utils)"
    )
    assert not (tmp_path / "cache").exists(), "nothing created"


def test_installed_kernels_are_the_release_packages_only() -> None:
    conn = FakeConnection().on(r"^dpkg-query ", (0, DPKG_KERNELS))
    assert libvirt.installed_kernels(conn) == [
        "linux-image-6.1.0-50-amd64",
        "linux-image-6.1.0-50-rt-amd64",
    ]


def test_libvirt_not_running_is_refused_with_the_command_that_starts_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    virsh = tmp_path / "virsh"
    virsh.write_text(
        '#!/bin/sh\necho "error: failed to connect to the hypervisor" >&2\n'
        "echo \"error: Failed to connect socket to '/var/run/libvirt/libvirt-sock': "
        'No such file or directory" >&2\nexit 1\n'
    )
    virsh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with pytest.raises(NetmatrixError) as raised:
        libvirt.require_libvirtd()
    message = str(raised.value)
    assert message.startswith("libvirt is not running (error: failed to connect to the hypervisor")
    assert message.endswith(
        "start it with `bash scripts/start-libvirt.sh` (`virtlogd -d && libvirtd -d` where "
        "there is no systemd, else `systemctl start libvirtd`)"
    )


def test_the_kvm_answer_is_cached_per_host_kernel_and_qemu(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    probes: list[Path] = []
    monkeypatch.setattr(qemu.os, "access", lambda path, mode: True)
    monkeypatch.setattr(qemu, "_qemu_version", lambda: "QEMU emulator version 7.2.22")
    monkeypatch.setattr(qemu, "_probe", lambda kernel: probes.append(kernel) or False)
    said: list[str] = []
    assert qemu.kvm_works(tmp_path / "vmlinuz", tmp_path, said.append) is False
    assert qemu.kvm_works(tmp_path / "vmlinuz", tmp_path, said.append) is False
    assert probes == [tmp_path / "vmlinuz"], "probed once"
    assert said[0].startswith("KVM: /dev/kvm exists but a guest hangs under it (a test guest)")
    assert "(cached probe)" in said[1]
    cached = json.loads((tmp_path / "kvm-probe.json").read_text())
    assert cached == {"key": f"{os.uname().release} QEMU emulator version 7.2.22", "works": False}
    monkeypatch.setattr(qemu, "_qemu_version", lambda: "QEMU emulator version 8.0")
    qemu.kvm_works(tmp_path / "vmlinuz", tmp_path, said.append)
    assert len(probes) == 2, "another QEMU is asked again"


def test_without_a_usable_kvm_device_there_is_no_probe(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(qemu.os, "access", lambda path, mode: False)
    monkeypatch.setattr(qemu, "_probe", lambda kernel: pytest.fail("probed"))
    said: list[str] = []
    assert qemu.kvm_works(tmp_path / "vmlinuz", tmp_path, said.append) is False
    assert said == ["KVM: /dev/kvm is not usable: VMs run under QEMU's emulation (TCG)"]


def test_accelerator_flags() -> None:
    assert qemu.accel_args(True) == ["-accel", "kvm"]
    assert qemu.accel_args(False) == ["-accel", "tcg,tb-size=256"]


def test_a_spec_needs_another_kernel_when_a_pattern_misses_the_controller_s(
    tmp_path: Path,
) -> None:
    running = os.uname().release
    spec = tmp_path / "spec.yml"
    body = "name: k\nbaseline: loopback\naxes: {{mode: [loopback], size: [64], proto: [tcp]{}}}\n"
    spec.write_text(body.format(""))
    assert needs_other_kernel(spec) is False
    spec.write_text(body.format(f', kernel: ["{running}"]'))
    assert needs_other_kernel(spec) is False
    spec.write_text(body.format(f', kernel: ["{running}", "5.10.*"]'))
    assert needs_other_kernel(spec) is True
