import dataclasses
from pathlib import Path

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.host import Host
from orchestrator.lab import lifecycle
from orchestrator.lab.labfile import read_lab_inventory, write_lab_inventory
from orchestrator.lab.lifecycle import Lab, choose_provider, lab_down, lab_promisc, lab_up
from orchestrator.lab.vagrant import SshConfig
from tests.fakes import FakeConnection

from .conftest import (
    VBOX_FIXTURES,
    as_data,
    fixture_text,
    key_lines,
    recorded_scan,
    write_machine_id,
)

IP_ADDR = fixture_text("ip-addr-show-to-lab-address.txt")  # recorded in a lab node
IP_LINK = fixture_text("ip-d-link-eth1.txt")  # a veth, recorded with ip -d -o link
IP_LINK_PROMISC = fixture_text("ip-d-link-eth1-promisc.txt")
BENCH = Host("bench1", {"ansible_host": "10.0.0.9"}, ("bare_metal",))


def with_nodes(lab: Lab, *rules) -> tuple[Lab, list[FakeConnection]]:
    """The lab reaching its hosts through fake connections that answer `rules`."""
    opened: list[FakeConnection] = []

    def connect(host: Host) -> FakeConnection:
        opened.append(FakeConnection(host=host, rules=list(rules)))
        return opened[-1]

    return dataclasses.replace(lab, connect=connect), opened


STANDIN = str(VBOX_FIXTURES / "VBoxManage")


def test_requested_provider_wins_and_unknown_ones_are_refused():
    assert choose_provider("docker", which=lambda tool: STANDIN) == "docker"
    assert choose_provider("libvirt", which=lambda tool: STANDIN) == "libvirt"
    with pytest.raises(
        NetmatrixError, match="unknown provider 'vmware': use virtualbox, libvirt or docker"
    ):
        choose_provider("vmware")


def test_default_provider_is_virtualbox_where_vboxmanage_works_with_standin_vboxmanage(
    vboxmanage_log: Path,
):
    assert choose_provider(None, which=lambda tool: STANDIN) == "virtualbox"
    assert choose_provider(None, which=lambda tool: STANDIN, other_kernel=True) == "virtualbox"
    assert vboxmanage_log.read_text() == "--version\n--version\n"


def test_a_vboxmanage_that_does_not_answer_is_no_virtualbox(tmp_path: Path):
    broken = tmp_path / "VBoxManage"
    broken.write_text(
        "#!/bin/sh\necho 'WARNING: The vboxdrv kernel module is not loaded' >&2\nexit 1\n"
    )
    broken.chmod(0o755)
    assert choose_provider(None, which=lambda tool: str(broken)) == "docker"
    assert choose_provider(None, which=lambda tool: str(tmp_path / "gone")) == "docker"


def test_without_virtualbox_another_kernel_means_libvirt_else_docker():
    assert choose_provider(None, which=lambda tool: None) == "docker"
    assert choose_provider(None, which=lambda tool: None, other_kernel=True) == "libvirt"


def test_parse_hosts_ignores_blanks():
    assert lifecycle.parse_hosts(" lab1,,lab2 ") == ["lab1", "lab2"]
    assert lifecycle.parse_hosts("") == []


def test_lab_up_virtualbox_writes_inventory_and_sets_promisc_with_standin_vboxmanage(
    lab: Lab, vagrant_log: Path, vboxmanage_log: Path, keyscan_log: Path
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
        "netmatrix_known_hosts": str(lab.paths.known_hosts),
        "provider": "virtualbox",
        "lab_address": "192.168.60.12",
        "hardware": "hw_controller",
        "lab_nic": "eth1",
    }
    assert [c.host.name for c in opened] == ["lab1", "lab2"]
    assert opened[0].host.port == 2222
    # Trust at creation: the keys each new VM presented right after `vagrant up`.
    assert keyscan_log.read_text().splitlines() == [
        "-T 30 -p 2222 127.0.0.1",
        "-T 30 -p 2200 127.0.0.1",
    ]
    assert key_lines(lab.paths.known_hosts) == [
        *recorded_scan(2222, "lab1", "[127.0.0.1]:2222"),
        *recorded_scan(2200, "lab2", "[127.0.0.1]:2200"),
    ]


def test_lab_up_again_keeps_the_keys_virtualbox_machines_were_created_with_standin_tools(
    lab: Lab, vagrant_log: Path, vboxmanage_log: Path, keyscan_log: Path
):
    lab, _ = with_nodes(lab, (r"^ip -o -4 addr", (0, IP_ADDR)))
    lab_up(lab, ["lab1", "lab2"], "virtualbox")
    recorded = lab.paths.known_hosts.read_text()
    keyscan_log.unlink()
    lab_up(lab, ["lab1", "lab2"], "virtualbox")  # both VMs were there: vagrant up only boots
    assert not keyscan_log.exists(), "machines that were not created are not asked again"
    assert lab.paths.known_hosts.read_text() == recorded


def test_a_recreated_virtualbox_machine_replaces_its_keys_and_stale_ones_at_its_port(
    lab: Lab, vagrant_log: Path, vboxmanage_log: Path, keyscan_log: Path
):
    write_machine_id(lab, "lab1", "virtualbox", "vm-destroyed-outside-netmatrix")
    lab2_keys = recorded_scan(2200, "lab2", "[127.0.0.1]:2200")
    stale = [
        "[127.0.0.1]:2299 ssh-ed25519 AAAA-lab1-at-its-old-port lab1",
        "[127.0.0.1]:2222 ssh-ed25519 AAAA-another-machine-had-this-port lab7",
    ]
    lab.paths.known_hosts.write_text("".join(f"{line}\n" for line in stale + lab2_keys))
    lab, _ = with_nodes(lab, (r"^ip -o -4 addr", (0, IP_ADDR)))
    lab_up(lab, ["lab1"], "virtualbox")
    assert key_lines(lab.paths.known_hosts) == [
        *lab2_keys,
        *recorded_scan(2222, "lab1", "[127.0.0.1]:2222"),
    ]


def test_a_virtualbox_machine_forwarded_to_another_port_keeps_its_keys_with_standin_tools(
    lab: Lab, vagrant_log: Path, vboxmanage_log: Path, keyscan_log: Path
):
    write_machine_id(lab, "lab1", "virtualbox", "id-of-lab1")  # there since its creation
    at_old_port = recorded_scan(2222, "lab1", "[127.0.0.1]:2299")
    lab.paths.known_hosts.write_text("".join(f"{line}\n" for line in at_old_port))
    lab, _ = with_nodes(lab, (r"^ip -o -4 addr", (0, IP_ADDR)))
    lab_up(lab, ["lab1"], "virtualbox")  # Vagrant now forwards 2222 (ssh-config)
    assert not keyscan_log.exists(), "the keys it was created with, not whatever answers now"
    assert key_lines(lab.paths.known_hosts) == recorded_scan(2222, "lab1", "[127.0.0.1]:2222")


def test_lab_up_asks_a_virtualbox_machine_without_recorded_keys_with_standin_tools(
    lab: Lab, vagrant_log: Path, vboxmanage_log: Path, keyscan_log: Path
):
    # lab1 is there (a lab.up that failed after `vagrant up`, or one older than recording).
    write_machine_id(lab, "lab1", "virtualbox", "id-of-lab1")
    lab, _ = with_nodes(lab, (r"^ip -o -4 addr", (0, IP_ADDR)))
    lab_up(lab, ["lab1"], "virtualbox")
    assert keyscan_log.read_text().splitlines() == ["-T 30 -p 2222 127.0.0.1"]
    assert key_lines(lab.paths.known_hosts) == recorded_scan(2222, "lab1", "[127.0.0.1]:2222")


def test_a_virtualbox_machine_that_shows_no_key_stops_lab_up_with_standin_tools(
    lab: Lab,
    vagrant_log: Path,
    vboxmanage_log: Path,
    keyscan_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
):
    monkeypatch.setenv("SSH_KEYSCAN_STANDIN_DIR", str(tmp_path / "no-scans"))
    lab, opened = with_nodes(lab, (r"^ip -o -4 addr", (0, IP_ADDR)))
    with pytest.raises(
        NetmatrixError,
        match=r"^lab1: ssh-keyscan got no host key from 127\.0\.0\.1:2222 \(# 127\.0\.0\.1:2222 "
        r"SSH-2\.0-OpenSSH_9\.2p1 Debian-2\+deb12u10\); rerun `invoke lab\.up --hosts lab1`$",
    ):
        lab_up(lab, ["lab1"], "virtualbox")
    assert opened == [], "nothing connects to a machine whose key is not recorded"
    assert not lab.paths.inventory.exists()


def test_node_key_files_become_known_hosts_lines_under_the_forwarded_port():
    ssh = SshConfig("lab1", "127.0.0.1", 2222, "vagrant", "/k")
    keys = lifecycle.host_keys(
        "lab1", ssh, fixture_text("ssh-host-keys-pub-2222.txt").splitlines(), "f"
    )
    # The same keys ssh-keyscan saw at that port: key files and scan agree.
    assert [key.line for key in keys] == recorded_scan(2222, "lab1", "[127.0.0.1]:2222")


@pytest.mark.parametrize(
    "line",
    [
        "ssh-ed25519",
        "ssh-ed25519 not-base64!",
        "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIPMYOmxbRene1Fz4cugKzn7vgSCpKFoHE/PP2ZotOnxO",
        "ssh-nosuch AAAA",
        "error: no such file",
    ],
)
def test_what_is_not_a_public_key_is_refused(line: str):
    ssh = SshConfig("lab1", "127.0.0.1", 2222, "vagrant", "/k")
    with pytest.raises(NetmatrixError, match=r"^lab1: /etc/ssh/x holds no SSH public key: "):
        lifecycle.host_keys("lab1", ssh, [line], "/etc/ssh/x")


def test_no_key_file_at_all_is_refused():
    ssh = SshConfig("lab1", "127.0.0.1", 2222, "vagrant", "/k")
    with pytest.raises(NetmatrixError, match=r"^lab1: f holds no SSH public key$"):
        lifecycle.host_keys("lab1", ssh, ["", "  "], "f")


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
        (r"^ip -d -o link show eth1$", (0, IP_LINK_PROMISC)),
    )
    lab_promisc(lab, ["lab1"], "allow-all", 2)
    assert opened[0].calls == [
        ("ip link set eth1 promisc on", True),
        ("ip -d -o link show eth1", False),
    ]
    assert said == [
        "lab1: docker node, no hypervisor NIC to set: turned eth1 promiscuous on inside the "
        "node with `ip link` (ip -d link: promiscuity 1)"
    ]


def test_promisc_on_libvirt_vms_sets_the_guest_nic_and_verifies_it(lab: Lab, said: list[str]):
    vm = Host("lab1", {"provider": "libvirt", "lab_nic": "eth1"}, ("lab",))
    write_lab_inventory(lab.paths.inventory, {"lab1": vm})
    lab, opened = with_nodes(
        lab,
        (r"^ip link set eth1 promisc on$", (0, "")),
        (r"^ip -d -o link show eth1$", (0, IP_LINK_PROMISC)),
    )
    lab_promisc(lab, ["lab1"], "allow-all", 2)
    assert opened[0].commands == ["ip link set eth1 promisc on", "ip -d -o link show eth1"]
    assert said == [
        "lab1: libvirt VM, no hypervisor NIC to set: turned eth1 promiscuous on inside the "
        "VM with `ip link` (ip -d link: promiscuity 1)"
    ]


def test_deny_turns_promiscuous_mode_off_in_docker_nodes(lab: Lab):
    node = Host("lab1", {"provider": "docker", "lab_nic": "eth1"}, ("lab",))
    write_lab_inventory(lab.paths.inventory, {"lab1": node})
    lab, opened = with_nodes(
        lab, (r"^ip link set eth1 promisc off$", (0, "")), (r"^ip -d -o link", (0, IP_LINK))
    )
    lab_promisc(lab, ["lab1"], "deny", 2)
    assert opened[0].commands[0] == "ip link set eth1 promisc off"


def test_docker_node_that_stays_unpromiscuous_is_an_error(lab: Lab):
    node = Host("lab1", {"provider": "docker", "lab_nic": "eth1"}, ("lab",))
    write_lab_inventory(lab.paths.inventory, {"lab1": node})
    lab, _ = with_nodes(lab, (r"^ip link set", (0, "")), (r"^ip -d -o link", (0, IP_LINK)))
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
    lab1_keys = recorded_scan(2222, "lab1", "[127.0.0.1]:2222")
    lab2_keys = recorded_scan(2200, "lab2", "[127.0.0.1]:2200")
    lab.paths.known_hosts.write_text("".join(f"{line}\n" for line in lab1_keys + lab2_keys))
    monkeypatch.setattr(lifecycle, "docker_client", lambda: None)
    lab_down(lab, ["lab1"])
    assert vagrant_log.read_text().splitlines() == ["destroy --force lab1"]
    assert as_data(read_lab_inventory(lab.paths.inventory)) == as_data({"bench1": BENCH})
    assert lab.provider_of("lab1") is None
    assert key_lines(lab.paths.known_hosts) == lab2_keys
    lab_down(lab, ["lab2"])
    assert not lab.paths.known_hosts.exists()


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
