"""Loading playbooks: the supported language, and every load error with its file and line."""

from pathlib import Path

import pytest

from orchestrator import modules
from orchestrator.playbook import PlaybookError, load_playbook, parse_free_form, parse_playbook

BAD = Path(__file__).resolve().parents[2] / "fixtures" / "playbooks" / "bad"


def load_error(name: str) -> str:
    with pytest.raises(PlaybookError) as caught:
        load_playbook(BAD / name)
    return str(caught.value)


def test_site_playbook_loads_into_frozen_values():
    book = load_playbook(BAD.parent / "site.yml")
    (play,) = book.plays
    assert play.name == "set up lab hosts" and play.hosts == "all" and play.become is True
    assert [t.label for t in play.tasks][:3] == ["workspace", "settings file", "static file"]
    assert play.tasks[1].notify == ("reload settings",)
    assert play.tasks[2].args == {"src": "motd", "dest": "/etc/motd"}
    assert play.tasks[4].loop == "{{ message_sizes }}"
    assert play.tasks[5].register == "kernel" and play.tasks[5].tags == ("probe",)
    assert play.tasks[0].where.endswith("site.yml:9")
    assert book.base_dir == BAD.parent
    with pytest.raises(TypeError):
        play.tasks[0].args["path"] = "/elsewhere"  # type: ignore[index]


def test_yaml_syntax_error_names_line_and_column():
    assert load_error("yaml_syntax.yml").endswith(
        "bad/yaml_syntax.yml:5:15: mapping values are not allowed here"
    )


def test_unknown_module_names_the_task_and_lists_the_modules():
    message = load_error("unknown_module.yml")
    assert "unknown_module.yml:7: task 'install perf': unknown module 'apt_get'" in message
    assert "modules: " + ", ".join(modules.names()) in message


def test_unknown_task_key():
    message = load_error("unknown_task_key.yml")
    assert "unknown_task_key.yml:6: task 'install perf': unknown task key 'whn'" in message
    assert "task keys: name, when," in message


def test_when_that_does_not_parse():
    message = load_error("bad_when.yml")
    assert "bad_when.yml:8: task 'bad condition': when `kernel.stdout is version" in message
    assert "does not evaluate" in message


def test_notify_of_a_missing_handler():
    message = load_error("unknown_handler.yml")
    assert "notifies 'restart dockre', but the play has no such handler" in message
    assert "handlers: restart docker" in message


def test_unknown_module_argument():
    message = load_error("unknown_argument.yml")
    assert "unknown_argument.yml:4: task 'config': copy has no argument 'destination'" in message


def test_unknown_play_key():
    assert "unknown play key 'roles' (roles is not supported)" in load_error("unknown_play_key.yml")


def test_playbook_must_be_a_list():
    assert "a playbook is a list of plays" in load_error("not_a_list.yml")


def test_missing_file():
    with pytest.raises(PlaybookError, match="no such playbook"):
        load_playbook(BAD / "nope.yml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the playbook is empty"),
        ("- tasks: []\n", "every play needs `hosts:`"),
        ("- hosts: all\n  tasks:\n    - name: x\n", "task 'x' names no module"),
        ("- hosts: all\n  tasks:\n    - {command: a, shell: b}\n", "more than one module"),
        ("- hosts: all\n  tasks:\n    - {command: a, register: 1x}\n", "register must be"),
        ("- hosts: all\n  tasks:\n    - {command: a, loop: {a: 1}}\n", "loop must be a list"),
        (
            "- hosts: all\n  tasks:\n    - {command: a, delegate_to: lab2}\n",
            "delegate_to: localhost",
        ),
        ("- hosts: all\n  serial: 0\n", "serial must be a positive count"),
        ("- hosts: all\n  become: maybe\n", "become must be true or false"),
        ("- hosts: all\n  tasks:\n    - {command: 'echo {{ x', name: t}\n", "template syntax"),
        ("- hosts: all\n  tasks:\n    - apt: name=x bogus\n", "'bogus' is not one"),
        ("- hosts: all\n  handlers:\n    - {command: a}\n", "a handler needs a name"),
        ("- hosts: all\n  hosts: lab\n", "duplicate key 'hosts'"),
        ("- hosts: all\n  command: x\n", "is the task list indented under `tasks:`?"),
        (
            "- hosts: all\n  tasks:\n    - {apt: {name: x, state: {{ s }}}}\n",
            "inline.yml:3:31: a mapping key must be a scalar (a value that starts with {{ must be",
        ),
    ],
)
def test_load_errors(text, message):
    with pytest.raises(PlaybookError, match=None) as caught:
        parse_playbook(text, "inline.yml")
    assert message in str(caught.value)


def test_ansible_style_names_and_defaults():
    book = parse_playbook(
        """
- hosts: [lab1, lab2]
  tasks:
    - ansible.builtin.command: uname -r
    - community.docker.docker_image: {name: x}
    - apt: name=docker.io state=present
      tags: install,docker
"""
    )
    (play,) = book.plays
    assert play.name == "lab1,lab2" and play.hosts == "lab1,lab2"
    assert play.gather_facts is False
    assert [t.module for t in play.tasks] == ["command", "docker_image", "apt"]
    assert play.tasks[2].args == {"name": "docker.io", "state": "present"}
    assert play.tasks[2].tags == ("install", "docker")


# --- free-form text -------------------------------------------------------------------------


def test_command_free_form_keeps_the_command_and_takes_its_options():
    args = parse_free_form(
        "make install chdir=/opt/app creates=/usr/bin/app", modules.get("command")
    )
    assert args == {"_raw_params": "make install", "chdir": "/opt/app", "creates": "/usr/bin/app"}


def test_shell_free_form_keeps_newlines_quotes_and_templates():
    text = 'set -e\necho "a  b" > {{ out }}\nFOO=bar env | grep FOO\nexecutable=/bin/bash'
    args = parse_free_form(text, modules.get("shell"))
    assert args["_raw_params"] == 'set -e\necho "a  b" > {{ out }}\nFOO=bar env | grep FOO'
    assert args["executable"] == "/bin/bash"


def test_key_value_text_with_quotes_and_templates():
    args = parse_free_form(
        'content="a b {{ c }}" dest={{ d | default("/x y") }}', modules.get("copy")
    )
    assert args == {"content": "a b {{ c }}", "dest": '{{ d | default("/x y") }}'}


def test_unbalanced_quotes_are_an_error():
    with pytest.raises(PlaybookError, match="unbalanced quote"):
        parse_playbook("- hosts: all\n  tasks:\n    - copy: content='x dest=/y\n")
