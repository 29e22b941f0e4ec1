"""wait_for: probes on the host, waits with an injectable clock."""

from tests.fakes import FakeClock, FakeConnection
from tests.unit.modules.helpers import argv_of, run_module


def answers(*rcs: int):
    sequence = iter(rcs)
    return lambda _: (next(sequence), "", "")


def test_port_comes_up_after_a_few_tries():
    conn = FakeConnection().on(r"^timeout ", answers(1, 1, 0))
    clock = FakeClock()
    result = run_module("wait_for", conn, {"port": 2375, "timeout": 30}, clock=clock)
    assert not result.failed and not result.changed
    assert clock.sleeps == [1.0, 1.0] and result.as_dict()["elapsed"] == 2.0
    argv = argv_of(conn, "timeout")[0]
    # host and port are positional parameters of a fixed script
    assert argv[:4] == ["timeout", "5", "bash", "-c"]
    assert argv[-2:] == ["127.0.0.1", "2375"]


def test_timeout_fails():
    conn = FakeConnection().on(r"^timeout ", (1, ""))
    clock = FakeClock()
    result = run_module("wait_for", conn, {"port": 80, "timeout": 3, "sleep": 1}, clock=clock)
    assert result.failed and "Timeout when waiting for 127.0.0.1:80" in result.msg
    assert clock.now >= 3


def test_stopped_waits_for_the_port_to_close():
    conn = FakeConnection().on(r"^timeout ", answers(0, 1))
    result = run_module("wait_for", conn, {"port": 80, "state": "stopped"})
    assert not result.failed


def test_path_present_and_absent():
    conn = FakeConnection().on(r"^test -e /run/docker.sock$", answers(1, 0))
    assert not run_module("wait_for", conn, {"path": "/run/docker.sock"}).failed
    gone = FakeConnection().on(r"^test -e", (1, ""))
    assert not run_module("wait_for", gone, {"path": "/x", "state": "absent"}).failed


def test_delay_is_honoured():
    conn = FakeConnection().on(r"^test -e", (0, ""))
    clock = FakeClock()
    run_module("wait_for", conn, {"path": "/x", "delay": 2}, clock=clock)
    assert clock.sleeps == [2]


def test_check_mode_probes_once_and_never_waits():
    conn = FakeConnection().on(r"^timeout ", (1, ""))
    clock = FakeClock()
    result = run_module("wait_for", conn, {"port": 80}, check=True, clock=clock)
    assert not result.failed and "would wait" in result.msg
    assert clock.sleeps == [] and len(conn.commands) == 1
