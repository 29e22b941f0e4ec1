"""Kernel switching: the grub entry, and the install → reboot → wait → verify sequence."""

from pathlib import Path

import pytest

from orchestrator.connection import UnreachableError
from orchestrator.errors import NetmatrixError
from orchestrator.experiment.kernels import (
    KernelSwitch,
    boot_marker,
    grub_entry,
    kernel_switch,
    reboot_and_verify,
    switch_kernel,
)
from orchestrator.host import Host
from tests.fakes import FakeConnection

GRUB_CFG = (Path(__file__).parent / "data" / "grub-debian12.cfg").read_text()
UUID = "3e1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
PACKAGE = "linux-image-5.10.0-26-amd64"
LAB1 = Host("lab1")
MARKER_COMMAND = r"^cat /proc/sys/kernel/random/boot_id /proc/1/stat$"


def proc_answer(boot_id: str, start: int) -> tuple[int, str]:
    """What `cat boot_id /proc/1/stat` prints; PID 1's start time is field 22."""
    stat = f"1 (systemd) S 0 1 1 0 -1 4194560 100 200 10 5 30 40 1 2 20 0 1 0 {start} 1000 300"
    return 0, f"{boot_id}\n{stat}\n"


def old_host() -> FakeConnection:
    return (
        FakeConnection(host=LAB1)
        .on(r"apt-get install", (0, "Setting up linux-image-5.10.0-26-amd64 ...\n"))
        .on(r"^cat /boot/grub/grub.cfg$", (0, GRUB_CFG))
        .on(r"^grub-reboot ", (0, ""))
        .on(MARKER_COMMAND, proc_answer("aaaa-1111", 42))
        .on(r"^shutdown -r now$", (-1, ""))
    )


def new_host(release: str = "5.10.0-26-amd64", boot_id: str = "bbbb-2222") -> FakeConnection:
    return (
        FakeConnection(host=LAB1)
        .on(MARKER_COMMAND, proc_answer(boot_id, 17))
        .on(r"^uname -r$", (0, f"{release}\n"))
    )


def test_grub_entry_inside_the_submenu_skips_recovery() -> None:
    assert grub_entry(GRUB_CFG, "5.10.0-26-amd64") == (
        f"gnulinux-advanced-{UUID}>gnulinux-5.10.0-26-amd64-advanced-{UUID}"
    )


def test_grub_entry_of_the_newest_kernel_is_the_top_level_one() -> None:
    assert grub_entry(GRUB_CFG, "6.1.0-13-amd64") == f"gnulinux-simple-{UUID}"


def test_grub_entry_by_title_without_ids_and_with_separate_boot() -> None:
    cfg = (
        'menuentry "Old kernel" {\n  linux /vmlinuz-5.15.0-1-generic root=/dev/sda2\n}\n'
        "menuentry 'Other' {\n  linux /vmlinuz-5.15.0-10-generic\n}\n"
    )
    assert grub_entry(cfg, "5.15.0-1-generic") == "Old kernel"
    assert grub_entry(cfg, "5.15.0-1") is None


def test_switch_runs_the_whole_sequence_in_order() -> None:
    old, new = old_host(), new_host()
    returned = switch_kernel(
        old, PACKAGE, "5.10.0-26-amd64", reconnect=lambda: new, timeout=5, poll=0
    )
    assert returned is new
    assert old.calls == [
        (f"dpkg-query -W '-f=${{Status}}' {PACKAGE}", False),
        (f"env DEBIAN_FRONTEND=noninteractive apt-get install -y {PACKAGE}", True),
        ("cat /boot/grub/grub.cfg", True),
        (f"grub-reboot 'gnulinux-advanced-{UUID}>gnulinux-5.10.0-26-amd64-advanced-{UUID}'", True),
        ("cat /proc/sys/kernel/random/boot_id /proc/1/stat", False),
        ("shutdown -r now", True),
    ]
    assert new.commands == ["cat /proc/sys/kernel/random/boot_id /proc/1/stat", "uname -r"]


def test_an_installed_kernel_is_not_installed_again() -> None:
    """Lab boxes carry their kernels: apt-get in an emulated VM would take minutes."""
    old, new = old_host().on(r"^dpkg-query ", (0, "install ok installed")), new_host()
    rules = old.rules
    old.rules = [rules[-1], *rules[:-1]]  # before the apt-get rule
    switch_kernel(old, PACKAGE, "5.10.0-26-amd64", reconnect=lambda: new, timeout=5, poll=0)
    assert not [text for text in old.commands if "apt-get" in text]
    assert "shutdown -r now" in old.commands


def test_failed_install_stops_before_any_reboot() -> None:
    old = FakeConnection(host=LAB1).on(
        r"apt-get install", (100, "", "E: Unable to locate package linux-image-5.10.0-26-amd64\n")
    )
    with pytest.raises(NetmatrixError) as caught:
        switch_kernel(old, PACKAGE, "5.10.*", reconnect=new_host, timeout=5, poll=0)
    assert str(caught.value) == (
        "kernel switch on lab1: `env DEBIAN_FRONTEND=noninteractive apt-get install -y "
        f"{PACKAGE}` exited 100: E: Unable to locate package {PACKAGE}"
    )
    assert "shutdown -r now" not in old.commands and not old.commands[-1].startswith("grub")


def test_missing_grub_entry_stops_before_any_reboot() -> None:
    old = old_host()
    with pytest.raises(NetmatrixError) as caught:
        switch_kernel(old, "linux-image-6.9.0-1-amd64", "6.9.*", reconnect=new_host, timeout=5)
    assert str(caught.value) == (
        "kernel switch on lab1: no menu entry in /boot/grub/grub.cfg boots 6.9.0-1-amd64"
    )
    assert not any("shutdown" in command for command in old.commands)


def test_host_that_never_comes_back_times_out() -> None:
    def unreachable() -> FakeConnection:
        raise UnreachableError("lab1: connection refused")

    with pytest.raises(NetmatrixError) as caught:
        switch_kernel(old_host(), PACKAGE, "5.10.*", reconnect=unreachable, timeout=0.05, poll=0.01)
    assert str(caught.value) == (
        "kernel switch on lab1: not back within 0.05s after reboot (lab1: connection refused)"
    )


def test_host_that_never_went_down_times_out() -> None:
    same_boot = FakeConnection(host=LAB1).on(MARKER_COMMAND, proc_answer("aaaa-1111", 42))
    with pytest.raises(NetmatrixError, match=r"not back within 0\.05s .*has not gone down yet"):
        reboot_and_verify(
            old_host(), "5.10.*", reconnect=lambda: same_boot, timeout=0.05, poll=0.01
        )


def test_wrong_kernel_after_reboot_is_an_error() -> None:
    with pytest.raises(NetmatrixError) as caught:
        reboot_and_verify(
            old_host(), "6.1.*", reconnect=lambda: new_host("6.18.44"), timeout=5, poll=0
        )
    assert (
        str(caught.value) == "kernel switch on lab1: expected 6.1.*, running 6.18.44 after reboot"
    )


def test_reboot_waits_through_failed_connections() -> None:
    attempts = iter([UnreachableError("lab1: refused"), UnreachableError("lab1: refused")])

    def reconnect() -> FakeConnection:
        error = next(attempts, None)
        if error:
            raise error
        return new_host()

    conn = reboot_and_verify(old_host(), "5.10.*", reconnect=reconnect, timeout=5, poll=0)
    assert conn.commands[-1] == "uname -r"


def test_a_refused_reboot_is_reported_at_once() -> None:
    old = FakeConnection(host=LAB1).on(MARKER_COMMAND, proc_answer("aaaa-1111", 42))
    old.on(r"^shutdown", (1, "", "System has not been booted with systemd as init system (PID 1)."))
    with pytest.raises(NetmatrixError, match=r"`shutdown -r now` exited 1: System has not been"):
        reboot_and_verify(old, "5.10.*", reconnect=new_host, timeout=5, poll=0)


def test_a_reboot_that_cuts_the_session_is_fine() -> None:
    old = FakeConnection(host=LAB1).on(MARKER_COMMAND, proc_answer("aaaa-1111", 42))

    def cut_session(text: str) -> tuple[int, str, str]:
        raise UnreachableError("lab1: connection closed by the reboot")

    old.on(r"^shutdown", cut_session)
    conn = reboot_and_verify(old, "5.10.*", reconnect=new_host, timeout=5, poll=0)
    assert conn.commands[-1] == "uname -r"


def test_restart_from_outside_counts_as_reboot() -> None:
    """A container restarted from outside keeps the boot_id; PID 1's start time changes."""
    old = FakeConnection(host=LAB1).on(MARKER_COMMAND, proc_answer("same-boot", 42))
    restarted: list[str] = []
    conn = reboot_and_verify(
        old,
        "6.18.*",
        reconnect=lambda: new_host("6.18.44", boot_id="same-boot"),
        timeout=5,
        poll=0,
        reboot=lambda conn: restarted.append(conn.host.name),
    )
    assert restarted == ["lab1"]
    assert "shutdown -r now" not in old.commands
    assert conn.commands[-1] == "uname -r"


def test_boot_marker_reads_boot_id_and_pid1_start() -> None:
    conn = FakeConnection(host=LAB1).on(MARKER_COMMAND, proc_answer("abc", 99))
    assert boot_marker(conn) == "abc/99"
    broken = FakeConnection(host=LAB1).on(MARKER_COMMAND, (0, "abc\n"))
    with pytest.raises(NetmatrixError, match="cannot read the boot marker"):
        boot_marker(broken)


def test_kernel_switch_is_needed_only_off_the_running_kernel() -> None:
    host = Host("vm1", {"kernels": [PACKAGE, "linux-image-unsigned-6.8.0-45-generic"]})
    assert kernel_switch(host, "5.10.0-26-amd64", "5.10.0-26-amd64") is None
    assert kernel_switch(host, "6.18.44", "6.8.0-45-generic") == KernelSwitch(
        "vm1", "linux-image-unsigned-6.8.0-45-generic", "6.8.0-45-generic"
    )
    with pytest.raises(NetmatrixError, match=r"vm1: kernel 6\.9\.0 is neither running"):
        kernel_switch(host, "6.18.44", "6.9.0")


def test_kernels_host_var_must_be_a_list_of_strings() -> None:
    with pytest.raises(NetmatrixError, match="lab1: host var kernels must be a list"):
        kernel_switch(Host("lab1", {"kernels": "linux-image-6.1.0-13-amd64"}), "6.18.44", "6.1")
