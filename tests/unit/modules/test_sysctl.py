"""sysctl: live value via sysctl -w, persisted in /etc/sysctl.d."""

import pytest

from orchestrator.modules.base import ModuleArgError
from orchestrator.modules.sysctl import DEFAULT_FILE
from tests.fakes import FakeConnection, FakeFilesystem
from tests.unit.modules.helpers import argv_of, run_module


@pytest.fixture
def host():
    """A host whose kernel keeps sysctl values; `sysctl -w` changes them."""
    values = {"net.ipv4.ip_forward": "0", "net.ipv4.tcp_rmem": "4096\t131072\t6291456"}
    conn = FakeConnection()

    def sysctl(text):
        argv = text.split()
        if argv[1] == "-n":
            name = argv[2]
            if name not in values:
                return 255, "", f"sysctl: cannot stat /proc/sys/{name}: No such file or directory"
            return 0, values[name] + "\n", ""
        name, value = text.split(" ", 2)[2].strip("'").split("=", 1)
        values[name] = value
        return 0, f"{name} = {value}\n", ""

    conn.on(r"^sysctl ", sysctl)
    FakeFilesystem(conn).install()
    conn.values = values
    return conn


def test_sets_and_persists_then_idempotent(host):
    result = run_module("sysctl", host, {"name": "net.ipv4.ip_forward", "value": 1}, become=True)
    assert result.changed
    assert host.values["net.ipv4.ip_forward"] == "1"
    assert host.files[DEFAULT_FILE] == b"net.ipv4.ip_forward = 1\n"
    assert argv_of(host, "sysctl")[-1] == ["sysctl", "-w", "net.ipv4.ip_forward=1"]
    again = run_module("sysctl", host, {"name": "net.ipv4.ip_forward", "value": "1"})
    assert not again.changed


def test_bool_value_is_one_or_zero(host):
    run_module("sysctl", host, {"name": "net.ipv4.ip_forward", "value": True})
    assert host.values["net.ipv4.ip_forward"] == "1"


def test_whitespace_in_values_is_normalised(host):
    args = {"name": "net.ipv4.tcp_rmem", "value": "4096 131072 6291456"}
    run_module("sysctl", host, args)
    assert all(argv[1] == "-n" for argv in argv_of(host, "sysctl"))  # no sysctl -w
    assert host.files[DEFAULT_FILE] == b"net.ipv4.tcp_rmem = 4096 131072 6291456\n"


def test_existing_file_lines_are_kept(host):
    host.files["/etc/sysctl.d/90-lab.conf"] = b"# lab\nvm.swappiness = 10\nnet.ipv4.ip_forward=0\n"
    args = {
        "name": "net.ipv4.ip_forward",
        "value": "1",
        "sysctl_file": "/etc/sysctl.d/90-lab.conf",
    }
    run_module("sysctl", host, args)
    assert host.files["/etc/sysctl.d/90-lab.conf"] == (
        b"# lab\nvm.swappiness = 10\nnet.ipv4.ip_forward = 1\n"
    )


def test_check_mode_changes_nothing(host):
    result = run_module("sysctl", host, {"name": "net.ipv4.ip_forward", "value": 1}, check=True)
    assert result.changed and "would change" in result.msg
    assert host.values["net.ipv4.ip_forward"] == "0"
    assert DEFAULT_FILE not in host.files
    assert all(argv[1] == "-n" for argv in argv_of(host, "sysctl"))


def test_unknown_key_fails(host):
    result = run_module("sysctl", host, {"name": "net.nope", "value": 1})
    assert result.failed and "unknown key net.nope" in result.msg


def test_absent_removes_the_line_only(host):
    host.files[DEFAULT_FILE] = b"net.ipv4.ip_forward = 1\nvm.x = 2\n"
    result = run_module("sysctl", host, {"name": "net.ipv4.ip_forward", "state": "absent"})
    assert result.changed and host.files[DEFAULT_FILE] == b"vm.x = 2\n"


def test_reload_false_only_persists(host):
    args = {"name": "net.ipv4.ip_forward", "value": 1, "reload": False}
    assert run_module("sysctl", host, args).changed
    assert host.values["net.ipv4.ip_forward"] == "0"


@pytest.mark.parametrize("name", ["-a", "net.x; reboot", "$(touch /tmp/canary)"])
def test_names_are_checked(host, name):
    with pytest.raises(ModuleArgError, match="not a kernel parameter name"):
        run_module("sysctl", host, {"name": name, "value": 1})


def test_value_is_required_for_present(host):
    with pytest.raises(ModuleArgError, match="value"):
        run_module("sysctl", host, {"name": "net.ipv4.ip_forward"})
