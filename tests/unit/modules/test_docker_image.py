"""docker_image: present when inspect finds it; else build, load a controller tarball, or pull."""

import pytest

from orchestrator.modules.base import ModuleArgError
from tests.fakes import FakeConnection
from tests.unit.modules.helpers import argv_of, run_module

IMAGE_ID = "sha256:5d0da3dc976460b72c77d94c8a1ad043720b0416bfc16c52c45d4847e53fadb6"


def host(present: bool) -> FakeConnection:
    inspect = (0, IMAGE_ID + "\n") if present else (1, "", "Error: No such image: netmatrix")
    return (
        FakeConnection()
        .on(r"^docker image inspect", inspect)
        .on(r"^docker (build|pull|load|image rm)", (0, "done\n"))
        .on(r"^rm ", (0, ""))
    )


def test_present_image_is_left_alone():
    conn = host(present=True)
    result = run_module(
        "docker_image", conn, {"name": "netmatrix/traffic", "build": {"path": "/x"}}
    )
    assert not result.changed and "already present" in result.msg
    assert argv_of(conn, "docker") == [
        ["docker", "image", "inspect", "--format", "{{.Id}}", "netmatrix/traffic:latest"]
    ]


def test_build_on_the_host():
    conn = host(present=False)
    args = {
        "name": "netmatrix/traffic",
        "tag": "1",
        "build": {"path": "/opt/app", "dockerfile": "Dockerfile", "args": {"V": "$(id)"}},
    }
    result = run_module("docker_image", conn, args, become=True)
    assert result.changed
    builds = [a for a in argv_of(conn, "docker") if a[1] == "build"]
    assert builds == [
        ["docker", "build", "-t", "netmatrix/traffic:1", "-f", "Dockerfile",
         "--build-arg", "V=$(id)", "--", "/opt/app"]
    ]  # fmt: skip


def test_load_a_tarball_from_the_controller(tmp_path):
    (tmp_path / "traffic.tar").write_bytes(b"tar bytes")
    inspects = iter([(1, "", "No such image"), (0, IMAGE_ID, "")])
    conn = FakeConnection().on(r"^docker image inspect", lambda _: next(inspects))
    conn.on(r"^docker load", (0, "Loaded image: netmatrix/traffic:latest\n")).on(r"^rm ", (0, ""))
    args = {"name": "netmatrix/traffic", "source": "load", "load_path": "traffic.tar"}
    result = run_module("docker_image", conn, args, base_dir=tmp_path)
    assert result.changed and not result.failed
    (staged,) = [path for path in conn.files if path.startswith("/tmp/.netmatrix-")]
    assert conn.files[staged] == b"tar bytes"
    assert ["docker", "load", "-i", staged] in argv_of(conn, "docker")
    assert ["rm", "-f", "--", staged] in argv_of(conn, "rm")


def test_load_of_a_tarball_without_the_image_fails(tmp_path):
    (tmp_path / "other.tar").write_bytes(b"x")
    conn = host(present=False)
    args = {"name": "netmatrix/traffic", "load_path": str(tmp_path / "other.tar")}
    result = run_module("docker_image", conn, args)
    assert result.failed and "does not contain netmatrix/traffic:latest" in result.msg


def test_pull_by_default():
    conn = host(present=False)
    assert run_module("docker_image", conn, {"name": "debian:12"}).changed
    assert ["docker", "pull", "--", "debian:12"] in argv_of(conn, "docker")


def test_check_mode_builds_nothing():
    conn = host(present=False)
    result = run_module("docker_image", conn, {"name": "x", "build": {"path": "/x"}}, check=True)
    assert result.changed and "would build" in result.msg
    assert [a[1] for a in argv_of(conn, "docker")] == ["image"]


def test_absent():
    conn = host(present=True)
    assert run_module("docker_image", conn, {"name": "x", "state": "absent"}).changed
    assert ["docker", "image", "rm", "--", "x:latest"] in argv_of(conn, "docker")
    assert not run_module("docker_image", host(False), {"name": "x", "state": "absent"}).changed


def test_build_failure():
    conn = host(present=False)
    conn.rules.insert(0, (r"^docker build", (1, "", "failed to solve: no Dockerfile\n")))
    result = run_module("docker_image", conn, {"name": "x", "build": {"path": "/x"}})
    assert result.failed and "no Dockerfile" in result.stderr


def test_unknown_build_option():
    with pytest.raises(ModuleArgError, match="unknown build options: network"):
        run_module("docker_image", host(False), {"name": "x", "build": {"path": "/", "network": 1}})
