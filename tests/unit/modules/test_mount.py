"""mount: decided from /proc/mounts."""

import pytest

from orchestrator.modules.base import ModuleArgError
from tests.fakes import FakeConnection
from tests.unit.modules.helpers import argv_of, run_module

PROC_MOUNTS = """sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
/dev/sda1 /mnt/my\\040disk ext4 rw 0 0
"""
WITH_TRACEFS = PROC_MOUNTS + "tracefs /sys/kernel/tracing tracefs rw,nosuid,nodev 0 0\n"

TRACEFS = {"path": "/sys/kernel/tracing", "fstype": "tracefs", "state": "mounted"}


def host(mounts: str) -> FakeConnection:
    return (
        FakeConnection()
        .on(r"^cat /proc/mounts$", (0, mounts))
        .on(r"^mkdir ", (0, ""))
        .on(r"^mount ", (0, ""))
        .on(r"^umount ", (0, ""))
    )


def test_mounts_tracefs_when_missing():
    conn = host(PROC_MOUNTS)
    result = run_module("mount", conn, TRACEFS, become=True)
    assert result.changed
    assert argv_of(conn, "mount") == [
        ["mount", "-t", "tracefs", "--", "tracefs", "/sys/kernel/tracing"]
    ]


def test_already_mounted():
    conn = host(WITH_TRACEFS)
    result = run_module("mount", conn, {**TRACEFS, "path": "/sys/kernel/tracing/"})
    assert not result.changed and "already mounted" in result.msg
    assert not argv_of(conn, "mount")


def test_escaped_mount_points_are_understood():
    conn = host(PROC_MOUNTS)
    args = {"path": "/mnt/my disk", "state": "unmounted"}
    assert run_module("mount", conn, args).changed
    assert argv_of(conn, "umount") == [["umount", "--", "/mnt/my disk"]]


def test_mounted_with_another_type_fails():
    conn = host(PROC_MOUNTS)
    result = run_module("mount", conn, {"path": "/proc", "fstype": "tmpfs", "state": "mounted"})
    assert result.failed and "already mounted as proc" in result.msg


def test_options_and_source():
    conn = host(PROC_MOUNTS)
    args = {
        "path": "/mnt/t",
        "src": "none",
        "fstype": "tmpfs",
        "opts": "size=1m",
        "state": "mounted",
    }
    run_module("mount", conn, args)
    assert argv_of(conn, "mount") == [
        ["mount", "-t", "tmpfs", "-o", "size=1m", "--", "none", "/mnt/t"]
    ]


def test_check_mode():
    conn = host(PROC_MOUNTS)
    result = run_module("mount", conn, TRACEFS, check=True)
    assert result.changed and "would be mounted" in result.msg
    assert conn.commands == ["cat /proc/mounts"]


def test_unmounted_when_not_mounted():
    conn = host(PROC_MOUNTS)
    result = run_module("mount", conn, {"path": "/sys/kernel/tracing", "state": "unmounted"})
    assert not result.changed


def test_mount_failure():
    conn = FakeConnection().on(r"^cat", (0, "")).on(r"^mkdir", (0, ""))
    conn.on(r"^mount", (32, "", "mount: /sys/kernel/tracing: permission denied.\n"))
    result = run_module("mount", conn, TRACEFS)
    assert result.failed and "permission denied" in result.msg


def test_fstype_required_for_mounted():
    with pytest.raises(ModuleArgError, match="fstype"):
        run_module("mount", host(""), {"path": "/x", "state": "mounted"})
