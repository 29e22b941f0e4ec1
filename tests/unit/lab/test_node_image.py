import sys
from pathlib import Path

import pytest
from docker.errors import APIError, ImageNotFound

from orchestrator.errors import NetmatrixError
from orchestrator.lab import node_image
from orchestrator.lab.node_image import DIGEST_LABEL, DebootstrapProgress, node_digest

from .conftest import FIXTURES, fixture_text

DEBOOTSTRAP = fixture_text("debootstrap-bookworm-minbase.txt")  # recorded here
KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkT vagrant insecure public key"


def test_progress_from_recorded_debootstrap_output():
    progress = DebootstrapProgress(started=0.0)
    messages = [m for line in DEBOOTSTRAP.splitlines() for m in progress.feed(line, 30.0)]
    messages.append(progress.summary(45.0))
    stage_ends = [m for m in messages if not m.endswith("…")]
    # debootstrap unpacks and configures the required packages, then the base ones.
    assert stage_ends == [
        "  downloaded 158 packages (30s)",
        "  extracted 88 packages (30s)",
        "  unpacked 89 packages (30s)",
        "  configured 90 packages (30s)",
        "  unpacked 155 packages (30s)",
        "  configured 158 packages (45s)",
    ]
    assert "  downloaded 150 packages…" in messages
    assert len(messages) < 20  # a few lines, not one per package


def test_debootstrap_run_reports_progress(monkeypatch):
    said: list[str] = []
    node_image._run_with_progress(
        ["cat", str(FIXTURES / "debootstrap-bookworm-minbase.txt")], said.append
    )
    assert said[-1].startswith("  configured 158 packages (")


def test_debootstrap_failure_carries_its_last_line():
    command = [sys.executable, "-c", "print('E: Failed getting release file'); exit(1)"]
    with pytest.raises(NetmatrixError, match=r"debootstrap failed \(E: Failed getting release"):
        node_image._run_with_progress(command, print)


def test_node_digest_follows_the_key_and_is_stable():
    assert node_digest(KEY) == node_digest(KEY)
    assert node_digest(KEY) != node_digest(KEY + "x")


def test_vagrant_public_key_is_found_or_named(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(node_image, "VAGRANT_PUBLIC_KEYS", (str(tmp_path / "*/keys/vagrant.pub"),))
    with pytest.raises(NetmatrixError, match=r"insecure public key .* not found: install vagrant"):
        node_image.vagrant_public_key()
    (tmp_path / "vagrant-2.3.4" / "keys").mkdir(parents=True)
    (tmp_path / "vagrant-2.3.4" / "keys" / "vagrant.pub").write_text(KEY + "\n")
    assert node_image.vagrant_public_key() == KEY


class FakeImage:
    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels


class FakeImages:
    """Images by name; records pulls and builds."""

    def __init__(self, images: dict[str, FakeImage], registry: bool) -> None:
        self.images, self.registry = images, registry
        self.built: list[dict] = []

    def get(self, name: str) -> FakeImage:
        if name not in self.images:
            raise ImageNotFound(name)
        return self.images[name]

    def pull(self, repository: str, tag: str) -> None:
        if not self.registry:
            raise APIError("dial tcp: lookup registry-1.docker.io: no such host")

    def build(self, **options) -> None:
        self.built.append(options)


class FakeClient:
    def __init__(self, images: dict[str, FakeImage], registry: bool = False) -> None:
        self.images = FakeImages(images, registry)


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setattr(node_image, "vagrant_public_key", lambda: KEY)


def test_up_to_date_image_is_not_rebuilt(key, tmp_path: Path):
    current = FakeImage({DIGEST_LABEL: node_digest(KEY)})
    client = FakeClient({"netmatrix/node": current})
    said: list[str] = []
    node_image.ensure_node_image(client, "netmatrix/node", tmp_path, said.append)
    assert client.images.built == []
    assert said == [f"node image netmatrix/node is up to date ({node_digest(KEY)[:12]})"]


def test_registry_base_is_used_when_a_registry_answers(key, tmp_path: Path):
    client = FakeClient({"netmatrix/node": FakeImage({DIGEST_LABEL: "old"})}, registry=True)
    node_image.ensure_node_image(client, "netmatrix/node", tmp_path, print)
    (build,) = client.images.built
    assert build["buildargs"]["BASE"] == "debian:bookworm"
    assert build["labels"] == {DIGEST_LABEL: node_digest(KEY)}
    assert build["buildargs"]["VAGRANT_PUBKEY"] == KEY
    assert "openssh-server" in build["buildargs"]["PACKAGES"].split()


def test_imported_base_is_used_without_a_registry(key, tmp_path: Path):
    base = f"netmatrix/node-base:{node_image.rootfs_digest()[:12]}"
    client = FakeClient({base: FakeImage({})})
    node_image.ensure_node_image(client, "netmatrix/node", tmp_path, print)
    assert client.images.built[0]["buildargs"]["BASE"] == base
