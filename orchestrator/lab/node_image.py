"""The Docker-provider node image, built without a registry and cached.

Two layers: a Debian base and the node (lab/node/Dockerfile: sshd, the vagrant user and key).
The base is the registry's debian:bookworm when a registry answers; otherwise `debootstrap`
builds a root file system (its tarball cached under the cache directory) that is imported with
the Docker SDK. The node image carries a label with the digest of everything it is built from,
so an up-to-date image is never rebuilt.
"""

from __future__ import annotations

import glob
import hashlib
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, ImageNotFound

from orchestrator.errors import NetmatrixError
from orchestrator.lab.tools import Say, one_line, require

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
REGISTRY_BASE = ("debian", SUITE)
IMPORTED_BASE = "netmatrix/node-base"
PACKAGES = (
    "openssh-server",
    "sudo",
    "python3",
    "iproute2",
    "iptables",
    "procps",
    "ca-certificates",
    "apt-transport-https",
    "gnupg",
)
CONTEXT = Path(__file__).resolve().parents[2] / "lab" / "node"
DIGEST_LABEL = "org.netmatrix.node-digest"
VAGRANT_PUBLIC_KEYS = (
    "/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub",
    "/usr/lib/ruby/vendor_ruby/vagrant*/keys/vagrant.pub",
    "/opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub",
)
# debootstrap reports each package it handles ("I: Unpacking libc6..."): verb -> stage.
STAGES = {
    "Retrieving": "downloaded",
    "Extracting": "extracted",
    "Unpacking": "unpacked",
    "Configuring": "configured",
}
PACKAGE_LINE = re.compile(rf"^I: ({'|'.join(STAGES)}) [a-z0-9]")  # not "Retrieving Packages"
PROGRESS_EVERY = 50  # packages


def vagrant_public_key() -> str:
    """Vagrant's insecure public key, as shipped with the installed Vagrant."""
    for pattern in VAGRANT_PUBLIC_KEYS:
        for path in sorted(glob.glob(pattern)):
            return Path(path).read_text().strip()
    raise NetmatrixError(
        "Vagrant's insecure public key (keys/vagrant.pub) not found: install vagrant "
        "(apt-get install vagrant)"
    )


def rootfs_digest() -> str:
    """What the debootstrap root file system depends on."""
    return _digest([SUITE, MIRROR, *PACKAGES])


def node_digest(public_key: str) -> str:
    """What the node image depends on: the base's inputs, the build context and the key."""
    context = [f"{path.name}\0{path.read_text()}" for path in sorted(CONTEXT.iterdir())]
    return _digest([rootfs_digest(), public_key, *context])


def ensure_node_image(
    client: docker.DockerClient, image: str, cache: Path, say: Say = print
) -> None:
    """Build `image` unless an image built from the same inputs is already there."""
    public_key = vagrant_public_key()
    digest = node_digest(public_key)
    try:
        if client.images.get(image).labels.get(DIGEST_LABEL) == digest:
            say(f"node image {image} is up to date ({digest[:12]})")
            return
    except ImageNotFound:
        pass
    base = registry_base(client) or imported_base(client, cache, say)
    say(f"building node image {image} from {base}")
    try:
        client.images.build(
            path=str(CONTEXT),
            tag=image,
            buildargs={"BASE": base, "PACKAGES": " ".join(PACKAGES), "VAGRANT_PUBKEY": public_key},
            labels={DIGEST_LABEL: digest},
            rm=True,
            forcerm=True,
        )
    except (BuildError, APIError) as error:
        raise NetmatrixError(f"building {image} failed: {one_line(str(error))}") from None


def registry_base(client: docker.DockerClient) -> str | None:
    """The registry's Debian image when a registry answers, else None."""
    repository, tag = REGISTRY_BASE
    try:
        client.images.pull(repository, tag=tag)
    except APIError:
        return None
    return f"{repository}:{tag}"


def imported_base(client: docker.DockerClient, cache: Path, say: Say = print) -> str:
    """The debootstrap base image, imported from the cached tarball (built when missing)."""
    digest = rootfs_digest()
    name = f"{IMPORTED_BASE}:{digest[:12]}"
    try:
        client.images.get(name)
        return name
    except ImageNotFound:
        pass
    tarball = rootfs_tarball(cache, say)
    say(f"importing {tarball} as {name}")
    client.api.import_image_from_file(str(tarball), repository=IMPORTED_BASE, tag=digest[:12])
    return name


def rootfs_tarball(cache: Path, say: Say = print) -> Path:
    """The cached debootstrap root file system (built when missing): the base of the Docker
    node image and of the libvirt box alike."""
    tarball = cache / f"debian-{SUITE}-{rootfs_digest()[:12]}.tar"
    if not tarball.exists():
        build_rootfs(tarball, say)
    return tarball


def build_rootfs(tarball: Path, say: Say = print) -> None:
    """debootstrap a minimal Debian with PACKAGES into `tarball` (written atomically)."""
    debootstrap = require("debootstrap", "install it (apt-get install debootstrap)")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix=".rootfs-") as scratch:
        root = Path(scratch) / "root"
        command = [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(root),
            MIRROR,
        ]
        say(f"debootstrap {SUITE} from {MIRROR} (one to two minutes)")
        _run_with_progress(command, say)
        partial = Path(scratch) / "rootfs.tar"
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), "."],
            check=True,
        )
        partial.replace(tarball)
    say(f"cached the root file system in {tarball}")


@dataclass
class DebootstrapProgress:
    """Turns debootstrap's output into a few progress lines: every PROGRESS_EVERY packages of a
    stage, and when it moves to another stage (it unpacks and configures in two rounds)."""

    started: float
    stage: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    def feed(self, line: str, now: float) -> list[str]:
        found = PACKAGE_LINE.match(line)
        if found is None:
            return []
        stage = STAGES[found.group(1)]
        messages = [self.summary(now)] if self.stage and stage != self.stage else []
        self.stage = stage
        self.counts[stage] = done = self.counts.get(stage, 0) + 1
        if done % PROGRESS_EVERY == 0:
            messages.append(f"  {stage} {done} packages…")
        return messages

    def summary(self, now: float) -> str:
        return f"  {self.stage} {self.counts[self.stage]} packages ({now - self.started:.0f}s)"


def _run_with_progress(command: list[str], say: Say) -> None:
    """Run debootstrap, saying how far it got; an error carries its last line."""
    progress = DebootstrapProgress(started=time.monotonic())
    last = "no output"
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout or ():
            last = line.strip() or last
            for message in progress.feed(line, time.monotonic()):
                say(message)
    if process.returncode != 0:
        raise NetmatrixError(
            f"debootstrap failed ({last}): check the network access to {MIRROR} and retry"
        )
    say(progress.summary(time.monotonic()))


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\0\0".join(parts).encode()).hexdigest()
