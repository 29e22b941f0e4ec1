from pathlib import Path

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.lab.lifecycle import Lab
from orchestrator.lab.vagrant import SshConfig, parse_ssh_config

from .conftest import fixture_text


def test_ssh_config_recorded_from_the_docker_provider():
    configs = parse_ssh_config(fixture_text("vagrant-ssh-config-docker.txt"))
    assert configs == {
        "lab1": SshConfig(
            "lab1", "127.0.0.1", 2222, "vagrant", "/tmp/exp/dot/machines/lab1/docker/private_key"
        ),
        "lab2": SshConfig(
            "lab2", "127.0.0.1", 2200, "vagrant", "/tmp/exp/dot/machines/lab2/docker/private_key"
        ),
    }


def test_ssh_config_quoted_identity_file_and_first_of_repeated_options():
    text = (
        "Host lab1\n  HostName 10.0.0.5\n  User vagrant\n  Port 22\n"
        '  IdentityFile "/home/a b/.vagrant/machines/lab1/virtualbox/private_key"\n'
        "  IdentityFile /home/a/.vagrant.d/insecure_private_key\n"
    )
    config = parse_ssh_config(text)["lab1"]
    assert config.identity_file == "/home/a b/.vagrant/machines/lab1/virtualbox/private_key"
    assert (config.hostname, config.port) == ("10.0.0.5", 22)


def test_ssh_config_without_a_port_is_refused():
    with pytest.raises(NetmatrixError, match="ssh-config for lab1 lacks port"):
        parse_ssh_config("Host lab1\n  HostName x\n  User u\n  IdentityFile k\n")


def test_vagrant_runs_with_the_lab_vagrantfile_and_state(lab: Lab, vagrant_log: Path):
    configs = lab.vagrant.ssh_config(["lab1", "lab2"])
    assert set(configs) == {"lab1", "lab2"}
    lab.vagrant.up(["lab1"], "docker")
    assert lab.paths.machine_id_file("lab1", "docker").read_text() == "id-of-lab1\n"
    assert vagrant_log.read_text().splitlines() == [
        "ssh-config lab1 lab2",
        "up --provider=docker lab1",
    ]


def test_ssh_config_missing_a_host_is_an_error(lab: Lab, vagrant_log: Path):
    with pytest.raises(NetmatrixError, match="printed nothing for lab3"):
        lab.vagrant.ssh_config(["lab1", "lab3"])


def test_vagrant_failure_is_one_line_with_the_fix(
    lab: Lab, vagrant_log: Path, monkeypatch: pytest.MonkeyPatch, lab_environ
):
    message = (
        "The box 'ubuntu/jammy64' could not be found or\n"
        "could not be accessed in the remote catalog."
    )
    monkeypatch.setitem(lab_environ, "VAGRANT_STANDIN_FAIL", message)
    with pytest.raises(NetmatrixError) as error:
        lab.vagrant.up(["lab1"], "virtualbox")
    text = str(error.value)
    assert "\n" not in text
    assert "could not be found or could not be accessed in the remote catalog" in text
    assert text.endswith("then rerun `invoke lab.up`")


def test_missing_vagrant_names_the_install(lab: Lab, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NetmatrixError, match=r"vagrant not found on PATH: install Vagrant"):
        lab.vagrant.destroy(["lab1"])
