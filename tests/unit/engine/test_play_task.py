"""`invoke play`: arguments, exit codes, clear errors — run for real on local hosts."""

import json
from pathlib import Path

import pytest
from invoke import Context, Exit

from orchestrator.tasks import play as play_task
from orchestrator.tasks.play import parse_extra_vars

INVENTORY = """
all:
  hosts:
    local1: {ansible_connection: local}
    local2: {ansible_connection: local}
  children:
    broken:
      hosts:
        down1: {ansible_host: 127.0.0.1, ansible_port: 1, ansible_user: nobody}
"""

# Every value below reaches a command; none may ever run as shell code.
CANARY_PLAYBOOK = """
- hosts: all
  vars:
    out: "{{ workdir }}/{{ inventory_hostname }}"
  tasks:
    - file: path={{ out }} state=directory
    - copy:
        content: "{{ evil }}\\n"
        dest: "{{ out }}/{{ evil }}"
    - command: touch {{ out }}/{{ evil }}-command
    - shell: echo {{ evil }} > {{ out }}/shell.txt
    - file:
        path: "{{ out }}/dir {{ evil }}"
        state: directory
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "inventory.yml").write_text(INVENTORY)
    monkeypatch.chdir(tmp_path)  # where a `$(touch canary)` would land
    return tmp_path


def run_task(**kwargs) -> None:
    play_task.play(Context(), **kwargs)


def test_values_with_shell_metacharacters_are_never_executed(workdir, capsys):
    canary = "$(touch canary-subst);`touch canary-tick`;touch canary-semi"
    (workdir / "site.yml").write_text(CANARY_PLAYBOOK)
    run_task(
        playbook="site.yml",
        hosts="local1,local2",
        inventory="inventory.yml",
        extra_vars=json.dumps({"workdir": str(workdir), "evil": canary}),
    )
    assert not list(workdir.rglob("canary*")) and not list(Path("/tmp").glob("canary-*"))
    for host in ("local1", "local2"):
        out = workdir / host
        assert (out / canary).read_text() == canary + "\n"
        assert (out / f"{canary}-command").exists()
        assert (out / "shell.txt").read_text() == canary + "\n"
        assert (out / f"dir {canary}").is_dir()
    assert "local1                     : ok=5    changed=5" in capsys.readouterr().out


def test_second_run_and_check_mode_change_nothing(workdir, capsys):
    (workdir / "site.yml").write_text(
        "- hosts: all\n  tasks:\n"
        "    - file: path={{ workdir }}/d state=directory mode=0750\n"
        "    - copy: content=hello dest={{ workdir }}/d/{{ inventory_hostname }}\n"
    )
    common = {"playbook": "site.yml", "hosts": "local1", "inventory": "inventory.yml"}
    run_task(**common, extra_vars=f"workdir={workdir}", check=True)
    assert "changed=2" in capsys.readouterr().out and not (workdir / "d").exists()
    run_task(**common, extra_vars=f"workdir={workdir}")
    assert "changed=2" in capsys.readouterr().out
    assert (workdir / "d" / "local1").read_text() == "hello"
    assert (workdir / "d").stat().st_mode & 0o777 == 0o750
    run_task(**common, extra_vars=f"workdir={workdir}")
    assert "ok=2    changed=0" in capsys.readouterr().out


def test_failed_host_exits_2_and_unreachable_exits_4(workdir, capsys):
    (workdir / "site.yml").write_text(
        "- hosts: all\n  tasks:\n"
        "    - command: \"{{ 'false' if inventory_hostname == 'local2' else 'true' }}\"\n"
    )
    with pytest.raises(Exit) as failed:
        run_task(playbook="site.yml", hosts="local1,local2", inventory="inventory.yml")
    assert failed.value.code == 2
    assert "local1                     : ok=1 " in capsys.readouterr().out
    with pytest.raises(Exit) as unreachable:
        run_task(playbook="site.yml", hosts="local1,down1", inventory="inventory.yml")
    assert unreachable.value.code == 4
    out = capsys.readouterr().out
    assert "fatal: [down1]: UNREACHABLE!" in out
    assert "local1                     : ok=1    changed=1    unreachable=0    failed=0" in out


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hosts": ""}, "--hosts is required"),
        ({"forks": "0"}, "--forks: 0 is out of range (1..256)"),
        ({"playbook": "missing.yml"}, "missing.yml: no such playbook"),
        ({"extra_vars": "novalue"}, "--extra-vars: 'novalue' is not name=value"),
        ({"hosts": "lab9"}, "lab9"),
    ],
)
def test_bad_input_is_one_clear_line_with_exit_2(workdir, kwargs, message):
    (workdir / "site.yml").write_text("- hosts: all\n  tasks:\n    - command: 'true'\n")
    args = {"playbook": "site.yml", "hosts": "local1", "inventory": "inventory.yml", **kwargs}
    with pytest.raises(Exit) as caught:
        run_task(**args)
    assert caught.value.code == 2
    assert str(caught.value.message).startswith("error: ") and message in caught.value.message
    assert "Traceback" not in caught.value.message


def test_unknown_module_is_reported_before_anything_runs(workdir):
    (workdir / "site.yml").write_text(
        "- hosts: all\n  tasks:\n    - file: path=/tmp/never state=touch\n"
        "    - name: bad\n      dockr: {name: x}\n"
    )
    with pytest.raises(Exit) as caught:
        run_task(playbook="site.yml", hosts="local1", inventory="inventory.yml")
    assert "site.yml:5: task 'bad': unknown module 'dockr'; modules: apt," in caught.value.message


def test_parse_extra_vars(tmp_path):
    assert parse_extra_vars("a=1,b=x y") == {"a": "1", "b": "x y"}
    assert parse_extra_vars('{"n": 2}') == {"n": 2}
    (tmp_path / "v.yml").write_text("sizes: [64]\n")
    assert parse_extra_vars(f"@{tmp_path / 'v.yml'}") == {"sizes": [64]}
    assert parse_extra_vars("") == {}
