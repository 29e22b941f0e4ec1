import json
from pathlib import Path

import pytest

from orchestrator.lab.privileges import missing_capabilities, privileges_for

from .conftest import fixture_text

CONTROLLER = fixture_text("proc-status-controller-no-sys-resource.txt")  # recorded here
CONTAINER = fixture_text("proc-status-docker-default-caps.txt")  # recorded in a container
LAST_CAP = 40  # /proc/sys/kernel/cap_last_cap of the same kernel


def with_complete_bounding_set(status: str) -> str:
    """The recorded status as a root process with every capability would show it."""
    return status.replace("CapBnd:\t000001fffeffffff", "CapBnd:\t000001ffffffffff")


def test_complete_bounding_set_runs_privileged():
    granted = privileges_for(with_complete_bounding_set(CONTROLLER), LAST_CAP)
    assert granted.privileged
    assert granted.create_args == ()
    assert granted.describe() == "--privileged"


def test_missing_sys_resource_falls_back_to_explicit_capabilities():
    granted = privileges_for(CONTROLLER, LAST_CAP)
    assert not granted.privileged
    assert granted.missing == ("SYS_RESOURCE",)
    args = list(granted.create_args)
    assert args[:4] == ["--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE"]
    for option in ("seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"):
        assert args[args.index(option) - 1] == "--security-opt"
    assert "/sys/fs/cgroup:/sys/fs/cgroup:rw" in args
    assert "SYS_RESOURCE" in granted.describe()


def test_docker_default_bounding_set_lists_every_capability_docker_drops():
    missing = missing_capabilities(CONTAINER, LAST_CAP)
    assert {"SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "PERFMON", "BPF"} <= set(missing)
    assert "CHOWN" not in missing and "NET_RAW" not in missing
    assert len(missing) == LAST_CAP + 1 - bin(0xA80425FB).count("1")


def test_capabilities_newer_than_docker_knows_are_not_required():
    status = with_complete_bounding_set(CONTROLLER)
    assert missing_capabilities(status, last_cap=45) == ()


def test_status_without_capbnd_is_refused():
    with pytest.raises(ValueError, match="CapBnd"):
        missing_capabilities("Name:\tpython3\n", LAST_CAP)


def test_flags_are_written_where_the_vagrantfile_reads_them(tmp_path: Path):
    target = tmp_path / "dot" / "netmatrix-docker.json"
    privileges_for(CONTROLLER, LAST_CAP).write_for_vagrant(target)
    written = json.loads(target.read_text())
    assert written["privileged"] is False
    assert written["create_args"][:2] == ["--cap-add", "ALL"]
