"""reboot: issue it detached, reconnect until the boot id changes, then verify."""

from orchestrator.connection import UnreachableError
from tests.fakes import FakeClock, FakeConnection
from tests.unit.modules.helpers import argv_of, run_module

OLD, NEW = "1111-aaaa", "2222-bbbb"


def test_reboots_reconnects_and_verifies():
    before = FakeConnection().on(r"^cat /proc/sys/kernel/random/boot_id", (0, OLD + "\n"))
    before.on(r"^setsid ", (0, ""))
    after = FakeConnection().on(r"boot_id", (0, NEW + "\n")).on(r"^whoami", (0, "root\n"))
    attempts = iter([UnreachableError("refused"), UnreachableError("refused"), after])

    def reconnect():
        outcome = next(attempts)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    clock = FakeClock()
    result = run_module("reboot", before, {}, become=True, clock=clock, reconnector=reconnect)
    assert result.changed and not result.failed
    assert result.as_dict()["rebooted"] is True
    (command,) = argv_of(before, "setsid")
    assert command[:3] == ["setsid", "sh", "-c"] and "shutdown -r now" in command[3]
    assert before.calls[-1][1] is True  # issued with sudo
    assert after.commands == ["cat /proc/sys/kernel/random/boot_id", "whoami"]
    assert clock.sleeps == [5.0, 5.0, 5.0]


def test_same_boot_id_until_timeout_fails():
    conn = FakeConnection().on(r"boot_id", (0, OLD + "\n")).on(r"^setsid ", (0, ""))
    clock = FakeClock()
    args = {"reboot_timeout": 20}
    result = run_module("reboot", conn, args, clock=clock, reconnector=lambda: conn)
    assert result.failed and "new boot id" in result.msg
    assert clock.now >= 20


def test_dropped_connection_while_issuing_is_expected():
    conn = FakeConnection().on(r"boot_id", (0, OLD + "\n"))
    conn.on(r"^setsid", lambda _: (_ for _ in ()).throw(UnreachableError("connection reset")))
    after = FakeConnection().on(r"boot_id", (0, NEW + "\n")).on(r"^whoami", (0, "root\n"))
    result = run_module("reboot", conn, {}, reconnector=lambda: after)
    assert result.changed and not result.failed


def test_failed_test_command_after_reboot():
    conn = FakeConnection().on(r"boot_id", (0, OLD + "\n")).on(r"^setsid", (0, ""))
    after = FakeConnection().on(r"boot_id", (0, NEW + "\n")).on(r"^docker info", (1, "", "no"))
    args = {"test_command": "docker info"}
    result = run_module("reboot", conn, args, reconnector=lambda: after)
    assert result.failed and "test command failed" in result.msg


def test_check_mode_does_not_reboot():
    conn = FakeConnection()
    result = run_module("reboot", conn, {}, check=True)
    assert result.changed and conn.commands == []
