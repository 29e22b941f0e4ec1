"""apt: dpkg-query decides what changes; apt-get runs non-interactively."""

import pytest

from orchestrator.modules.base import ModuleArgError
from tests.fakes import FakeConnection
from tests.unit.modules.helpers import argv_of, ran, run_module

INSTALLED = "docker.io\tinstall ok installed\t20.10.24+dfsg1-1+b3\n"
NOT_INSTALLED = "docker.io\tunknown ok not-installed\t\n"
POLICY = """docker.io:
  Installed: 20.10.24+dfsg1-1+b3
  Candidate: 20.10.24+dfsg1-1+deb12u1
  Version table:
"""


def host(dpkg: str, rc: int = 0) -> FakeConnection:
    return (
        FakeConnection()
        .on(r"^dpkg-query", (rc, dpkg))
        .on(r"^apt-cache policy", (0, POLICY))
        .on(r"apt-get", (0, "Setting up docker.io\n"))
    )


def test_present_when_installed_changes_nothing_and_says_why():
    conn = host(INSTALLED)
    result = run_module("apt", conn, {"name": "docker.io"})
    assert not result.changed and not result.failed
    assert result.msg == "docker.io 20.10.24+dfsg1-1+b3 already installed"
    assert not ran(conn, "apt-get")


def test_present_installs_what_is_missing_noninteractively():
    conn = host(NOT_INSTALLED)
    result = run_module("apt", conn, {"name": ["docker.io"], "state": "present"}, become=True)
    assert result.changed and not result.failed
    (install,) = argv_of(conn, "env")
    assert install[:2] == ["env", "DEBIAN_FRONTEND=noninteractive"]
    assert install[2:5] == ["apt-get", "-y", "-q"]
    assert install[-2:] == ["install", "docker.io"]
    assert "Dpkg::Options::=--force-confold" in install


def test_unknown_package_is_queried_without_failing_the_query():
    # dpkg-query exits 1 for names it never heard of; that just means "not installed".
    conn = host("", rc=1)
    result = run_module("apt", conn, {"name": "linux-perf"})
    assert result.changed
    assert argv_of(conn, "env")[0][-1] == "linux-perf"


def test_check_mode_reports_and_installs_nothing():
    conn = host(NOT_INSTALLED)
    result = run_module("apt", conn, {"name": "docker.io"}, check=True)
    assert result.changed and "would install docker.io" in result.msg
    assert not ran(conn, "apt-get")


def test_install_failure_is_reported():
    conn = FakeConnection().on(r"^dpkg-query", (1, "")).on(r"apt-get", (100, "", "E: boom\n"))
    result = run_module("apt", conn, {"name": "nope"})
    assert result.failed and result.rc == 100 and "E: boom" in result.stderr


def test_absent_removes_only_installed_packages():
    conn = host(INSTALLED)
    result = run_module("apt", conn, {"name": ["docker.io", "podman"], "state": "absent"})
    assert result.changed
    (remove,) = argv_of(conn, "env")
    assert remove[-2:] == ["remove", "docker.io"]


def test_absent_when_not_installed():
    conn = host(NOT_INSTALLED)
    result = run_module("apt", conn, {"name": "docker.io", "state": "absent"})
    assert not result.changed and "not installed" in result.msg


def test_latest_upgrades_when_the_candidate_is_newer():
    conn = host(INSTALLED)
    result = run_module("apt", conn, {"name": "docker.io", "state": "latest"})
    assert result.changed
    assert argv_of(conn, "env")[0][-1] == "docker.io"


def test_latest_when_up_to_date():
    current = POLICY.replace("+deb12u1", "+b3")
    conn = FakeConnection().on(r"^dpkg-query", (0, INSTALLED)).on(r"^apt-cache", (0, current))
    result = run_module("apt", conn, {"name": "docker.io", "state": "latest"})
    assert not result.changed and "already installed" in result.msg
    assert not ran(conn, "apt-get")


def test_pinned_version_mismatch_installs():
    conn = host(INSTALLED)
    result = run_module("apt", conn, {"name": "docker.io=20.10.5"})
    assert result.changed
    assert argv_of(conn, "env")[0][-1] == "docker.io=20.10.5"


def test_update_cache_alone_is_not_a_change():
    conn = host("")
    result = run_module("apt", conn, {"update_cache": True})
    assert not result.changed and result.as_dict()["cache_updated"] is True
    assert argv_of(conn, "env")[0][-1] == "update"


def test_update_cache_is_skipped_in_check_mode():
    conn = host(INSTALLED)
    run_module("apt", conn, {"update_cache": True, "name": "docker.io"}, check=True)
    assert not ran(conn, "apt-get")


@pytest.mark.parametrize("name", ["-oAPT::x=1", "$(touch /tmp/canary)", "Foo", "a b"])
def test_names_that_are_not_packages_never_reach_apt(name):
    conn = host("")
    with pytest.raises(ModuleArgError, match="not a Debian package name"):
        run_module("apt", conn, {"name": name})
    assert conn.commands == []


def test_bad_state_is_rejected():
    with pytest.raises(ModuleArgError, match="must be one of"):
        run_module("apt", host(""), {"name": "x", "state": "installed"})
