"""What a run prints: plain lines matching ansible-playbook's, rich on a terminal, the recap."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator.display import PlainDisplay, RichDisplay, make_display
from orchestrator.engine import run_playbook
from orchestrator.host import Host
from orchestrator.playbook import load_playbook, parse_playbook
from orchestrator.recap import HostStats, recap_line
from tests.unit.engine.lab import Lab

COMPARED = ("PLAY", "TASK", "ok:", "changed:", "skipping:", "...ignoring", "fatal:", "localhost ")

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - command: "true"
    - command: "true"
      changed_when: false
    - command: "false"
      ignore_errors: true
    - command: "true"
      when: false
"""


def test_recap_line_is_ansibles_format():
    assert recap_line("lab1", HostStats(ok=7, skipped=1)) == (
        "lab1                       : ok=7    changed=0    unreachable=0    failed=0    "
        "skipped=1    rescued=0    ignored=0   "
    )


@pytest.mark.slow
def test_same_lines_as_ansible_playbook(tmp_path: Path):
    """Run one playbook with ansible-core and with netmatrix on localhost; compare the output."""
    path = tmp_path / "local.yml"
    path.write_text(PLAYBOOK)
    ansible = Path(sys.executable).parent / "ansible-playbook"
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    theirs = subprocess.run(
        [str(ansible), "-i", "localhost,", "-c", "local", str(path),
         "-e", f"ansible_python_interpreter={sys.executable}"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    out = io.StringIO()
    run = run_playbook(
        load_playbook(path),
        [Host("localhost", {"ansible_connection": "local"})],
        display=PlainDisplay(out),
    )

    def lines(text: str) -> list[str]:
        kept = [line for line in text.splitlines() if line.startswith(COMPARED)]
        return [line.split(" => ")[0] for line in kept]  # results carry timestamps

    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    assert lines(out.getvalue()) == lines(theirs.stdout)
    assert run.stats["localhost"] == HostStats(ok=3, changed=2, skipped=1, ignored=1)


def test_rich_display_on_a_terminal_shows_the_same_lines():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, color_system="standard")
    lab = Lab("lab1", "lab2", unreachable={"lab2"})
    lab.run("- hosts: all\n  tasks:\n    - command: echo hi\n", display=RichDisplay(console))
    text = buffer.getvalue()
    assert "\x1b[" in text  # coloured
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    assert "changed: [lab1]" in text and "UNREACHABLE!" in text and "PLAY RECAP" in text
    assert recap_line("lab2", HostStats(unreachable=1)) in text.splitlines()


def test_plain_display_when_not_a_terminal():
    assert isinstance(make_display(io.StringIO()), PlainDisplay)


def test_debug_results_are_shown():
    lab = Lab("lab1")
    lab.run("- hosts: all\n  vars: {v: [1]}\n  tasks:\n    - debug: var=v\n    - debug: msg=hi\n")
    assert 'ok: [lab1] => {\n    "v": [\n        1\n    ]\n}' in lab.text()
    assert 'ok: [lab1] => {\n    "msg": "hi"\n}' in lab.text()


def test_task_names_are_templated_with_play_vars():
    lab = Lab("lab1")
    lab.run(
        "- hosts: all\n  vars: {m: bridge}\n"
        "  tasks:\n    - name: mode {{ m }}\n      command: 'true'\n"
    )
    assert "TASK [mode bridge] " in lab.text()


def test_check_mode_run_reports_would_be_changes():
    lab = Lab("lab1")
    run = lab.run(
        parse_playbook("- hosts: all\n  tasks:\n    - copy: content=x dest=/tmp/x\n"), check=True
    )
    assert "changed: [lab1]" in lab.text() and run.hosts["lab1"].outcomes[0].result[
        "msg"
    ].startswith("/tmp/x: would change")
