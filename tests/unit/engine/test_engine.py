"""The engine: plays and tasks over parallel hosts, with Ansible's semantics and recap."""

import dataclasses
import threading
import time

import pytest

from orchestrator.engine import batches, run_playbook
from orchestrator.host import Host
from orchestrator.inventory.errors import InventoryError
from orchestrator.inventory.patterns import select_hosts
from orchestrator.playbook import parse_playbook
from orchestrator.recap import HostStats
from tests.unit.engine.lab import Lab


def recap_of(lab: Lab) -> list[str]:
    text = lab.text()
    return text[text.index("PLAY RECAP") :].splitlines()[1:-1]


# --- output and recap ------------------------------------------------------------------------


def test_plain_output_and_recap_look_like_ansible():
    lab = Lab("lab1", "lab2")
    run = lab.run(
        """
- name: smoke
  hosts: all
  tasks:
    - name: probe
      command: uname -r
      changed_when: false
    - name: touch
      command: "true"
    - name: never here
      command: "true"
      when: false
"""
    )
    text = lab.text()
    assert "\nPLAY [smoke] " + "*" * (79 - len("PLAY [smoke]")) + "\n" in text
    assert "\nTASK [probe] ****" in text
    assert "ok: [lab1]\n" in text and "ok: [lab2]\n" in text
    assert "changed: [lab1]\n" in text
    assert "skipping: [lab2]\n" in text
    assert recap_of(lab) == [
        "lab1                       : ok=2    changed=1    unreachable=0    failed=0    "
        "skipped=1    rescued=0    ignored=0   ",
        "lab2                       : ok=2    changed=1    unreachable=0    failed=0    "
        "skipped=1    rescued=0    ignored=0   ",
    ]
    assert run.stats["lab1"] == HostStats(ok=2, changed=1, skipped=1)
    assert run.exit_code == 0 and run.ok


def test_failed_task_output_and_exit_code():
    lab = Lab("lab1", "lab2", host_vars={"lab1": {"cmd": "false"}, "lab2": {"cmd": "true"}})
    run = lab.run(
        """
- hosts: all
  tasks:
    - command: "{{ cmd }}"
    - name: after
      command: echo after
"""
    )
    assert (
        'fatal: [lab1]: FAILED! => {"changed": true, "cmd": ["false"], "msg": "non-zero return '
        'code", "rc": 1, "stderr": "false failed", "stderr_lines": ["false failed"], "stdout": "", '
        '"stdout_lines": []}\n'
    ) in lab.text()
    assert run.failed == ("lab1",) and run.exit_code == 2
    assert [c for c in lab.commands("lab1") if "after" in c] == []  # a failed host stops
    assert "echo after" in lab.commands("lab2")  # the others go on
    assert run.hosts["lab2"].status == "ok"


# --- hosts: unreachable, forks, serial, patterns ----------------------------------------------


def test_unreachable_host_never_stops_the_others():
    lab = Lab("lab1", "lab2", "lab3", unreachable={"lab3"})
    run = lab.run("site.yml")
    assert run.unreachable == ("lab3",)
    assert run.exit_code == 4  # Ansible's code for unreachable hosts
    assert run.stats["lab3"] == HostStats(unreachable=1)
    assert run.stats["lab1"].failures == 0 and run.stats["lab2"].failures == 0
    assert "fatal: [lab3]: UNREACHABLE! =>" in lab.text()
    assert lab.connects.count("lab3") == 1  # dropped after the first failure
    recap = recap_of(lab)
    assert recap[2].startswith("lab3                       : ok=0    changed=0    unreachable=1")


def test_unreachable_mid_run():
    lab = Lab("lab1", "lab2")
    lab.run("- hosts: all\n  tasks:\n    - command: 'true'\n")
    lab.conn("lab2").unreachable = True
    run = lab.run("- hosts: all\n  tasks:\n    - command: 'true'\n    - command: echo more\n")
    assert run.unreachable == ("lab2",) and run.stats["lab1"].ok == 2
    assert run.hosts["lab2"].outcomes[0].result["unreachable"] is True


def test_forks_bound_how_many_hosts_work_at_once():
    names = [f"lab{i}" for i in range(1, 7)]
    busy, peak, lock = [0], [0], threading.Lock()

    class Slow(Lab):
        def connect(self, host):
            conn = super().connect(host)

            def slow(_text):
                with lock:
                    busy[0] += 1
                    peak[0] = max(peak[0], busy[0])
                time.sleep(0.05)
                with lock:
                    busy[0] -= 1
                return 0, "", ""

            conn.rules.insert(0, (r"^sleep", slow))
            return conn

    lab = Slow(*names)
    run = lab.run("- hosts: all\n  tasks:\n    - command: sleep 1\n", forks=2)
    assert run.ok and peak[0] == 2
    lab = Slow(*names)
    busy[0] = peak[0] = 0
    lab.run("- hosts: all\n  tasks:\n    - command: sleep 1\n")
    assert peak[0] == 5  # the default


def test_serial_runs_batches_one_after_the_other():
    lab = Lab("lab1", "lab2", "lab3")
    lab.run(
        """
- hosts: all
  serial: 1
  tasks:
    - command: echo one
    - command: echo two
"""
    )
    order = [host for host, _ in lab.log]
    assert order == ["lab1", "lab1", "lab2", "lab2", "lab3", "lab3"]


def test_batches():
    assert batches([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert batches([1, 2, 3, 4], "50%") == [[1, 2], [3, 4]]
    assert batches([1, 2, 3], "10%") == [[1], [2], [3]]
    assert batches([1, 2], None) == [[1, 2]]


def test_play_hosts_are_intersected_with_the_selection():
    lab = Lab("lab1", "lab2", "ctl", groups={"lab1": ("lab",), "lab2": ("lab",)})
    run = lab.run("- hosts: lab\n  tasks:\n    - command: 'true'\n")
    assert set(run.stats) == {"lab1", "lab2"}
    assert lab.commands("ctl") == []


def test_no_hosts_matched():
    lab = Lab("lab1")
    run = lab.run("- hosts: db\n  tasks:\n    - command: 'true'\n")
    assert "skipping: no hosts matched" in lab.text() and run.stats == {}


def test_select_resolves_play_patterns():
    lab = Lab("lab1", "lab2")
    run = lab.run(
        "- hosts: odd\n  tasks:\n    - command: 'true'\n",
        select=lambda pattern: [lab.hosts[0]] if pattern == "odd" else [],
    )
    assert set(run.stats) == {"lab1"}


def test_without_an_inventory_plays_select_by_the_hosts_names_and_groups():
    hosts = [Host("lab1", {}, ("lab",)), Host("lab2", {}, ("lab",)), Host("ctl", {}, ())]
    names = lambda pattern: [h.name for h in select_hosts(pattern, hosts)]  # noqa: E731
    assert names("all") == ["lab1", "lab2", "ctl"]
    assert names("lab") == ["lab1", "lab2"]
    assert names("lab*:ctl") == ["lab1", "lab2", "ctl"]
    assert names("all:!lab2") == ["lab1", "ctl"]
    assert names("lab:&lab2") == ["lab2"]
    with pytest.raises(InventoryError, match="matches no host; known hosts: lab1, lab2, ctl"):
        names("nope")


def test_a_play_whose_pattern_matches_nothing_warns_and_runs_on_no_host():
    lab = Lab("lab1", "lab2")
    run = lab.run("- hosts: nope\n  tasks:\n    - command: 'true'\n")
    assert (
        "[WARNING]: could not match host pattern 'nope': host pattern 'nope' matches no host; "
        "known hosts: lab1, lab2\n" in lab.text()
    )
    assert "skipping: no hosts matched" in lab.text()
    assert lab.log == []
    assert run.stats == {}


# --- task keywords ----------------------------------------------------------------------------


def test_when_uses_host_vars_and_registered_results():
    lab = Lab("lab1", "lab2", host_vars={"lab1": {"role": "server"}, "lab2": {"role": "client"}})
    run = lab.run(
        """
- hosts: all
  tasks:
    - name: kernel
      command: uname -r
      register: kernel
      changed_when: false
    - name: servers on new kernels
      command: echo server
      when:
        - role == 'server'
        - kernel.stdout is version('6.0', '>=')
"""
    )
    assert "echo server" in lab.commands("lab1")
    assert "echo server" not in lab.commands("lab2")
    assert run.stats["lab2"].skipped == 1
    skipped = run.hosts["lab2"].results("servers on new kernels")[0]
    assert skipped["skipped"] is True and skipped["false_condition"] == "role == 'server'"


def test_when_that_does_not_evaluate_fails_the_host_with_the_place():
    lab = Lab("lab1")
    run = lab.run("- hosts: all\n  tasks:\n    - command: 'true'\n      when: missing.rc == 0\n")
    (result,) = run.hosts["lab1"].results("command")
    assert result["failed"]
    assert "inline.yml:3" in result["msg"] and "'missing' is undefined" in result["msg"]
    assert run.exit_code == 2


def test_undefined_variable_in_arguments_fails_clearly():
    lab = Lab("lab1")
    run = lab.run("- hosts: all\n  tasks:\n    - copy: content={{ nope }} dest=/tmp/x\n")
    (result,) = run.hosts["lab1"].results("copy")
    assert result["failed"] and "'nope' is undefined" in result["msg"]


def test_loop_with_item_and_registered_results():
    lab = Lab("lab1")
    run = lab.run(
        """
- hosts: all
  tasks:
    - name: sizes
      command: echo {{ item }}
      loop: "{{ sizes }}"
      register: echoed
      vars:
        sizes: [64, 1400]
    - name: count
      debug:
        msg: "{{ echoed.results | length }} {{ echoed.results[1].item }}"
"""
    )
    assert lab.commands("lab1")[:2] == ["echo 64", "echo 1400"]
    assert "changed: [lab1] => (item=64)" in lab.text()
    assert run.hosts["lab1"].results("count")[0]["msg"] == "2 1400"
    assert run.stats["lab1"] == HostStats(ok=2, changed=1)


def test_loop_items_can_be_skipped_by_when_and_labelled():
    lab = Lab("lab1")
    run = lab.run(
        """
- hosts: all
  tasks:
    - command: echo {{ pkg.name }}
      loop: [{name: a, wanted: true}, {name: b, wanted: false}]
      loop_control: {loop_var: pkg, label: "{{ pkg.name }}"}
      when: pkg.wanted
"""
    )
    assert lab.commands("lab1") == ["echo a"]
    assert "skipping: [lab1] => (item=b) " in lab.text()
    assert run.stats["lab1"].changed == 1


def test_empty_loop_is_skipped():
    lab = Lab("lab1")
    run = lab.run("- hosts: all\n  tasks:\n    - command: echo {{ item }}\n      loop: []\n")
    assert run.stats["lab1"] == HostStats(skipped=1)


def test_loop_with_a_failing_item_fails_the_task():
    lab = Lab("lab1")
    run = lab.run(
        "- hosts: all\n  tasks:\n    - command: '{{ item }}'\n      loop: ['true', 'false']\n"
    )
    assert "failed: [lab1] (item=false) =>" in lab.text()
    assert run.failed == ("lab1",)
    assert run.hosts["lab1"].outcomes[0].result["msg"] == "One or more items failed"


def test_handlers_run_once_at_play_end_on_changed_hosts_only():
    lab = Lab("lab1", "lab2", host_vars={"lab1": {"changed": True}, "lab2": {"changed": False}})
    lab.run(
        """
- hosts: all
  tasks:
    - name: first
      command: echo first
      changed_when: changed
      notify: restart
    - name: second
      command: echo second
      changed_when: changed
      notify: [restart, reload]
    - name: last task
      command: echo last
  handlers:
    - name: reload
      command: echo reload
    - name: restart
      command: echo restart
    - name: unused
      command: echo unused
"""
    )
    assert lab.commands("lab1") == [
        "echo first", "echo second", "echo last", "echo reload", "echo restart",
    ]  # fmt: skip
    assert lab.commands("lab2") == ["echo first", "echo second", "echo last"]
    assert "\nRUNNING HANDLER [restart] ***" in lab.text()


def test_handlers_listen_and_chain():
    lab = Lab("lab1")
    lab.run(
        """
- hosts: all
  tasks:
    - command: echo go
      notify: docker changed
  handlers:
    - name: restart docker
      listen: docker changed
      command: echo restart
      notify: check docker
    - name: check docker
      command: echo check
"""
    )
    assert lab.commands("lab1") == ["echo go", "echo restart", "echo check"]


def test_failed_hosts_do_not_run_handlers():
    lab = Lab("lab1")
    lab.run(
        """
- hosts: all
  tasks:
    - {command: echo go, notify: h}
    - command: "false"
  handlers:
    - {name: h, command: echo handler}
"""
    )
    assert "echo handler" not in lab.commands("lab1")


def test_tags_select_tasks_and_always_runs():
    lab = Lab("lab1")
    play = """
- hosts: all
  tasks:
    - {command: echo setup, tags: always}
    - {command: echo probe, tags: [probe]}
    - {command: echo install, tags: install}
    - {command: echo untagged}
    - {command: echo debugging, tags: never}
"""
    lab.run(play, tags=["probe"])
    assert lab.commands("lab1") == ["echo setup", "echo probe"]
    lab = Lab("lab1")
    lab.run(play, skip_tags=["install"])
    assert lab.commands("lab1") == ["echo setup", "echo probe", "echo untagged"]
    lab = Lab("lab1")
    lab.run(play)
    assert "echo debugging" not in lab.commands("lab1")


def test_play_tags_apply_to_its_tasks():
    lab = Lab("lab1")
    lab.run(
        "- hosts: all\n  tags: web\n  tasks:\n    - command: echo a\n"
        "- hosts: all\n  tasks:\n    - command: echo b\n",
        tags=["web"],
    )
    assert lab.commands("lab1") == ["echo a"]


def test_ignore_errors_counts_ok_and_ignored_and_goes_on():
    lab = Lab("lab1")
    run = lab.run(
        """
- hosts: all
  tasks:
    - command: "false"
      ignore_errors: true
    - command: echo next
"""
    )
    assert "...ignoring" in lab.text()
    assert run.stats["lab1"] == HostStats(ok=2, changed=2, ignored=1)
    assert run.ok and "echo next" in lab.commands("lab1")


def test_changed_when_and_failed_when_see_the_result():
    lab = Lab("lab1")
    run = lab.run(
        """
- hosts: all
  tasks:
    - name: tolerant
      command: "false"
      register: probe
      failed_when: probe.rc not in [0, 1]
      changed_when: "'changed' in probe.stdout"
    - name: strict
      command: "true"
      failed_when: true
"""
    )
    tolerant = run.hosts["lab1"].results("tolerant")[0]
    assert not tolerant["failed"] and not tolerant["changed"]
    assert tolerant["failed_when_result"] is False
    assert run.hosts["lab1"].results("strict")[0]["failed"] is True
    assert run.stats["lab1"] == HostStats(ok=1, failures=1)


def test_set_fact_and_extra_vars_precedence():
    lab = Lab("lab1", host_vars={"lab1": {"mode": "inventory", "size": 1}})
    run = lab.run(
        """
- hosts: all
  vars:
    mode: play
    path: "/srv/{{ mode }}"
  tasks:
    - set_fact:
        doubled: "{{ size * 2 }}"
    - debug:
        msg: "{{ mode }} {{ path }} {{ doubled }}"
""",
        extra_vars={"mode": "extra"},
    )
    assert run.hosts["lab1"].results("debug")[0]["msg"] == "extra /srv/extra 2"


def test_delegate_to_localhost_uses_a_local_connection():
    lab = Lab("lab1", "lab2")
    run = lab.run(
        "- hosts: all\n  tasks:\n    - command: echo here\n      delegate_to: localhost\n"
    )
    assert run.ok
    assert lab.connects.count("localhost") == 2
    assert lab.conns["localhost"].host.vars == {"ansible_connection": "local"}
    assert lab.commands("localhost") == ["echo here", "echo here"]
    assert "lab1" not in lab.conns
    assert "changed: [lab1 -> localhost]" in lab.text()


def test_become_from_play_and_task():
    lab = Lab("lab1")
    lab.run(
        """
- hosts: all
  become: true
  tasks:
    - command: echo root
    - command: echo user
      become: false
"""
    )
    assert lab.conn("lab1").calls == [("echo root", True), ("echo user", False)]


def test_gather_facts_are_available_to_templates():
    lab = Lab("lab1")
    gathered = []

    def gather(conn):
        gathered.append(conn.host.name)
        return {"kernel_release": "6.1.0-13-amd64", "cpus": 4}

    run = lab.run(
        """
- hosts: all
  gather_facts: true
  tasks:
    - debug:
        msg: "{{ ansible_facts.kernel_release }} {{ facts.cpus }}"
""",
        gather=gather,
    )
    assert gathered == ["lab1"]
    assert "TASK [Gathering Facts]" in lab.text()
    assert run.hosts["lab1"].results("debug")[0]["msg"] == "6.1.0-13-amd64 4"
    assert run.stats["lab1"].ok == 2


def test_gathering_facts_that_break_fail_only_that_host():
    lab = Lab("lab1", "lab2")

    def gather(conn):
        if conn.host.name == "lab1":
            raise RuntimeError("probe exploded")
        return {}

    run = lab.run(
        "- hosts: all\n  gather_facts: true\n  tasks:\n    - command: 'true'\n", gather=gather
    )
    assert run.failed == ("lab1",) and run.hosts["lab2"].stats.ok == 2


def test_check_mode_changes_nothing_and_reports_what_would():
    lab = Lab("lab1")
    run = lab.run("site.yml", check=True)
    assert run.ok and run.check
    fs = lab.filesystems["lab1"]
    assert fs.conn.files == {} and "/srv/netmatrix" not in fs.dirs
    assert lab.sysctl["lab1"]["net.ipv4.ip_forward"] == "0"
    assert run.stats["lab1"].changed >= 5
    assert not [c for c in lab.commands("lab1") if c.startswith(("cp", "mkdir", "sysctl -w"))]


def test_second_run_reports_no_change():
    lab = Lab("lab1", "lab2")
    first = lab.run("site.yml")
    assert first.ok, lab.text()
    assert first.stats["lab1"].changed == 6  # dir, template, copy, sysctl, loop, handler
    assert lab.filesystems["lab1"].conn.files["/srv/netmatrix/settings.conf"] == (
        b"# written by netmatrix for lab1\nsize=64\nsize=1400\n"
    )
    second = lab.run("site.yml")
    assert second.ok
    assert second.stats == {
        "lab1": HostStats(ok=7, changed=0),
        "lab2": HostStats(ok=7, changed=0),
    }
    assert "RUNNING HANDLER" not in lab.text()


def test_tags_on_the_site_playbook():
    lab = Lab("lab1")
    run = lab.run("site.yml", tags=["probe"])
    assert lab.commands("lab1") == ["uname -r"]
    assert run.stats["lab1"] == HostStats(ok=1)


# --- safety -----------------------------------------------------------------------------------


def test_a_crashing_module_fails_only_its_host(monkeypatch):
    from orchestrator import modules
    from orchestrator.modules import debug

    def boom(ctx, params):
        if ctx.host.name == "lab1":
            raise ZeroDivisionError("oops")
        return debug.run(ctx, params)

    crashing = dataclasses.replace(debug.MODULE, run=boom)
    monkeypatch.setattr(modules, "MODULES", {**modules.MODULES, "debug": crashing})
    lab = Lab("lab1", "lab2")
    run = lab.run("- hosts: all\n  tasks:\n    - debug: msg=hi\n")
    assert run.failed == ("lab1",)
    assert "ZeroDivisionError: oops" in run.hosts["lab1"].outcomes[0].result["msg"]
    assert run.hosts["lab2"].status == "ok"


def test_registered_output_is_never_templated_again():
    lab = Lab("lab1")
    lab.conn("lab1").rules.insert(0, (r"^cat /tmp/x", (0, "{{ 7 * 6 }}\n")))
    run = lab.run(
        """
- hosts: all
  tasks:
    - {command: cat /tmp/x, register: out}
    - debug: {msg: "{{ out.stdout }}"}
"""
    )
    assert run.hosts["lab1"].results("debug")[0]["msg"] == "{{ 7 * 6 }}"


def test_no_log_hides_results():
    lab = Lab("lab1")
    lab.run(
        "- hosts: all\n  tasks:\n    - {command: echo secret, no_log: true, failed_when: true}\n"
    )
    assert "secret" not in lab.text().split("TASK [command]")[1]
    assert "censored" in lab.text()


def test_playbook_run_api():
    lab = Lab("lab1", "lab2", "lab3", unreachable={"lab3"}, host_vars={"lab2": {"c": "false"}})
    run = lab.run("- hosts: all\n  tasks:\n    - command: \"{{ c | default('true') }}\"\n")
    assert run.failed == ("lab2",)
    assert run.unreachable == ("lab3",)
    assert run.recap().splitlines()[0].startswith("lab1 ")
    assert not run.ok and run.exit_code == 4


def test_forks_must_be_positive():
    with pytest.raises(Exception, match="forks must be at least 1"):
        run_playbook(parse_playbook("- hosts: all\n"), [], forks=0)
