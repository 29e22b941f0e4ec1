"""What makes a root file system a bootable Vagrant box for libvirt (steps 2-5 of
`orchestrator.lab.box`): the guest's configuration, a raw disk with an MBR and an ext4 file
system written straight into it, one QEMU boot that installs GRUB from inside, the box file.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path

from orchestrator.errors import NetmatrixError
from orchestrator.lab import qemu
from orchestrator.lab.tools import Say, one_line

DISK_GIB = 8
PARTITION_START = 2048  # sectors: 1 MiB, room for GRUB's core image behind the MBR
SECTOR = 512
FIRST_BOOT_TIMEOUT = 1200.0
SETUP_INIT = "/usr/local/sbin/netmatrix-first-boot"
GRUB_OK = "netmatrix-box: grub installed"


def run(command: Sequence[str], timeout: float | None = None) -> str:
    try:
        result = subprocess.run(
            list(command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise NetmatrixError(f"box build: `{command[0]}` did not finish in {timeout:g}s") from None
    if result.returncode != 0:
        detail = one_line(result.stderr or result.stdout or "no output")
        raise NetmatrixError(f"box build: `{' '.join(command[:3])}…` failed: {detail}")
    return result.stdout


def configure_guest(root: Path, fs_uuid: str, default: str, public_key: str) -> None:
    """What makes the tree a Vagrant box: see the module docstring, step 2."""
    etc = root / "etc"
    (etc / "fstab").write_text(f"UUID={fs_uuid} / ext4 errors=remount-ro 0 1\n")
    (etc / "hostname").write_text("netmatrix\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n127.0.1.1 netmatrix\n")
    # net.ifnames=0 (below) names the NICs eth0 (Vagrant's management network, DHCP) and
    # eth1 (the lab network, which Vagrant configures with its static address).
    (etc / "network" / "interfaces").write_text(
        "source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n\n"
        "auto eth0\niface eth0 inet dhcp\n"
    )
    advanced = f"gnulinux-advanced-{fs_uuid}>gnulinux-{default}-advanced-{fs_uuid}"
    (etc / "default" / "grub").write_text(
        f'GRUB_DEFAULT="{advanced}"\nGRUB_TIMEOUT=1\nGRUB_DISTRIBUTOR=Debian\n'
        'GRUB_CMDLINE_LINUX_DEFAULT=""\n'
        'GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8 net.ifnames=0 biosdevname=0"\n'
        'GRUB_TERMINAL="console serial"\nGRUB_SERIAL_COMMAND="serial --speed=115200"\n'
        "GRUB_DISABLE_OS_PROBER=true\n"
    )
    # Every VM must get its own machine id (DHCP leases follow it) and its own host keys.
    (etc / "machine-id").write_text("")
    (root / "var" / "lib" / "dbus" / "machine-id").unlink(missing_ok=True)
    for key in (etc / "ssh").glob("ssh_host_*"):
        key.unlink()
    unit = etc / "systemd" / "system" / "netmatrix-host-keys.service"
    unit.write_text(
        "[Unit]\nDescription=SSH host keys of this machine, made at its first boot\n"
        "Before=ssh.service\nConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n\n"
        "[Service]\nType=oneshot\nExecStart=/usr/bin/ssh-keygen -A\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    wants = etc / "systemd" / "system" / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / unit.name).unlink(missing_ok=True)
    (wants / unit.name).symlink_to(f"/etc/systemd/system/{unit.name}")
    (etc / "ssh" / "sshd_config.d").mkdir(exist_ok=True)
    (etc / "ssh" / "sshd_config.d" / "netmatrix.conf").write_text(
        "UseDNS no\nPasswordAuthentication no\n"
    )
    run(["chroot", str(root), "useradd", "-m", "-s", "/bin/bash", "vagrant"])
    ssh_dir = root / "home" / "vagrant" / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "authorized_keys").write_text(public_key + "\n")
    (ssh_dir / "authorized_keys").chmod(0o600)
    run(["chroot", str(root), "chown", "-R", "vagrant:vagrant", "/home/vagrant/.ssh"])
    sudoers = etc / "sudoers.d" / "vagrant"
    sudoers.write_text("vagrant ALL=(ALL) NOPASSWD:ALL\nDefaults:vagrant !requiretty\n")
    sudoers.chmod(0o440)
    setup = root / SETUP_INIT.lstrip("/")
    setup.parent.mkdir(parents=True, exist_ok=True)
    setup.write_text(
        "#!/bin/sh\n# Run once as init by the box build: GRUB, from inside, then power off.\n"
        "mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev\n"
        "mount -o remount,rw /\n"
        f"if grub-install /dev/vda && update-grub; then echo '{GRUB_OK}'; fi\n"
        f"rm -f {SETUP_INIT}; sync; mount -o remount,ro /; sync\n"
        "echo o > /proc/sysrq-trigger; sleep 30\n"
    )
    setup.chmod(0o755)


def copy_boot_files(root: Path, release: str, home: Path) -> tuple[Path, Path]:
    copies = []
    for name in (f"vmlinuz-{release}", f"initrd.img-{release}"):
        source = root / "boot" / name
        if not source.exists():
            raise NetmatrixError(f"box build: /boot/{name} missing after installing the kernel")
        target = home / ("vmlinuz" if name.startswith("vmlinuz") else "initrd")
        shutil.copyfile(source, target)
        copies.append(target)
    return copies[0], copies[1]


def mbr(total_sectors: int) -> bytes:
    """A master boot record with one bootable Linux partition from PARTITION_START to the end.

    CHS fields hold the "use LBA" values; GRUB later writes its boot code into the first 440
    bytes and leaves the table alone.
    """
    count = total_sectors - PARTITION_START
    lba = b"\xfe\xff\xff"
    entry = struct.pack("<B3sB3sII", 0x80, lba, 0x83, lba, PARTITION_START, count)
    return bytes(446) + entry + bytes(48) + b"\x55\xaa"


def make_disk(mke2fs: str, root: Path, disk: Path) -> None:
    size = DISK_GIB * 1024**3
    with disk.open("wb") as out:
        out.truncate(size)
        out.write(mbr(size // SECTOR))
    fs_uuid = (root / "etc" / "fstab").read_text().split()[0].removeprefix("UUID=")
    offset = PARTITION_START * SECTOR
    blocks = (size - offset) // 4096
    run(
        [
            mke2fs,
            "-q",
            "-F",
            "-t",
            "ext4",
            "-b",
            "4096",
            "-L",
            "netmatrix",
            "-U",
            fs_uuid,
            "-d",
            str(root),
            "-E",
            f"offset={offset}",
            str(disk),
            str(blocks),
        ]
    )


def first_boot(
    emulator: str, disk: Path, vmlinuz: Path, initrd: Path, cache: Path, log: Path, say: Say
) -> None:
    started = time.monotonic()
    command = [
        emulator,
        *qemu.accel_args(qemu.kvm_works(vmlinuz, cache, say)),
        "-m",
        "1024",
        "-smp",
        "2",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        f"file:{log}",
        "-no-reboot",
        "-nic",
        "none",
        "-drive",
        f"file={disk},format=raw,if=virtio",
        "-kernel",
        str(vmlinuz),
        "-initrd",
        str(initrd),
        "-append",
        f"root=/dev/vda1 rw init={SETUP_INIT} console=ttyS0 panic=-1",
    ]
    run(command, timeout=FIRST_BOOT_TIMEOUT)
    console = log.read_text(errors="replace") if log.exists() else ""
    if GRUB_OK not in console:
        tail = " | ".join(line.strip() for line in console.splitlines()[-5:] if line.strip())
        raise NetmatrixError(f"box build: GRUB was not installed at first boot: {tail}")
    say(f"  GRUB installed ({time.monotonic() - started:.0f}s)")


def pack(work: Path, image: Path, box_file: Path) -> None:
    (work / "metadata.json").write_text(
        json.dumps({"provider": "libvirt", "format": "qcow2", "virtual_size": DISK_GIB})
    )
    (work / "Vagrantfile").write_text(
        "# The netmatrix lab box; the lab's own Vagrantfile configures the machines.\n"
        'Vagrant.configure("2") { |config| }\n'
    )
    with tarfile.open(box_file, "w") as box:
        for path in (work / "metadata.json", work / "Vagrantfile", image):
            box.add(path, arcname=path.name)
