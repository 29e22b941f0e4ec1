"""Facts gathered over real sshd from 127.0.0.2 and 127.0.0.3 — both are this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.connection import UnreachableError, connect
from orchestrator.facts import NETDEV_TYPES, HostFacts, gather_facts, gather_hosts
from orchestrator.host import Host

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]


def local(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def default_nic() -> str | None:
    words = local("ip", "route", "show", "default").split()
    return words[words.index("dev") + 1] if "dev" in words else None


def kernel_answer(kind: str) -> tuple[bool, str | None]:
    """Ask the kernel directly (not through netmatrix) whether it accepts a link type."""
    name = f"nmit{os.getpid() % 100000}"
    parent = ["link", default_nic() or "lo"] if kind in ("macvlan", "ipvlan") else []
    extra = {
        "veth": ["peer", "name", f"{name}p"],
        "vxlan": ["id", "4243", "dstport", "4789"],
        "macvlan": ["mode", "bridge"],
        "ipvlan": ["mode", "l2"],
    }.get(kind, [])
    done = subprocess.run(
        ["ip", "link", "add", *parent, "name", name, "type", kind, *extra],
        capture_output=True,
        text=True,
    )
    subprocess.run(["ip", "link", "del", name], capture_output=True)
    return done.returncode == 0, (done.stderr.strip() or None) if done.returncode else None


def probe_links() -> list[str]:
    return [line for line in local("ip", "-o", "link", "show").splitlines() if ": nmp" in line]


@pytest.fixture(scope="module")
def gathered(sshd_hosts: tuple[Host, ...]) -> dict[str, HostFacts]:
    results = gather_hosts(sshd_hosts)  # both in parallel, on one kernel
    assert all(isinstance(value, HostFacts) for value in results.values()), results
    return results  # type: ignore[return-value]


def test_both_hosts_report_this_kernel_and_distro(gathered: dict[str, HostFacts]) -> None:
    assert set(gathered) == {"sshd1", "sshd2"}
    os_release = Path("/etc/os-release").read_text()
    for facts in gathered.values():
        assert facts.kernel_release == os.uname().release
        assert facts.distro is not None and f"ID={facts.distro.id}" in os_release
        assert facts.distro.pretty_name and facts.distro.pretty_name in os_release
        assert facts.cpus == os.sysconf("SC_NPROCESSORS_ONLN")
        total_kb = int(local("awk", "/^MemTotal/ { print $2 }", "/proc/meminfo"))
        assert facts.mem_mb == total_kb // 1024


def test_nics_and_default_nic_match_ip(gathered: dict[str, HostFacts]) -> None:
    links = {link["ifname"]: link for link in json.loads(local("ip", "-j", "link", "show"))}
    for facts in gathered.values():
        assert facts.nics is not None
        by_name = {nic.name: nic for nic in facts.nics}
        assert "lo" in by_name
        assert set(by_name) <= set(links) | {name for name in by_name if name.startswith("nmp")}, (
            "only links of this machine"
        )
        for name, nic in by_name.items():
            if name in links:
                assert nic.mtu == links[name]["mtu"]
                assert nic.promisc == ("PROMISC" in links[name]["flags"])
        assert facts.default_nic == default_nic()


def test_tool_versions_match_the_tools(gathered: dict[str, HostFacts]) -> None:
    perf = local("perf", "version").split()[-1]
    for facts in gathered.values():
        assert facts.perf_version == perf
        assert facts.docker_version is not None
        # `docker version` exits 1 when no daemon answers, yet still prints the client part,
        # which is what the fact holds then (the engine's version when the daemon answers).
        versions = subprocess.run(
            ["docker", "version", "--format", "{{json .}}"], capture_output=True, text=True
        ).stdout
        assert facts.docker_version in versions


def test_tracing_facts_match_the_mounts(gathered: dict[str, HostFacts]) -> None:
    mounts = Path("/proc/mounts").read_text().splitlines()
    tracefs = [line.split()[1] for line in mounts if line.split()[2] == "tracefs"]
    for facts in gathered.values():
        assert facts.tracefs is not None
        assert facts.tracefs.mounted == bool(tracefs)
        if tracefs:
            assert facts.tracefs.path in tracefs
            available = Path(facts.tracefs.path, "available_tracers").read_text().split()
            assert facts.tracers == tuple(available)
        else:
            assert facts.tracers is None


def test_netdev_types_are_the_kernels_answers(gathered: dict[str, HostFacts]) -> None:
    for facts in gathered.values():
        assert facts.netdev_types is not None
        assert tuple(facts.netdev_types) == NETDEV_TYPES
        for kind in ("bridge", "veth", "macvlan", "vxlan"):
            assert facts.netdev_types[kind].supported, kind
        for kind in NETDEV_TYPES:
            supported, message = kernel_answer(kind)
            assert facts.netdev_types[kind].supported == supported, kind
            assert facts.netdev_types[kind].message == message, kind
    assert probe_links() == [], "every probe link was deleted"


def test_this_kernel_refuses_ipvlan_with_its_own_message(gathered: dict[str, HostFacts]) -> None:
    # This test machine's kernel is built without ipvlan; the message is the kernel's.
    supported, message = kernel_answer("ipvlan")
    assert not supported
    for facts in gathered.values():
        assert facts.netdev_types is not None
        assert facts.netdev_types["ipvlan"].supported is False
        assert facts.netdev_types["ipvlan"].message == message == "Error: Unknown device type."


def test_gather_facts_on_one_connection(sshd_hosts: tuple[Host, ...]) -> None:
    with connect(sshd_hosts[1]) as conn:  # type: ignore[attr-defined]
        facts = gather_facts(conn)
    assert json.loads(json.dumps(facts.as_dict()))["kernel_release"] == os.uname().release


def test_unreachable_host_is_an_error_in_the_map(
    sshd_hosts: tuple[Host, ...], unreachable_host: Host
) -> None:
    results = gather_hosts([unreachable_host, *sshd_hosts], retries=0)
    assert list(results) == ["closed1", "sshd1", "sshd2"]
    assert isinstance(results["closed1"], UnreachableError)
    assert isinstance(results["sshd1"], HostFacts)


def invoke_facts(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "facts", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_json(sshd_inventory: Path) -> None:
    done = invoke_facts(
        "--hosts", "sshd1,sshd2", "--inventory", str(sshd_inventory), "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert list(printed) == ["sshd1", "sshd2"]
    for values in printed.values():
        assert values["kernel_release"] == os.uname().release
        assert values["netdev_types"]["bridge"] == {"supported": True, "message": None}
        assert set(values) == set(HostFacts().as_dict())


def test_cli_table(sshd_inventory: Path) -> None:
    done = invoke_facts("--hosts", "sshd*", "--inventory", str(sshd_inventory))
    assert done.returncode == 0, done.stderr
    assert os.uname().release in done.stdout
    assert "sshd1" in done.stdout and "sshd2" in done.stdout


def test_cli_unreachable_host_exits_2_and_keeps_the_others(
    sshd_inventory_with_unreachable: Path,
) -> None:
    done = invoke_facts(
        "--hosts", "all", "--inventory", str(sshd_inventory_with_unreachable), "--format", "json"
    )
    assert done.returncode == 2
    assert list(json.loads(done.stdout)) == ["sshd1", "sshd2"]
    assert "closed1 (127.0.0.4:" in done.stderr and "connection refused" in done.stderr
    assert "Traceback" not in done.stderr
