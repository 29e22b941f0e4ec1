"""The traffic image (`app/Dockerfile`), built on the controller and shipped to lab hosts.

Lab hosts may have no registry, so the image is built here with the Docker SDK on the lab's
own base image, saved once to a tarball in the cache, and loaded on each host by the
`docker_image` module. Its tag is a hash of the files it is built from: when the traffic
generator changes, the tag changes, so provisioning loads the new image and runs never use a
stale one.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, ImageNotFound

from orchestrator.connection import Connection
from orchestrator.errors import NetmatrixError
from orchestrator.experiment.hosttools import APP_DIR, APP_FILES

REPOSITORY = "netmatrix/traffic"
_INPUTS = ("Dockerfile", *APP_FILES)
# What the docker CLI says when no daemon answers on its socket.
_DAEMON_DOWN = re.compile(r"Cannot connect to the Docker daemon|Is the docker daemon running")


def traffic_tag() -> str:
    """A content hash of the Dockerfile and the traffic generator's files."""
    digest = hashlib.sha256()
    for name in _INPUTS:
        digest.update(name.encode() + b"\0" + (APP_DIR / name).read_bytes())
    return digest.hexdigest()[:12]


def traffic_image() -> str:
    """The image reference runs use: `netmatrix/traffic:<content hash>`."""
    return f"{REPOSITORY}:{traffic_tag()}"


def ensure_traffic_tarball(client: docker.DockerClient, base: str, cache: Path, say=print) -> Path:
    """A `docker save` tarball of the traffic image, built on `base` when not cached yet."""
    tarball = cache / f"traffic-{traffic_tag()}.tar"
    if tarball.exists():
        return tarball
    image = traffic_image()
    try:
        client.images.get(image)
    except ImageNotFound:
        say(f"building {image} on {base}")
        try:
            client.images.build(
                path=str(APP_DIR), tag=image, buildargs={"BASE": base}, rm=True, forcerm=True
            )
        except (BuildError, APIError) as error:
            raise NetmatrixError(f"building {image} failed: {error}") from None
    say(f"saving {image} to {tarball}")
    cache.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".partial")
    with partial.open("wb") as out:
        for chunk in client.images.get(image).save(named=True):
            out.write(chunk)
    partial.rename(tarball)
    return tarball


def require_traffic_image(conn: Connection) -> None:
    """Refuse to run container modes on a host that lacks this version of the image.

    A stopped daemon fails the same inspection; it is named as such, since "image missing"
    would send the user looking for the wrong fault.
    """
    image = traffic_image()
    name = conn.host.name
    found = conn.sudo(["docker", "image", "inspect", "--format", "{{.Id}}", image], timeout=30)
    if found.ok:
        return
    if _DAEMON_DOWN.search(found.stderr):
        raise NetmatrixError(
            f"{name}: the Docker daemon is not running: run invoke provision --hosts {name}"
        )
    raise NetmatrixError(
        f"{name}: traffic image {image} missing: run invoke provision --hosts {name}"
    )
