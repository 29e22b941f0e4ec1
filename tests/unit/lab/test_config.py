from pathlib import Path

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.lab.config import REPO_ROOT, Machine, lab_paths, load_config


def config(**environ: str):
    return load_config(lab_paths(environ), environ)


def test_defaults_come_from_lab_vagrant_yml():
    lab = config()
    assert lab.machines == (
        Machine("lab1", "ubuntu/jammy64", "192.168.60.11"),
        Machine("lab2", "debian/bookworm64", "192.168.60.12"),
    )
    assert (lab.cpus, lab.memory, lab.image) == (2, 2048, "netmatrix/node")
    assert lab.docker_network == "vagrant_network_192.168.60.0/24"


def test_environment_overrides_count_boxes_network_and_sizes():
    lab = config(
        NETMATRIX_LAB_COUNT="3",
        NETMATRIX_LAB_BOXES="a/one, b/two",
        NETMATRIX_LAB_NETWORK="10.9.0.0/24",
        NETMATRIX_LAB_CPUS="4",
        NETMATRIX_LAB_MEMORY="4096",
    )
    assert [(m.name, m.box, m.address) for m in lab.machines] == [
        ("lab1", "a/one", "10.9.0.11"),
        ("lab2", "b/two", "10.9.0.12"),
        ("lab3", "a/one", "10.9.0.13"),
    ]
    assert (lab.cpus, lab.memory) == (4, 4096)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NETMATRIX_LAB_COUNT", "two", "NETMATRIX_LAB_COUNT: expected a positive integer"),
        ("NETMATRIX_LAB_MEMORY", "0", "NETMATRIX_LAB_MEMORY: expected a positive integer"),
        ("NETMATRIX_LAB_NETWORK", "192.168.60.1/24", "NETMATRIX_LAB_NETWORK: expected an IPv4"),
        ("NETMATRIX_LAB_NETWORK", "10.0.0.0/29", "10.0.0.0/29 is too small for 2"),
        ("NETMATRIX_LAB_BOXES", " , ", "NETMATRIX_LAB_BOXES: expected at least one name"),
    ],
)
def test_bad_values_name_the_variable(variable, value, message):
    with pytest.raises(NetmatrixError, match=message):
        config(**{variable: value})


def test_bad_file_values_name_the_file_and_key(tmp_path: Path):
    (tmp_path / "inventories").mkdir()
    text = (REPO_ROOT / "inventories" / "lab.vagrant.yml").read_text()
    (tmp_path / "inventories" / "lab.vagrant.yml").write_text(text.replace("cpus: 2", "cpus: x"))
    environ = {"VAGRANT_CWD": str(tmp_path)}
    with pytest.raises(NetmatrixError, match=r"lab\.vagrant\.yml: cpus: expected a positive"):
        load_config(lab_paths(environ), environ)


def test_select_keeps_order_and_defaults_to_every_machine():
    lab = config()
    assert [m.name for m in lab.select(["lab2", "lab1", "lab2"])] == ["lab2", "lab1"]
    assert lab.select([]) == lab.machines


def test_select_refuses_a_host_the_vagrantfile_does_not_define():
    with pytest.raises(NetmatrixError, match="host lab9 is not in the Vagrantfile") as error:
        config().select(["lab1", "lab9"])
    assert "NETMATRIX_LAB_COUNT" in str(error.value)


def test_paths_follow_the_environment(tmp_path: Path):
    paths = lab_paths(
        {"VAGRANT_DOTFILE_PATH": str(tmp_path / "d"), "NETMATRIX_LAB_INVENTORY": "x/lab.yml"}
    )
    assert paths.root == REPO_ROOT
    assert paths.dotfile == tmp_path / "d"
    assert paths.inventory == REPO_ROOT / "x" / "lab.yml"
    assert paths.machine_id_file("lab1", "docker") == tmp_path / "d/machines/lab1/docker/id"
    assert paths.vagrant_env({"A": "1"}) == {
        "A": "1",
        "VAGRANT_CWD": str(REPO_ROOT),
        "VAGRANT_DOTFILE_PATH": str(tmp_path / "d"),
    }
