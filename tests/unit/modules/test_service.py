"""service: systemd, sysvinit, and the plain-daemon fallback with a pid file."""

import pytest

from orchestrator.modules.base import ModuleArgError
from tests.fakes import FakeClock, FakeConnection
from tests.unit.modules.helpers import argv_of, run_module

CANARY = "$(touch /tmp/canary)"


def systemd(active: bool, enabled: str = "enabled") -> FakeConnection:
    return (
        FakeConnection()
        .on(r"^cat /proc/1/comm", (0, "systemd\n"))
        .on(r"^systemctl is-active", (0 if active else 3, ""))
        .on(r"^systemctl is-enabled", (0, f"{enabled}\n"))
        .on(r"^systemctl ", (0, ""))
    )


def test_systemd_running_is_left_alone():
    conn = systemd(active=True)
    result = run_module("service", conn, {"name": "docker", "state": "started"})
    assert not result.changed and result.msg == "docker already started (systemd)"
    assert ["systemctl", "start", "docker"] not in argv_of(conn, "systemctl")


def test_systemd_start():
    conn = systemd(active=False)
    result = run_module("service", conn, {"name": "docker", "state": "started"}, become=True)
    assert result.changed and result.as_dict()["manager"] == "systemd"
    assert ["systemctl", "start", "docker"] in argv_of(conn, "systemctl")


def test_systemd_start_in_check_mode_changes_nothing():
    conn = systemd(active=False)
    result = run_module("service", conn, {"name": "docker", "state": "started"}, check=True)
    assert result.changed and "would be started" in result.msg
    assert ["systemctl", "start", "docker"] not in argv_of(conn, "systemctl")


def test_systemd_start_failure():
    conn = FakeConnection().on(r"^cat /proc/1/comm", (0, "systemd\n"))
    conn.on(r"^systemctl is-active", (3, "")).on(r"^systemctl start", (1, "", "Job failed.\n"))
    result = run_module("service", conn, {"name": "docker", "state": "started"})
    assert result.failed and "Job failed." in result.msg


def test_systemd_stop_restart_and_enable():
    conn = systemd(active=True, enabled="disabled")
    result = run_module("service", conn, {"name": "docker", "state": "stopped", "enabled": True})
    assert result.changed and "stopped and enabled" in result.msg
    assert ["systemctl", "stop", "docker"] in argv_of(conn, "systemctl")
    assert ["systemctl", "enable", "docker"] in argv_of(conn, "systemctl")
    restarted = run_module("service", systemd(active=True), {"name": "d", "state": "restarted"})
    assert restarted.changed  # restarts always act, as in Ansible


def test_systemd_enabled_already():
    conn = systemd(active=True, enabled="enabled")
    result = run_module("service", conn, {"name": "docker", "enabled": True})
    assert not result.changed


def sysvinit(status_rcs: list[int], start_rc: int = 0, start_err: str = "") -> FakeConnection:
    statuses = iter(status_rcs)
    conn = FakeConnection().on(r"^cat /proc/1/comm", (0, "sh\n"))
    conn.on(r"^test -x /etc/init.d/docker$", (0, ""))
    conn.on(r"^service docker status", lambda _: (next(statuses), "", ""))
    conn.on(r"^service docker start", (start_rc, "", start_err))
    return conn


def test_sysvinit_start():
    conn = sysvinit([3, 0])
    result = run_module("service", conn, {"name": "docker", "state": "started"})
    assert result.changed and result.as_dict()["manager"] == "sysvinit"
    assert ["service", "docker", "start"] in argv_of(conn, "service")


def daemon_rules(conn: FakeConnection, alive_after_start: bool = True) -> FakeConnection:
    pidfile_alive = iter([False, False, alive_after_start])  # before, after init, after start
    conn.on(r"^sh -c 'pid=\$\(cat", lambda _: (0 if next(pidfile_alive, True) else 1, "", ""))
    conn.on(r"^sh -c 'log=", (0, "4242\n"))
    conn.on(r"^kill -0 4242$", (0 if alive_after_start else 1, ""))
    conn.on(r"^tail ", (0, "failed to start daemon: pid file found\n"))
    conn.on(r"^sh -c 'printf", (0, ""))
    return conn


def test_broken_init_script_falls_back_to_the_daemon():
    # Debian's /etc/init.d/docker on a host without systemd: `ulimit -n 1048576` fails.
    conn = daemon_rules(
        sysvinit(
            [3, 3], start_rc=1, start_err="ulimit: error setting limit (Operation not permitted)"
        )
    )
    args = {
        "name": "docker",
        "state": "started",
        "daemon": "/usr/sbin/dockerd",
        "daemon_args": ["--data-root", CANARY],
        "pidfile": "/var/run/docker.pid",
        "logfile": "/var/log/dockerd.log",
    }
    result = run_module("service", conn, args, become=True)
    assert result.changed and not result.failed
    assert result.as_dict()["manager"] == "daemon"
    assert "ulimit" in result.as_dict()["warnings"][0]
    (launch,) = [a for a in argv_of(conn, "sh") if a[2].startswith("log=")]
    # Every value is a positional parameter of a fixed script: nothing from data is shell text.
    assert launch[3:] == ["sh", "/var/log/dockerd.log", "/usr/sbin/dockerd", "--data-root", CANARY]
    assert CANARY not in launch[2]
    (write_pid,) = [a for a in argv_of(conn, "sh") if a[2].startswith("printf")]
    assert write_pid[-2:] == ["4242", "/var/run/docker.pid"]


def test_broken_init_script_without_daemon_fails_with_its_message():
    conn = sysvinit([3, 3], start_rc=1, start_err="ulimit: error setting limit\n")
    result = run_module("service", conn, {"name": "docker", "state": "started"})
    assert result.failed and "ulimit: error setting limit" in result.msg


def test_plain_daemon_already_running():
    conn = FakeConnection().on(r"^cat /proc/1/comm", (0, "sh\n")).on(r"^test -x", (1, ""))
    conn.on(r"^sh -c 'pid=", (0, ""))
    result = run_module("service", conn, {"name": "dockerd", "state": "started", "daemon": "/d"})
    assert not result.changed and "(daemon)" in result.msg


def test_plain_daemon_that_dies_at_once_fails_with_its_log():
    conn = FakeConnection().on(r"^cat /proc/1/comm", (0, "sh\n")).on(r"^test -x", (1, ""))
    daemon_rules(conn, alive_after_start=False)
    args = {"name": "dockerd", "state": "started", "daemon": "/usr/sbin/dockerd"}
    result = run_module("service", conn, args)
    assert result.failed and "pid file found" in result.msg


def test_plain_daemon_stop_waits_for_the_process_to_go():
    alive = iter([True, False])
    conn = FakeConnection().on(r"^cat /proc/1/comm", (0, "sh\n")).on(r"^test -x", (1, ""))
    conn.on(r"^sh -c 'pid=", (0, "")).on(r"^cat -- /run/d.pid", (0, "77\n"))
    conn.on(r"^kill -TERM 77", (0, "")).on(
        r"^kill -0 77", lambda _: (0 if next(alive) else 1, "", "")
    )
    conn.on(r"^rm ", (0, ""))
    clock = FakeClock()
    args = {"name": "d", "state": "stopped", "daemon": "/d", "pidfile": "/run/d.pid"}
    result = run_module("service", conn, args, clock=clock)
    assert result.changed and clock.sleeps == [0.5]
    assert ["rm", "-f", "--", "/run/d.pid"] in argv_of(conn, "rm")


def test_enabled_means_nothing_to_a_plain_daemon():
    conn = FakeConnection().on(r"^cat /proc/1/comm", (0, "sh\n")).on(r"^test -x", (1, ""))
    conn.on(r"^sh -c 'pid=", (0, ""))
    args = {"name": "d", "state": "started", "enabled": True, "daemon": "/d"}
    result = run_module("service", conn, args)
    assert not result.changed and "ignored" in result.as_dict()["warnings"][0]


def test_no_way_to_start_fails_clearly():
    conn = FakeConnection().on(r"^cat /proc/1/comm", (0, "sh\n")).on(r"^test -x", (1, ""))
    conn.on(r"^sh -c 'pid=", (1, ""))
    result = run_module("service", conn, {"name": "docker", "state": "started"})
    assert result.failed and "give `daemon:`" in result.msg


@pytest.mark.parametrize("name", ["../../bin/sh", "-x", "a b", CANARY])
def test_service_names_are_checked(name):
    with pytest.raises(ModuleArgError, match="not a service name"):
        run_module("service", FakeConnection(), {"name": name, "state": "started"})
