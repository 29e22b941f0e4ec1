"""Mode drivers: kernel support from facts, the Docker commands each mode sends, the address
the client targets, and how a refusal is told apart from a plain failure."""

import json
import shlex
from pathlib import Path

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.experiment import modes
from orchestrator.experiment.modes import (
    DEFAULT_MACVLAN_SUBNET,
    ModeSetupError,
    ModeUnsupported,
    Placement,
    driver_for,
)
from orchestrator.experiment.spec import MODES
from orchestrator.experiment.traffic_image import traffic_image
from tests.fakes import FakeConnection, fake

NETDEV_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "facts" / "netdev_types"


def netdev_types(case: str) -> dict:
    """The parsed `netdev_types` fact of a recorded probe (root, unprivileged, no-parent-link)."""
    return json.loads((NETDEV_FIXTURES / f"{case}.json").read_text())["expected"]


def docker_args(conn: FakeConnection) -> list[list[str]]:
    """The argument vectors of the docker commands sent, all of which must go through sudo."""
    assert all(as_root for _, as_root in conn.calls)
    return [shlex.split(text) for text in conn.commands]


# --- drivers and kernel support ------------------------------------------------------------------


def test_every_mode_a_spec_accepts_has_a_driver() -> None:
    assert tuple(modes.DRIVERS) == MODES


def test_an_unknown_mode_is_a_user_error_listing_the_known_ones() -> None:
    with pytest.raises(NetmatrixError, match=r"unknown mode 'vxlan'; known: loopback, host, "):
        driver_for("vxlan")


def test_a_link_type_the_root_probe_refused_is_unsupported_with_the_kernels_words() -> None:
    facts = netdev_types("root")
    with pytest.raises(ModeUnsupported) as refused:
        modes.check_kernel_support(driver_for("ipvlan-l2"), facts)
    assert str(refused.value) == "ipvlan-l2: Error: Unknown device type."
    for mode in ("loopback", "host", "bridge", "bridge-user", "macvlan"):
        modes.check_kernel_support(driver_for(mode), facts)  # accepted: no exception


def test_a_probe_without_root_gives_no_verdict() -> None:
    """The kernel's "Operation not permitted" is about the prober's rights: Docker decides."""
    facts = netdev_types("unprivileged")
    assert facts["ipvlan"]["supported"] is False
    for mode in modes.DRIVERS:
        modes.check_kernel_support(driver_for(mode), facts)  # no exception for any mode


def test_a_refusal_without_a_message_names_the_link_type() -> None:
    facts = {"macvlan": {"supported": False, "message": None}}
    with pytest.raises(ModeUnsupported, match=r"^macvlan: kernel does not accept macvlan links$"):
        modes.check_kernel_support(driver_for("macvlan"), facts)
    with pytest.raises(ModeUnsupported, match=r"^macvlan: kernel does not accept macvlan links$"):
        modes.check_kernel_support(driver_for("macvlan"), {"macvlan": False})


def test_a_probe_without_a_parent_link_refuses_the_modes_that_need_one() -> None:
    facts = netdev_types("no-parent-link")
    with pytest.raises(ModeUnsupported, match=r"^macvlan: no parent link for macvlan$"):
        modes.check_kernel_support(driver_for("macvlan"), facts)
    modes.check_kernel_support(driver_for("bridge-user"), facts)  # bridges need no parent


def test_missing_facts_leave_the_verdict_to_docker() -> None:
    """No probe of ipvlan: no refusal, where a probe that refused it would refuse the mode."""
    ipvlan = driver_for("ipvlan-l3")
    for facts in (None, {}, {"bridge": {"supported": True}}):
        assert modes.check_kernel_support(ipvlan, facts) is None
    with pytest.raises(ModeUnsupported, match=r"^ipvlan-l3: kernel does not accept ipvlan"):
        modes.check_kernel_support(ipvlan, {"bridge": {"supported": True}, "ipvlan": False})


# --- prepare -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "network", "containers"),
    [("loopback", None, False), ("host", "host", True), ("bridge", "bridge", True)],
)
def test_modes_on_existing_networks_create_nothing(
    mode: str, network: str | None, containers: bool
) -> None:
    conn = fake()
    placement = modes.prepare(conn, driver_for(mode), "t1", parent_nic=None, subnet="x")
    assert placement == Placement(mode, "t1", containers, network)
    assert conn.calls == []


def test_a_user_bridge_is_created_labelled_and_without_a_subnet() -> None:
    conn = fake().on(r"^docker network create ", (0, "f00d\n"))
    placement = modes.prepare(
        conn, driver_for("bridge-user"), "t1", parent_nic="eth1", subnet=DEFAULT_MACVLAN_SUBNET
    )
    assert placement == Placement("bridge-user", "t1", True, "nm-t1")
    assert docker_args(conn) == [
        [
            "docker",
            "network",
            "create",
            "--driver",
            "bridge",
            "--label",
            "netmatrix.run=t1",
            "nm-t1",
        ]
    ]


@pytest.mark.parametrize(
    ("mode", "driver", "options"),
    [
        ("macvlan", "macvlan", ["-o", "parent=eth1"]),
        ("ipvlan-l2", "ipvlan", ["-o", "parent=eth1", "-o", "ipvlan_mode=l2"]),
        ("ipvlan-l3", "ipvlan", ["-o", "parent=eth1", "-o", "ipvlan_mode=l3"]),
    ],
)
def test_lab_nic_modes_get_the_parent_and_the_subnet(
    mode: str, driver: str, options: list[str]
) -> None:
    conn = fake().on(r"^docker network create ", (0, "f00d\n"))
    placement = modes.prepare(conn, driver_for(mode), "t1", parent_nic="eth1", subnet="10.9.0.0/24")
    assert placement.docker_network == "nm-t1"
    assert docker_args(conn) == [
        [
            *["docker", "network", "create", "--driver"],
            driver,
            *["--label", "netmatrix.run=t1", "--subnet", "10.9.0.0/24"],
            *options,
            "nm-t1",
        ]
    ]


def test_a_lab_nic_mode_without_a_nic_is_refused_before_docker_is_asked() -> None:
    conn = fake()
    with pytest.raises(
        ModeSetupError, match=r"^macvlan: the host has no lab NIC \(host var lab_nic\)"
    ):
        modes.prepare(conn, driver_for("macvlan"), "t1", parent_nic=None, subnet="x")
    assert conn.calls == []


@pytest.mark.parametrize(
    ("stderr", "kind", "message"),
    [
        (
            "Unable to find network\n"
            "Error response from daemon: failed to create the ipvlan port: operation not supported",
            ModeUnsupported,
            "ipvlan-l2: Error response from daemon: failed to create the ipvlan port: "
            "operation not supported",
        ),
        (
            "Error: Unknown device type.",
            ModeUnsupported,
            "ipvlan-l2: Error: Unknown device type.",
        ),
        (
            "Error response from daemon: Pool overlaps with other one on this address space",
            ModeSetupError,
            "ipvlan-l2: docker network create failed: Error response from daemon: "
            "Pool overlaps with other one on this address space",
        ),
        ("", ModeSetupError, "ipvlan-l2: docker network create failed: exit code 1"),
    ],
)
def test_a_refused_network_is_unsupported_only_when_the_words_say_so(
    stderr: str, kind: type, message: str
) -> None:
    """The last line of Docker's answer decides, and becomes the message."""
    conn = fake().on(r"^docker network create ", (1, "", stderr))
    with pytest.raises(NetmatrixError) as refused:
        modes.prepare(conn, driver_for("ipvlan-l2"), "t1", parent_nic="eth1", subnet="x")
    assert type(refused.value) is kind
    assert str(refused.value) == message


# --- containers, addresses, argv ---------------------------------------------------------------


def test_server_and_idle_client_containers_carry_the_label_and_the_network() -> None:
    conn = fake().on(r"^docker run ", (0, "c0ffee\n"))
    placement = Placement("bridge-user", "t1", True, "nm-t1")
    modes.start_containers(conn, driver_for("bridge-user"), placement, ["--port", "2000"])
    common = ["docker", "run", "-d", "--name"]
    label = ["--label", "netmatrix.run=t1", "--network", "nm-t1"]
    assert docker_args(conn) == [
        [*common, "nm-t1-srv", *label, traffic_image(), "/app/server.py", "--port", "2000"],
        [*common, "nm-t1-cli", *label, "--entrypoint", "sleep", traffic_image(), "infinity"],
    ]


def test_a_client_container_docker_refuses_is_classified_like_a_network() -> None:
    conn = (
        fake()
        .on(r"nm-t1-srv", (0, "c0ffee\n"))
        .on(r"nm-t1-cli", (125, "", "docker: Error response from daemon: no space left."))
    )
    placement = Placement("bridge", "t1", True, "bridge")
    with pytest.raises(ModeSetupError, match=r"^bridge: starting the client container failed: "):
        modes.start_containers(conn, driver_for("bridge"), placement, [])


@pytest.mark.parametrize("mode", ["loopback", "host"])
def test_modes_sharing_the_hosts_namespace_target_loopback(mode: str) -> None:
    conn = fake()
    placement = Placement(mode, "t1", mode == "host", "host" if mode == "host" else None)
    assert modes.server_address(conn, driver_for(mode), placement) == "127.0.0.1"
    assert conn.calls == []


def test_other_modes_target_the_server_containers_first_address() -> None:
    networks = {
        "nm-t1": {"IPAddress": "", "Gateway": ""},
        "bridge": {"IPAddress": "172.17.0.3", "Gateway": "172.17.0.1"},
    }
    conn = fake().on(r"^docker inspect ", (0, json.dumps(networks) + "\n"))
    placement = Placement("bridge", "t1", True, "bridge")
    assert modes.server_address(conn, driver_for("bridge"), placement) == "172.17.0.3"
    assert docker_args(conn) == [
        ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", "nm-t1-srv"]
    ]


def test_a_server_container_without_an_address_is_a_setup_error() -> None:
    conn = fake().on(r"^docker inspect ", (0, '{"nm-t1": {"IPAddress": ""}}\n'))
    placement = Placement("macvlan", "t1", True, "nm-t1")
    with pytest.raises(ModeSetupError, match=r"^macvlan: the server container has no IP address"):
        modes.server_address(conn, driver_for("macvlan"), placement)


def test_a_failed_inspect_says_what_docker_said() -> None:
    conn = fake().on(r"^docker inspect ", (1, "", "Error: No such object: nm-t1-srv"))
    placement = Placement("bridge", "t1", True, "bridge")
    with pytest.raises(
        ModeSetupError, match=r"^bridge: docker inspect failed: Error: No such object: nm-t1-srv$"
    ):
        modes.server_address(conn, driver_for("bridge"), placement)


def test_the_client_runs_in_its_container_or_as_a_host_process() -> None:
    args = ["--host", "172.17.0.3"]
    in_container = Placement("bridge", "t1", True, "bridge")
    on_host = Placement("loopback", "t1", False)
    assert modes.client_argv(in_container, args) == [
        *["docker", "exec", "nm-t1-cli", "python3", "/app/client.py"],
        *args,
    ]
    assert modes.client_argv(on_host, args) == ["python3", "/opt/netmatrix/app/client.py", *args]
    assert modes.server_argv(["--port", "2000"]) == [
        "python3",
        "/opt/netmatrix/app/server.py",
        "--port",
        "2000",
    ]
