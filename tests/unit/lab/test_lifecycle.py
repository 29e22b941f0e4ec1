import dataclasses
from pathlib import Path

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.host import Host
from orchestrator.lab import lifecycle
from orchestrator.lab.labfile import read_lab_inventory, write_lab_inventory
from orchestrator.lab.lifecycle import Lab, choose_provider, lab_down, lab_promisc, lab_up
from tests.fakes import FakeConnection

from .conftest import as_data, fixture_text, write_machine_id

IP_ADDR = fixture_text("ip-addr-show-to-lab-address.txt")  # recorded in a lab node
IP_LINK = fixture_text("ip-link-eth1.txt")
IP_LINK_PROMISC = fixture_text("ip-link-eth1-promisc.txt")
BENCH = Host("bench1", {"ansible_host": "10.0.0.9"}, ("bare_metal",))


def with_nodes(lab: Lab, *rules) -> tuple[Lab, list[FakeConnection]]:
    """The lab reaching its hosts through fake connections that answer `rules`."""
    opened: list[FakeConnection] = []

    def connect(host: Host) -> FakeConnection:
        opened.append(FakeConnection(host=host, rules=list(rules)))
        return opened[-1]

    return dataclasses.replace(lab, connect=connect), opened


def test_requested_provider_wins_and_unknown_ones_are_refused():
    assert choose_provider("docker", which=lambda tool: "/usr/bin/VBoxManage") == "docker"
    with pytest.raises(NetmatrixError, match="unknown provider 'vmware': use virtualbox or docker"):
        choose_provider("vmware")


def test_default_provider_is_virtualbox_only_where_vboxmanage_is_installed():
    assert choose_provider(None, which=lambda tool: "/usr/bin/VBoxManage") == "virtualbox"
    assert choose_provider(None, which=lambda tool: None) == "docker"


def test_parse_hosts_ignores_blanks():
    assert lifecycle.parse_hosts(" lab1,,lab2 ") == ["lab1", "lab2"]
    assert lifecycle.parse_hosts("") == []


def test_lab_up_virtualbox_writes_inventory_and_sets_promisc_with_standin_vboxmanage(
    lab: Lab, vagrant_log: Path, vboxmanage_log: Path
):
    write_lab_inventory(lab.paths.inventory, {"bench1": BENCH})
    lab, opened = with_nodes(lab, (r"^ip -o -4 addr show to 192\.168\.60\.1[12]$", (0, IP_ADDR)))
    lab_up(lab, ["lab1", "lab2"], "virtualbox")
    assert vagrant_log.read_text().splitlines() == [
        "up --provider=virtualbox lab1 lab2",
        "ssh-config lab1 lab2",
    ]
    assert vboxmanage_log.read_text().splitlines() == [
        "controlvm id-of-lab1 nicpromisc2 allow-all",
        "showvminfo id-of-lab1",
        "controlvm id-of-lab2 nicpromisc2 allow-all",
        "showvminfo id-of-lab2",
    ]
    hosts = read_lab_inventory(lab.paths.inventory)
    assert as_data(hosts)["bench1"] == as_data({"bench1": BENCH})["bench1"]
    assert hosts["lab2"].groups == ("hw_controller", "lab")
    assert hosts["lab2"].vars == {
        "ansible_host": "127.0.0.1",
        "ansible_port": 2200,
        "ansible_user": "vagrant",
        "ansible_ssh_private_key_file": "/tmp/exp/dot/machines/lab2/docker/private_key",
        "ansible_become": True,
        "host_key_checking": False,
        "provider": "virtualbox",
        "lab_address": "192.168.60.12",
        "hardware": "hw_controller",
        "lab_nic": "eth1",
    }
    assert [c.host.name for c in opened] == ["lab1", "lab2"]
    assert opened[0].host.port == 2222


def test_lab_up_refused_promisc_leaves_the_inventory_untouched_with_standin_vboxmanage(
    lab: Lab, vagrant_log: Path, vboxmanage_log: Path, monkeypatch: pytest.MonkeyPatch
):
    write_lab_inventory(lab.paths.inventory, {"bench1": BENCH})
    before = lab.paths.inventory.read_bytes()
    monkeypatch.setenv("VBOXMANAGE_VMSTATE", "poweroff")
    lab, _ = with_nodes(lab, (r"^ip -o -4 addr", (0, IP_ADDR)))
    with pytest.raises(NetmatrixError, match="lab1: VBoxManage refused nicpromisc2 allow-all"):
        lab_up(lab, ["lab1"], "virtualbox")
    assert lab.paths.inventory.read_bytes() == before


def test_lab_up_refuses_unknown_hosts_before_running_anything(lab: Lab, vagrant_log: Path):
    with pytest.raises(NetmatrixError, match="host lab5 is not in the Vagrantfile"):
        lab_up(lab, ["lab5"], "docker")
    assert not vagrant_log.exists()
    assert not lab.paths.inventory.exists()


def test_lab_nic_is_the_interface_with_the_lab_address():
    conn = FakeConnection(rules=[(r"^ip -o -4 addr show to 192\.168\.77\.11$", (0, IP_ADDR))])
    assert lifecycle.nic_with_address(conn, "192.168.77.11") == "eth1"


def test_lab_nic_missing_on_the_host_is_an_error():
    conn = FakeConnection(host=Host("lab1"), rules=[(r"^ip -o -4 addr", (0, ""))])
    with pytest.raises(
        NetmatrixError, match=r"lab1: no interface has the lab address 10\.0\.0\.11:"
    ):
        lifecycle.nic_with_address(conn, "10.0.0.11")


def test_promisc_on_docker_nodes_uses_ip_link_inside_the_node(lab: Lab, said: list[str]):
    node = Host("lab1", {"provider": "docker", "lab_nic": "eth1"}, ("lab",))
    write_lab_inventory(lab.paths.inventory, {"lab1": node})
    lab, opened = with_nodes(
        lab,
        (r"^ip link set eth1 promisc on$", (0, "")),
        (r"^ip -o link show eth1$", (0, IP_LINK_PROMISC)),
    )
    lab_promisc(lab, ["lab1"], "allow-all", 2)
    assert opened[0].calls == [
        ("ip link set eth1 promisc on", True),
        ("ip -o link show eth1", False),
    ]
    assert said == [
        "lab1: docker node, no hypervisor NIC to set: turned eth1 promiscuous on inside the "
        "node with `ip link`"
    ]


def test_deny_turns_promiscuous_mode_off_in_docker_nodes(lab: Lab):
    node = Host("lab1", {"provider": "docker", "lab_nic": "eth1"}, ("lab",))
    write_lab_inventory(lab.paths.inventory, {"lab1": node})
    lab, opened = with_nodes(
        lab, (r"^ip link set eth1 promisc off$", (0, "")), (r"^ip -o link", (0, IP_LINK))
    )
    lab_promisc(lab, ["lab1"], "deny", 2)
    assert opened[0].commands[0] == "ip link set eth1 promisc off"


def test_docker_node_that_stays_unpromiscuous_is_an_error(lab: Lab):
    node = Host("lab1", {"provider": "docker", "lab_nic": "eth1"}, ("lab",))
    write_lab_inventory(lab.paths.inventory, {"lab1": node})
    lab, _ = with_nodes(lab, (r"^ip link set", (0, "")), (r"^ip -o link", (0, IP_LINK)))
    with pytest.raises(NetmatrixError, match="lab1: eth1 did not turn promiscuous on"):
        lab_promisc(lab, ["lab1"], "allow-all", 2)


def test_promisc_on_virtualbox_hosts_with_standin_vboxmanage(
    lab: Lab, vboxmanage_log: Path, said: list[str]
):
    write_lab_inventory(lab.paths.inventory, {"lab2": Host("lab2", {"provider": "virtualbox"})})
    write_machine_id(lab, "lab2", "virtualbox", "vm-2")
    lab_promisc(lab, ["lab2"], "allow-vms", 2)
    assert vboxmanage_log.read_text().splitlines() == [
        "controlvm vm-2 nicpromisc2 allow-vms",
        "showvminfo vm-2",
    ]
    assert said == ["lab2: VirtualBox NIC 2 promiscuous mode allow-vms (verified with showvminfo)"]


def test_promisc_on_a_disabled_nic_fails_verification_with_standin_vboxmanage(
    lab: Lab, vboxmanage_log: Path
):
    write_lab_inventory(lab.paths.inventory, {"lab2": Host("lab2", {"provider": "virtualbox"})})
    write_machine_id(lab, "lab2", "virtualbox", "vm-2")
    with pytest.raises(NetmatrixError, match="lab2: NIC 3 has promiscuous mode unknown"):
        lab_promisc(lab, ["lab2"], "allow-all", 3)


def test_promisc_needs_the_host_in_the_inventory(lab: Lab):
    with pytest.raises(NetmatrixError, match=r"lab1 is not in .*lab\.yml: bring it up with"):
        lab_promisc(lab, ["lab1"], "allow-all", 2)


def test_lab_down_destroys_and_drops_only_those_hosts(
    lab: Lab, vagrant_log: Path, monkeypatch: pytest.MonkeyPatch
):
    write_lab_inventory(lab.paths.inventory, {"bench1": BENCH, "lab1": Host("lab1", {})})
    write_machine_id(lab, "lab1", "virtualbox", "vm-1")
    monkeypatch.setattr(lifecycle, "docker_client", lambda: None)
    lab_down(lab, ["lab1"])
    assert vagrant_log.read_text().splitlines() == ["destroy --force lab1"]
    assert as_data(read_lab_inventory(lab.paths.inventory)) == as_data({"bench1": BENCH})
    assert lab.provider_of("lab1") is None


class FakeNetwork:
    def __init__(self, name: str, containers: list[str]) -> None:
        self.name, self.containers, self.removed = name, containers, False

    def reload(self) -> None:
        pass

    def remove(self) -> None:
        self.removed = True


class FakeNetworks:
    def __init__(self, *networks: FakeNetwork) -> None:
        self.networks = networks

    def list(self, names: list[str]) -> list[FakeNetwork]:
        return [network for network in self.networks if network.name in names]


@pytest.mark.parametrize(("containers", "removed"), [([], True), (["lab2"], False)])
def test_lab_network_is_removed_only_when_unused(lab: Lab, monkeypatch, containers, removed):
    network = FakeNetwork("vagrant_network_192.168.60.0/24", containers)
    client = type("Client", (), {"networks": FakeNetworks(network)})()
    monkeypatch.setattr(lifecycle, "docker_client", lambda: client)
    lifecycle.remove_unused_lab_network(lab)
    assert network.removed is removed
