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
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import NetmatrixError
from orchestrator.lab import guest, node_image, qemu
from orchestrator.lab.guest import run
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
    "apparmor",  # the kernel enables AppArmor: without its parser dockerd cannot start a container
    "linux-perf",
    "iproute2",
    "iptables",
    "sudo",
    "python3",
    "procps",
)
KERNEL_PACKAGE = re.compile(r"linux-image-[a-z0-9][a-z0-9+.-]*")
INSTALL_TIMEOUT = 1800.0
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
    _forget_older_boxes(tools.vagrant, cache, name, say)
    return box


def _forget_older_boxes(vagrant: str, cache: Path, keep: str, say: Say) -> None:
    """Remove other netmatrix boxes from Vagrant and the cache (1.8 GB each). libvirt's copy
    of an old box stays in its storage pool: VMs made from it may still use it as backing."""
    listed = run_tool([vagrant, "box", "list", "--machine-readable"]).stdout.splitlines()
    for line in listed:
        old = line.split(",")[-1]
        if ",box-name," in line and old.startswith(f"{BOX_PREFIX}-") and old != keep:
            run_tool([vagrant, "box", "remove", "--force", "--all", old])
            shutil.rmtree(cache / "boxes" / old.rpartition("-")[2], ignore_errors=True)
            say(f"removed the older box {old}")


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
        guest.configure_guest(root, fs_uuid, default, public_key)
        vmlinuz, initrd = guest.copy_boot_files(root, default, home)
        disk = work / "disk.raw"
        _step(say, "writing the disk image", lambda: guest.make_disk(tools.mke2fs, root, disk))
        shutil.rmtree(root)
        say("booting the disk once to install GRUB (under emulation about two minutes)")
        guest.first_boot(tools.qemu, disk, vmlinuz, initrd, cache, work / "first-boot.log", say)
        qcow2 = work / "box.img"
        _step(
            say,
            "converting the disk to qcow2",
            lambda: run([tools.qemu_img, "convert", "-O", "qcow2", str(disk), str(qcow2)]),
        )
        disk.unlink()
        box_file = work / "netmatrix.box"
        _step(say, "packing the box", lambda: guest.pack(work, qcow2, box_file))
        qcow2.unlink()
        _step(
            say,
            f"vagrant box add {name}",
            lambda: run([tools.vagrant, "box", "add", "--force", "--name", name, str(box_file)]),
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


def _extract(tarball: Path, root: Path) -> None:
    root.mkdir()
    run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-xf", str(tarball)])


@contextlib.contextmanager
def _chroot_mounts(root: Path) -> Iterator[None]:
    """The tree bind-mounted on itself with /proc, /sys and /dev inside, and no service
    started by a package."""
    mounted = []
    try:
        # The tree as a mount point of its own: dockerd's layer unpacking remounts "/".
        run(["mount", "--bind", str(root), str(root)])
        mounted.append(root)
        for kind, target in (("proc", "proc"), ("sysfs", "sys"), ("devtmpfs", "dev")):
            run(["mount", "-t", kind, kind, str(root / target)])
            mounted.append(root / target)
        run(["mount", "-t", "devpts", "devpts", str(root / "dev" / "pts")])
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
        _step(
            say,
            "apt-get update in the box",
            lambda: run([*chroot, "apt-get", "update", "-q"]),
        )
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
        run([*chroot, "sh", "-c", f"echo '{GRUB_DEBCONF}' | debconf-set-selections"])
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
        run([*chroot, "apt-get", "clean"])
        _step(
            say,
            "loading the traffic image into the box's Docker",
            lambda: _preload(root, image),
        )
        listed = run(
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
    run(["mount", "-t", "cgroup2", "cgroup2", str(cgroup)])
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
        run([*docker, "load", "-i", "/tmp/image.tar"], timeout=600)
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
    depends = run(["chroot", str(root), "dpkg-query", "-W", "-f=${Depends}", first_kernel])
    found = re.search(r"linux-image-(\d[a-z0-9+.-]*)", depends)
    if found is None:
        raise NetmatrixError(f"box build: {first_kernel} depends on no kernel ({depends!r})")
    return found[1]
