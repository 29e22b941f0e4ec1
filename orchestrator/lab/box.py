"""The libvirt lab box, built from Debian packages on the controller and cached by content.

No registry and no Vagrant Cloud: the box is made from the debootstrap root file system that
the Docker node image uses too (`node_image.rootfs_tarball`), in five steps:

1. extract it into a scratch directory and, in a chroot, `apt-get install` the kernels, systemd,
   openssh-server, GRUB, Docker, perf and ifupdown (lab boxes carry their kernels: installing
   one inside an emulated VM takes about ten minutes), then load the traffic image into the
   box's Docker with the box's own dockerd, run in the chroot (unpacking its layers inside an
   emulated VM takes minutes; here, seconds), so provisioning finds it in place;
2. write the guest's configuration (fstab, network, the vagrant user and key, GRUB's default
   entry, host keys made at first boot so that no two VMs share them);
3. make a raw disk: an MBR with one partition, and an ext4 file system written straight into
   it at the partition's offset from the directory (`mke2fs -d -E offset=`: no loop device,
   no mount);
4. boot it once with QEMU's direct kernel boot, with a one-shot init that runs
   `grub-install /dev/vda` and `update-grub` inside (partitions of a loop device cannot be
   scanned here, so GRUB cannot be installed from outside) and powers off;
5. convert the disk to qcow2 and `vagrant box add` it as `netmatrix/bookworm-<digest>`.

The digest covers everything the box is made of, so an unchanged box is never rebuilt and a
changed recipe never reuses an old one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import struct
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import NetmatrixError
from orchestrator.lab import node_image, qemu
from orchestrator.lab.tools import Say, one_line, require, run_tool

BOX_PREFIX = "netmatrix/bookworm"
# Generic, real-time and cloud 6.1: three kernels of one release, one reboot apart.
DEFAULT_KERNELS = ("linux-image-amd64", "linux-image-rt-amd64", "linux-image-cloud-amd64")
PACKAGES = (
    "systemd-sysv",
    "udev",
    "dbus",
    "kmod",
    "initramfs-tools",
    "openssh-server",
    "grub-pc",
    "ifupdown",
    "isc-dhcp-client",
    "docker.io",
    "linux-perf",
    "iproute2",
    "iptables",
    "sudo",
    "python3",
    "procps",
)
KERNEL_PACKAGE = re.compile(r"linux-image-[a-z0-9][a-z0-9+.-]*")
DISK_GIB = 8
PARTITION_START = 2048  # sectors: 1 MiB, room for GRUB's core image behind the MBR
SECTOR = 512
INSTALL_TIMEOUT = 1800.0
FIRST_BOOT_TIMEOUT = 1200.0
SETUP_INIT = "/usr/local/sbin/netmatrix-first-boot"
GRUB_OK = "netmatrix-box: grub installed"
GRUB_DEBCONF = "grub-pc grub-pc/install_devices multiselect "
PROGRESS_EVERY = 40  # packages set up between progress lines
RECIPE_VERSION = "1"  # bump when the steps below change what a box holds


@dataclass(frozen=True)
class Box:
    """A built box: its Vagrant name, the kernels it carries and its default kernel."""

    name: str
    kernels: tuple[str, ...]  # linux-image-<release> packages installed
    default: str  # the release GRUB boots by default
    vmlinuz: Path  # the default kernel and its initrd, kept for QEMU probes
    initrd: Path


def check_kernels(kernels: Sequence[str]) -> tuple[str, ...]:
    """The requested kernel packages, refused when one is not a Debian kernel package name."""
    if not kernels:
        raise NetmatrixError("--kernels: name at least one kernel package (linux-image-amd64)")
    for name in kernels:
        if not KERNEL_PACKAGE.fullmatch(name):
            raise NetmatrixError(
                f"--kernels: {name!r} is not a Debian kernel package name "
                "(like linux-image-amd64 or linux-image-6.1.0-28-rt-amd64)"
            )
    return tuple(dict.fromkeys(kernels))


def box_digest(kernels: Sequence[str], public_key: str, image: str) -> str:
    parts = [RECIPE_VERSION, node_image.rootfs_digest(), *kernels, "\0", *PACKAGES, public_key]
    return hashlib.sha256("\0".join([*parts, image]).encode()).hexdigest()


def ensure_box(
    cache: Path,
    kernels: Sequence[str] = DEFAULT_KERNELS,
    say: Say = print,
    *,
    image: str,
    image_tarball: Path,
) -> Box:
    """The box carrying `kernels` and the Docker image `image` (a `docker save` tarball),
    built and added to Vagrant unless it is there already."""
    kernels = check_kernels(kernels)
    tools = _require_tools()
    public_key = node_image.vagrant_public_key()
    digest = box_digest(kernels, public_key, image)
    name = f"{BOX_PREFIX}-{digest[:12]}"
    home = cache / "boxes" / digest[:12]
    recorded = home / "box.json"
    if recorded.exists() and _box_added(tools.vagrant, name):
        say(f"box {name} is up to date (cached in {home})")
        return _read_box(recorded, home)
    started = time.monotonic()
    say(f"building box {name}: kernels {', '.join(kernels)}")
    tarball = node_image.rootfs_tarball(cache, say)
    home.mkdir(parents=True, exist_ok=True)
    try:
        box = _build(tools, cache, name, kernels, public_key, tarball, image_tarball, say)
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)  # a failed build leaves nothing behind
        raise
    recorded.write_text(
        json.dumps({"name": name, "kernels": list(box.kernels), "default": box.default}, indent=2)
    )
    say(f"box {name} ready in {time.monotonic() - started:.0f}s")
    return box


def _build(
    tools: _Tools,
    cache: Path,
    name: str,
    kernels: Sequence[str],
    public_key: str,
    tarball: Path,
    image: Path,
    say: Say,
) -> Box:
    """Steps 1-5 of the module docstring, in a scratch directory beside the box's files."""
    home = cache / "boxes" / name.rpartition("-")[2]
    with tempfile.TemporaryDirectory(dir=home, prefix=".build-") as scratch:
        work = Path(scratch)
        root = work / "root"
        _step(say, "extracting the root file system", lambda: _extract(tarball, root))
        installed = _install_packages(root, kernels, say, image)
        default = _default_release(root, kernels[0])
        fs_uuid = str(uuid.uuid4())
        _configure_guest(root, fs_uuid, default, public_key)
        vmlinuz, initrd = _copy_boot_files(root, default, home)
        disk = work / "disk.raw"
        _step(say, "writing the disk image", lambda: _make_disk(tools, root, disk))
        shutil.rmtree(root)
        say("booting the disk once to install GRUB (under emulation about two minutes)")
        _first_boot(tools, disk, vmlinuz, initrd, cache, work / "first-boot.log", say)
        qcow2 = work / "box.img"
        _step(
            say,
            "converting the disk to qcow2",
            lambda: _run([tools.qemu_img, "convert", "-O", "qcow2", str(disk), str(qcow2)]),
        )
        disk.unlink()
        box_file = work / "netmatrix.box"
        _step(say, "packing the box", lambda: _pack(work, qcow2, box_file))
        qcow2.unlink()
        _step(
            say,
            f"vagrant box add {name}",
            lambda: _run([tools.vagrant, "box", "add", "--force", "--name", name, str(box_file)]),
        )
    return Box(name, installed, default, vmlinuz, initrd)


@dataclass(frozen=True)
class _Tools:
    vagrant: str
    qemu_img: str
    qemu: str
    mke2fs: str


def _require_tools() -> _Tools:
    hint = "apt-get install qemu-system-x86 qemu-utils"
    return _Tools(
        vagrant=require("vagrant", "install Vagrant (apt-get install vagrant vagrant-libvirt)"),
        qemu_img=require("qemu-img", f"the box is converted with it ({hint})"),
        qemu=require(qemu.QEMU, f"the box boots once to install GRUB ({hint})"),
        mke2fs=require("mke2fs", "the box's file system is made with it (apt-get e2fsprogs)"),
    )


def _box_added(vagrant: str, name: str) -> bool:
    listed = run_tool([vagrant, "box", "list", "--machine-readable"])
    return any(f",box-name,{name}" in line for line in listed.stdout.splitlines())


def _read_box(recorded: Path, home: Path) -> Box:
    data = json.loads(recorded.read_text())
    return Box(
        data["name"], tuple(data["kernels"]), data["default"], home / "vmlinuz", home / "initrd"
    )


def _step(say: Say, what: str, action) -> None:
    started = time.monotonic()
    say(f"{what}…")
    action()
    say(f"  {what}: done ({time.monotonic() - started:.0f}s)")


def _run(command: Sequence[str], timeout: float | None = None) -> str:
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


def _extract(tarball: Path, root: Path) -> None:
    root.mkdir()
    _run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-xf", str(tarball)])


@contextlib.contextmanager
def _chroot_mounts(root: Path) -> Iterator[None]:
    """The tree bind-mounted on itself with /proc, /sys and /dev inside, and no service
    started by a package."""
    mounted = []
    try:
        # The tree as a mount point of its own: dockerd's layer unpacking remounts "/".
        _run(["mount", "--bind", str(root), str(root)])
        mounted.append(root)
        for kind, target in (("proc", "proc"), ("sysfs", "sys"), ("devtmpfs", "dev")):
            _run(["mount", "-t", kind, kind, str(root / target)])
            mounted.append(root / target)
        _run(["mount", "-t", "devpts", "devpts", str(root / "dev" / "pts")])
        mounted.append(root / "dev" / "pts")
        policy = root / "usr" / "sbin" / "policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
        yield
    finally:
        (root / "usr" / "sbin" / "policy-rc.d").unlink(missing_ok=True)
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", str(target)], check=False)


def _install_packages(root: Path, kernels: Sequence[str], say: Say, image: Path) -> tuple[str, ...]:
    """apt-get install in the chroot, with a line every PROGRESS_EVERY packages, then the
    image preloaded; returns the linux-image-<release> packages installed. An unknown kernel
    package is named."""
    env = ["env", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"]
    with _chroot_mounts(root):
        chroot = ["chroot", str(root), *env]
        _step(say, "apt-get update in the box", lambda: _run([*chroot, "apt-get", "update", "-q"]))
        for kernel in kernels:
            shown = subprocess.run(
                [*chroot, "apt-cache", "show", "--no-all-versions", kernel],
                capture_output=True,
                text=True,
                check=False,
            )
            if shown.returncode != 0 or not shown.stdout.strip():
                raise NetmatrixError(
                    f"--kernels: Debian {node_image.SUITE} has no package {kernel!r} "
                    "(apt-cache search linux-image lists them)"
                )
        # GRUB goes onto the disk at first boot; installing the package must not try it.
        _run([*chroot, "sh", "-c", f"echo '{GRUB_DEBCONF}' | debconf-set-selections"])
        say(f"apt-get install in the box: {len(kernels)} kernels and {len(PACKAGES)} packages")
        install = [
            *chroot,
            "apt-get",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "-o",
            "Dpkg::Options::=--force-confold",
            *kernels,
            *PACKAGES,
        ]
        _stream(install, say, INSTALL_TIMEOUT)
        _run([*chroot, "apt-get", "clean"])
        _step(
            say,
            "loading the traffic image into the box's Docker",
            lambda: _preload(root, image),
        )
        listed = _run(
            ["chroot", str(root), "dpkg-query", "-W", "-f=${Package} ${Status}\\n", "linux-image-*"]
        )
    return tuple(
        fields[0]
        for fields in (line.split() for line in listed.splitlines())
        if fields and fields[-1] == "installed" and re.fullmatch(r"linux-image-\d.*", fields[0])
    )


def _preload(root: Path, tarball: Path) -> None:
    """`docker load` into the box's /var/lib/docker with the box's dockerd (no network, no
    iptables: it only unpacks layers), stopped again before the disk is made."""
    cgroup = root / "sys" / "fs" / "cgroup"
    _run(["mount", "-t", "cgroup2", "cgroup2", str(cgroup)])
    socket = "unix:///run/netmatrix-box-docker.sock"
    copy = root / "tmp" / "image.tar"
    shutil.copyfile(tarball, copy)
    daemon = subprocess.Popen(
        [
            "chroot", str(root), "dockerd", "-H", socket, "--data-root", "/var/lib/docker",
            "--exec-root", "/run/netmatrix-box-docker",
            "--pidfile", "/run/netmatrix-box-docker.pid",
            "--bridge=none", "--iptables=false", "--ip6tables=false",
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    docker = ["chroot", str(root), "docker", "-H", socket]
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([*docker, "info"], capture_output=True).returncode != 0:
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise NetmatrixError("box build: the box's dockerd did not start in its chroot")
            time.sleep(1)
        _run([*docker, "load", "-i", "/tmp/image.tar"], timeout=600)
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        copy.unlink(missing_ok=True)
        subprocess.run(["umount", "-l", str(cgroup)], check=False)


def _stream(command: Sequence[str], say: Say, timeout: float) -> None:
    """Run `command`, saying how many packages it has set up; an error carries its last line."""
    started = time.monotonic()
    done = 0
    last = "no output"
    with subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout or ():
            last = line.strip() or last
            if line.startswith("Setting up "):
                done += 1
                if done % PROGRESS_EVERY == 0:
                    say(f"  {done} packages set up ({time.monotonic() - started:.0f}s)")
            if time.monotonic() - started > timeout:
                process.kill()
                raise NetmatrixError(f"box build: apt-get install took over {timeout:g}s")
    if process.returncode != 0:
        raise NetmatrixError(f"box build: apt-get install failed: {one_line(last)}")
    say(f"  {done} packages set up ({time.monotonic() - started:.0f}s)")


def _default_release(root: Path, first_kernel: str) -> str:
    """The release the first requested kernel package boots (a metapackage depends on it)."""
    match = re.fullmatch(r"linux-image-(\d.*)", first_kernel)
    if match:
        return match[1]
    depends = _run(["chroot", str(root), "dpkg-query", "-W", "-f=${Depends}", first_kernel])
    found = re.search(r"linux-image-(\d[a-z0-9+.-]*)", depends)
    if found is None:
        raise NetmatrixError(f"box build: {first_kernel} depends on no kernel ({depends!r})")
    return found[1]


def _configure_guest(root: Path, fs_uuid: str, default: str, public_key: str) -> None:
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
    _run(["chroot", str(root), "useradd", "-m", "-s", "/bin/bash", "vagrant"])
    ssh_dir = root / "home" / "vagrant" / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "authorized_keys").write_text(public_key + "\n")
    (ssh_dir / "authorized_keys").chmod(0o600)
    _run(["chroot", str(root), "chown", "-R", "vagrant:vagrant", "/home/vagrant/.ssh"])
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


def _copy_boot_files(root: Path, release: str, home: Path) -> tuple[Path, Path]:
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


def _make_disk(tools: _Tools, root: Path, disk: Path) -> None:
    size = DISK_GIB * 1024**3
    with disk.open("wb") as out:
        out.truncate(size)
        out.write(mbr(size // SECTOR))
    fs_uuid = (root / "etc" / "fstab").read_text().split()[0].removeprefix("UUID=")
    offset = PARTITION_START * SECTOR
    blocks = (size - offset) // 4096
    _run(
        [
            tools.mke2fs,
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


def _first_boot(
    tools: _Tools, disk: Path, vmlinuz: Path, initrd: Path, cache: Path, log: Path, say: Say
) -> None:
    started = time.monotonic()
    command = [
        tools.qemu,
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
    _run(command, timeout=FIRST_BOOT_TIMEOUT)
    console = log.read_text(errors="replace") if log.exists() else ""
    if GRUB_OK not in console:
        tail = " | ".join(line.strip() for line in console.splitlines()[-5:] if line.strip())
        raise NetmatrixError(f"box build: GRUB was not installed at first boot: {tail}")
    say(f"  GRUB installed ({time.monotonic() - started:.0f}s)")


def _pack(work: Path, image: Path, box_file: Path) -> None:
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
