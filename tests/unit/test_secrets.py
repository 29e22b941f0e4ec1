"""Issue 7, security: a planted become password and private-key path never leave the inventory.

They must not show in `invoke play`/`invoke facts` output, host reprs, inventory errors, the
results database, nor anything `results.export` and `results.report` write. Files naming keys
are 0600; the database and artifacts are not world-writable, whatever the umask.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from invoke import Context, Exit

from orchestrator.artifacts import write_artifact
from orchestrator.connection import UnreachableError, connect
from orchestrator.db import repository
from orchestrator.db.models import RunStatus
from orchestrator.db.session import open_database
from orchestrator.facts import HostFacts, gather_hosts
from orchestrator.host import Host
from orchestrator.inventory import InventoryError, load_inventory
from orchestrator.inventory.cli import ansible_inventory_text
from orchestrator.lab.labfile import write_lab_inventory
from orchestrator.tasks import facts as facts_task
from orchestrator.tasks import play as play_task
from tests.unit.analysis.conftest import run as run_cli
from tests.unit.db.builders import KERNEL
from tests.unit.db.conftest import db, migrated, url  # noqa: F401 - fixtures used here
from tests.unit.reports.builders import Lab, fill_paper
from tests.unit.reports.conftest import env, lab  # noqa: F401 - fixtures used here

SECRET = f"NM-SECRET-{uuid.uuid4()}"
KEYDIR = f"NM-KEYPATH-{uuid.uuid4()}"
PLANTED = (SECRET, KEYDIR)


def inventory_text(key: Path) -> str:
    return f"""
all:
  vars:
    ansible_become_password: {SECRET}
    ansible_ssh_private_key_file: {key}
  hosts:
    local1: {{ansible_connection: local}}
    local2: {{ansible_connection: local}}
  children:
    broken:
      hosts:
        down1: {{ansible_host: 127.0.0.1, ansible_port: 1, ansible_user: nobody}}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An inventory with the planted secrets; the key file exists only for local hosts' sake."""
    (tmp_path / KEYDIR).mkdir()
    (tmp_path / "inventory.yml").write_text(inventory_text(tmp_path / KEYDIR / "missing_key"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 000: whatever is not world-writable then sets its own mode."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def assert_clean(text: str | bytes, where: str) -> None:
    data = text.encode() if isinstance(text, str) else text
    for planted in PLANTED:
        assert planted.encode() not in data, f"{planted} leaked into {where}"


def test_the_inventory_carries_the_planted_values(workdir):
    # The premise of every other test: the secrets are loaded, and --list exports them as
    # ansible-inventory does.
    host = load_inventory("inventory.yml").hosts["local1"]
    assert host.become_password == SECRET and KEYDIR in str(host.key_file)
    listed = ansible_inventory_text("inventory.yml", list_=True)
    assert SECRET in listed and KEYDIR in listed


PLAYBOOK = """
- hosts: all
  gather_facts: true
  tasks:
    - command: echo hello
    - debug: msg="on {{ inventory_hostname }}"
    - debug: var=group_names
    - shell: echo to-stderr >&2; exit 3
      ignore_errors: true
    - command: ls {{ item }}
      loop: [/nonexistent-a, /nonexistent-b]
      ignore_errors: true
    - command: "{{ 'false' if inventory_hostname == 'local2' else 'true' }}"
    - command: echo {{ undefined_variable }}
"""


def test_play_output_shows_no_secret_even_when_tasks_fail(workdir, capsys):
    (workdir / "site.yml").write_text(PLAYBOOK)
    with pytest.raises(Exit) as caught:
        play_task.play(Context(), playbook="site.yml", hosts="all", inventory="inventory.yml")
    captured = capsys.readouterr()
    assert caught.value.code == 4  # down1 is unreachable; local1 and local2 failed
    out = captured.out
    assert 'ok: [local1] => {\n    "msg": "on local1"\n}' in out
    assert "fatal: [local2]: FAILED!" in out and "to-stderr" in out
    assert "fatal: [local1]: FAILED!" in out and "undefined_variable" in out
    assert "fatal: [down1]: UNREACHABLE!" in out and "ansible_ssh_private_key_file" in out
    assert "local1                     : ok=" in out
    assert_clean(out, "play stdout")
    assert_clean(captured.err, "play stderr")


def test_play_errors_before_running_show_no_secret(workdir):
    (workdir / "site.yml").write_text("- hosts: all\n  tasks:\n    - dockr: {}\n")
    for hosts in ("nosuch", "local1"):
        with pytest.raises(Exit) as caught:
            play_task.play(Context(), playbook="site.yml", hosts=hosts, inventory="inventory.yml")
        assert caught.value.code == 2 and str(caught.value.message).startswith("error: ")
        assert_clean(str(caught.value.message), f"play error for --hosts {hosts}")


@pytest.mark.parametrize("format", ["json", "table"])
def test_facts_output_shows_no_secret(workdir, capsys, format):
    facts_task.facts(Context(), hosts="local1", inventory="inventory.yml", format=format)
    captured = capsys.readouterr()
    assert "kernel_release" in captured.out
    assert_clean(captured.out, f"facts --format {format} stdout")
    assert_clean(captured.err, f"facts --format {format} stderr")


def test_facts_errors_show_no_secret(workdir, capsys):
    with pytest.raises(Exit) as caught:
        facts_task.facts(Context(), hosts="down1", inventory="inventory.yml")
    assert caught.value.code == 2 and "down1" in str(caught.value.message)
    assert_clean(str(caught.value.message), "facts error")
    assert_clean(capsys.readouterr().out, "facts stdout")


def test_host_repr_and_inventory_errors_show_no_secret(workdir):
    inventory = load_inventory("inventory.yml")
    for host in inventory.hosts.values():
        assert repr(host).startswith(f"Host(name={host.name!r}")
        assert_clean(repr(host), f"repr of {host.name}")
        assert SECRET not in str(host.public_vars())
    assert_clean(repr(inventory), "repr of the inventory")
    attempts = [
        lambda: inventory.select("nosuch"),
        lambda: inventory.select("all:!nosuch"),
        lambda: inventory.select("local1:&broken"),
        lambda: inventory.select("all[9]"),
        lambda: inventory.group_hosts("nosuch"),
        lambda: inventory.to_ansible_host("all"),
        lambda: inventory.graph("nosuch"),
    ]
    for attempt in attempts:
        with pytest.raises(InventoryError) as caught:
            attempt()
        assert_clean(str(caught.value), "an inventory error")
    with pytest.raises(InventoryError, match="known hosts: local1, local2, down1"):
        inventory.select("nosuch")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.ini", f'[lab]\nlab1 ansible_become_password="{SECRET}\n', "bad.ini:2"),
        ("bad.yml", f"all:\n  hosts:\n    lab1: {{ansible_become_password: {SECRET}\n", "bad.yml"),
        (
            "bad2.yml",
            f"all:\n  hosts:\n    lab1:\n      ansible_become_password: {SECRET}\n"
            "  children: [1]\n",
            "bad2.yml:5:3",
        ),
    ],
    ids=["ini", "yaml-flow", "yaml-block"],  # the secret is random: not in the test's name
)
def test_malformed_inventories_do_not_quote_the_password(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(InventoryError) as caught:
        load_inventory(tmp_path / name)
    assert message in str(caught.value)
    assert_clean(str(caught.value), f"the error for {name}")


def test_database_export_and_report_hold_no_secret(workdir, lab: Lab, capsys):  # noqa: F811
    inventory = load_inventory("inventory.yml")
    gathered = gather_hosts([inventory.hosts["local1"]])["local1"]
    assert isinstance(gathered, HostFacts)
    # What the matrix stores for a host: its facts (the builders' cells want their kernel).
    facts = {**gathered.as_dict(), "kernel_release": KERNEL}
    lab.snapshots["lab1"] = repository.record_host_snapshot(lab.db, "lab1", facts)
    lab.snapshots["down1"] = repository.record_host_snapshot(lab.db, "down1", facts)
    fill_paper(lab)
    # …and for a host it cannot reach, the error as a lane's run words it (`experiment.lanes`).
    with pytest.raises(UnreachableError) as unreachable:
        connect(inventory.hosts["down1"], retries=0)
    error = f"unreachable: {unreachable.value}"
    lab.run("loopback", 64, RunStatus.FAILED, host="down1", error=error)
    lab.db.close()

    out = workdir / "published"
    page = workdir / "report.html"
    assert run_cli("results.export", "--out", str(out), "--results", str(lab.results)) == 0
    assert run_cli("results.report", "--out", str(page)) == 0
    assert run_cli("results.runs", "--format", "json") == 0
    printed = capsys.readouterr()
    assert "down1" in printed.out and "ansible_ssh_private_key_file" in printed.out

    hosts = json.loads((out / "hosts.json").read_text())
    assert {snapshot["host"] for snapshot in hosts} >= {"lab1", "down1"}
    produced = [path for path in out.rglob("*") if path.is_file()] + [page]
    assert len(produced) > 10 and page.stat().st_size > 10000
    database = Path(os.environ["NETMATRIX_DB"].removeprefix("sqlite:///"))
    for path in [*produced, *database.parent.glob(database.name + "*")]:
        assert_clean(path.read_bytes(), str(path))
    assert_clean(printed.out + printed.err, "the tasks' output")


def test_lab_inventory_naming_keys_is_0600_whatever_the_umask(tmp_path, permissive_umask):
    path = tmp_path / "lab" / "lab.yml"
    node = Host("lab1", {"ansible_host": "127.0.0.1", "ansible_ssh_private_key_file": "k"})
    path.parent.mkdir()
    path.write_text("old\n")
    path.chmod(0o666)
    write_lab_inventory(path, {"lab1": node})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "ansible_ssh_private_key_file: k" in path.read_text()


def test_database_files_are_not_world_writable(tmp_path, permissive_umask):
    path = tmp_path / "results" / "netmatrix.db"
    with open_database(f"sqlite:///{path}") as database:
        repository.record_host_snapshot(database, "lab1", {"kernel_release": KERNEL})
        with database.engine.connect():  # keep the WAL and shared memory in place
            created = sorted(path.parent.iterdir())
            assert [file.name for file in created] == [
                "netmatrix.db",
                "netmatrix.db-shm",
                "netmatrix.db-wal",
            ]
            for file in [path.parent, *created]:
                assert file.stat().st_mode & 0o002 == 0, f"{file} is world-writable"


def test_artifacts_are_not_world_writable(tmp_path, permissive_umask):
    results = tmp_path / "results"
    directory = results / "artifacts" / "paper" / "mode=loopback" / "rep-1"
    artifact = write_artifact(directory, "client.json", '{"mbps": 1}\n')
    again = write_artifact(directory, "server.json", "{}\n")
    assert artifact.path.read_text() == '{"mbps": 1}\n' and again.kind == "server"
    for path in [results, *results.rglob("*")]:
        assert path.stat().st_mode & 0o002 == 0, f"{path} is world-writable"
