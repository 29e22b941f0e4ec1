"""Provisioning for real (issue 4): Docker, perf, tracing and the traffic image inside both
nodes of the session's Docker-provider lab, checked over SSH; perf recording the traffic
image's client and server; a second run and a `--check` run that change nothing."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from ansible.utils.color import colorize, hostcolor

from orchestrator.connection import Connection
from orchestrator.experiment.traffic_image import traffic_image
from tests.integration.lab_fixture import HOSTS, ProvisionedLab

pytestmark = pytest.mark.integration

TRACEFS = "/sys/kernel/tracing"
RECAP_FIELDS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
RECAP_LINE = re.compile(
    r"(?P<host>\S+)\s+: " + r"\s+".join(rf"{f}=(?P<{f}>\d+)" for f in RECAP_FIELDS)
)

# The traffic test's containers, on a bridge whose device name nothing else on this machine has,
# so that the trace's `dev=` fields can only be this traffic.
NETWORK = "nmtest"
BRIDGE = "nmtest0"
SERVER = "nmtest-server"
PORT = "5001"
PERF_DATA = "/tmp/nmtest-net.data"


def play_recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP counters by host; each line must be exactly what Ansible's default
    callback prints without colour (built here with ansible-core's own helpers)."""
    _, banner, recap = output.partition("PLAY RECAP ")
    assert banner, f"no PLAY RECAP in:\n{output}"
    counters = {}
    for line in recap.splitlines()[1:]:
        if not line.strip():
            break
        match = RECAP_LINE.fullmatch(line.rstrip())
        assert match, f"not a recap line: {line!r}"
        counts = {field: int(match[field]) for field in RECAP_FIELDS}
        fields = " ".join(colorize(field, value, None) for field, value in counts.items())
        assert line == f"{hostcolor(match['host'], {}, False)} : {fields}"
        counters[match["host"]] = counts
    return counters


def assert_clean(recap: dict[str, dict[str, int]], changed: int) -> None:
    """Both hosts ran every task, none failed, and `changed` of them changed something."""
    assert set(recap) == set(HOSTS)
    for counts in recap.values():
        assert counts["failed"] == counts["unreachable"] == 0, recap
        assert counts["ok"] > 0, recap
        assert counts["changed"] == changed, recap


def tracefs_mounted(lab: ProvisionedLab, name: str) -> bool:
    mounts = lab.sudo(name, ["cat", "/proc/mounts"]).stdout.splitlines()
    return any(line.split()[1:3] == [TRACEFS, "tracefs"] for line in mounts)


def test_first_provisioning_changed_both_nodes(provisioned_lab: ProvisionedLab) -> None:
    recap = play_recap(provisioned_lab.provisioning.stdout)
    assert set(recap) == set(HOSTS)
    for counts in recap.values():
        assert counts["failed"] == counts["unreachable"] == 0
        assert counts["changed"] > 0  # a new node lacks at least Docker, perf and the image


@pytest.mark.parametrize("name", HOSTS)
def test_docker_perf_tracing_and_the_image_are_in_the_node(
    provisioned_lab: ProvisionedLab, name: str
) -> None:
    run = provisioned_lab.sudo
    # The daemon that answers is the node's own: it is named after the node, not the controller.
    assert run(name, ["docker", "info", "--format", "{{.Name}}"]).stdout.strip() == name
    assert re.fullmatch(r"perf version \d+\.\d+\S*\n", run(name, ["perf", "--version"]).stdout)
    assert tracefs_mounted(provisioned_lab, name)
    assert run(name, ["cat", f"{TRACEFS}/available_events"]).stdout.count("net:") > 0
    sysctls = run(name, ["sysctl", "-n", "kernel.perf_event_paranoid", "kernel.kptr_restrict"])
    assert sysctls.stdout.split() == ["-1", "0"]
    tags = run(
        name,
        ["docker", "image", "inspect", "--format", "{{json .RepoTags}}", "--", traffic_image()],
    )
    assert tags.ok, tags.stderr
    assert traffic_image() in json.loads(tags.stdout)


@pytest.fixture
def traffic_server(provisioned_lab: ProvisionedLab) -> Iterator[tuple[Connection, str, str]]:
    """On lab2: the traffic image's server on bridge BRIDGE; yields the connection, the
    server's address and its veth (the node's end of the server's link)."""
    conn = provisioned_lab.connect("lab2")
    try:
        bridge_option = f"com.docker.network.bridge.name={BRIDGE}"
        conn.sudo(["docker", "network", "create", "-o", bridge_option, NETWORK], check=True)
        conn.sudo(
            ["docker", "run", "-d", "--name", SERVER, "--network", NETWORK, traffic_image(),
             "/app/server.py", "--proto", "tcp", "--port", PORT],
            check=True,
        )  # fmt: skip
        wait_until_listening(conn)
        address_format = f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}'
        inspect = ["docker", "inspect", "--format", address_format, SERVER]
        address = conn.sudo(inspect, check=True).stdout.strip()
        links = conn.sudo(["ip", "-o", "link", "show", "master", BRIDGE], check=True).stdout
        (veth,) = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()]
        yield conn, address, veth
    finally:
        conn.sudo(["docker", "rm", "-f", SERVER])
        conn.sudo(["docker", "network", "rm", NETWORK])
        conn.sudo(["rm", "-f", PERF_DATA])
        conn.close()


def wait_until_listening(conn: Connection, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while '"event": "listening"' not in conn.sudo(["docker", "logs", SERVER]).stdout:
        assert time.monotonic() < deadline, "the traffic server did not start listening"
        time.sleep(0.2)


def test_perf_records_net_events_of_the_traffic_images_client_and_server(
    traffic_server: tuple[Connection, str, str],
) -> None:
    conn, address, veth = traffic_server
    client = [
        "docker", "run", "--rm", "--network", NETWORK, traffic_image(), "/app/client.py",
        "--proto", "tcp", "--host", address, "--port", PORT, "--size", "1400", "--duration", "1",
    ]  # fmt: skip
    record = ["perf", "record", "-a", "-e", "net:*", "-o", PERF_DATA, "--", *client]
    recorded = conn.sudo(record, check=True, timeout=120)
    sent = json.loads(recorded.stdout.splitlines()[-1])
    assert sent["bytes"] > 0 and sent["errors"] == 0, sent
    assert "perf record: Captured and wrote" in recorded.stderr
    # perf -a records the whole machine, tens of MB of text: the node counts, per event, the
    # lines whose device is the server's veth (`-F event,trace`: "net:<event>: dev=<name> …").
    script = (
        f"perf script -i {PERF_DATA} -F event,trace 2>/dev/null"
        f" | awk '$2 == \"dev={veth}\" {{ print $1 }}' | sort | uniq -c"
    )
    counted = conn.sudo(script, check=True, timeout=300).stdout
    events = {event.rstrip(":"): int(n) for n, event in map(str.split, counted.splitlines())}
    # Data to the server leaves the bridge through its veth; the server's ACKs come back in.
    assert events.get("net:net_dev_queue", 0) >= 100, events
    assert events.get("net:net_dev_xmit", 0) >= 100, events
    assert events.get("net:netif_receive_skb", 0) > 0, events


def test_a_second_provisioning_changes_nothing(provisioned_lab: ProvisionedLab) -> None:
    done = provisioned_lab.provision()
    assert done.returncode == 0, done.stdout + done.stderr
    assert_clean(play_recap(done.stdout), changed=0)


def test_check_mode_reports_the_change_and_makes_none(provisioned_lab: ProvisionedLab) -> None:
    for name in HOSTS:
        provisioned_lab.sudo(name, ["umount", TRACEFS])
        assert not tracefs_mounted(provisioned_lab, name)
    try:
        checked = provisioned_lab.provision(HOSTS, "--check")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert_clean(play_recap(checked.stdout), changed=1)
        assert not any(tracefs_mounted(provisioned_lab, name) for name in HOSTS)
    finally:
        restored = provisioned_lab.provision()
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert_clean(play_recap(restored.stdout), changed=1)
    assert all(tracefs_mounted(provisioned_lab, name) for name in HOSTS)
