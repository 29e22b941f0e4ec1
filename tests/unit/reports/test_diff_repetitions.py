"""`results.diff` on stored repetitions: noise in one run of three is not what a mode adds,
the raw view stays as it was under `--all`, and two kernels compare the same mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.db import repository
from orchestrator.db.session import Database
from tests.unit.analysis.conftest import run as run_task
from tests.unit.db.builders import FACTS, finished_run
from tests.unit.reports.builders import Lab, demo_database

GOLDEN = Path(__file__).parent / "golden"
LOOPBACK = {"tcp_sendmsg": 900, "loopback_xmit": 400}
BRIDGE = {"tcp_sendmsg": 900, "br_handle_frame": 600, "veth_xmit": 500}
NOISE = "__irq_exit_rcu"


def diff_json(*argv: str, capsys: pytest.CaptureFixture[str]) -> dict:
    assert run_task("results.diff", "--format", "json", *argv) == 0
    return json.loads(capsys.readouterr().out)


def functions(items: list[dict]) -> list[str]:
    return [item["function"] for item in items]


@pytest.fixture
def noisy(lab: Lab) -> Lab:
    """Three loopback and three bridge runs; one bridge run caught a timer interrupt."""
    for _ in range(3):
        lab.run("loopback", 64, mbps=100.0, functions=LOOPBACK)
    lab.run("bridge", 64, mbps=50.0, functions={**BRIDGE, NOISE: 40})
    for _ in range(2):
        lab.run("bridge", 64, mbps=50.0, functions=BRIDGE)
    return lab


def test_noise_in_one_bridge_run_of_three_is_not_added(noisy: Lab, capsys):
    diff = diff_json("--mode", "bridge", capsys=capsys)

    assert functions(diff["extra"]) == ["br_handle_frame", "veth_xmit"]
    assert [(item["target_runs"], item["baseline_runs"]) for item in diff["extra"]] == [(3, 0)] * 2
    assert functions(diff["missing"]) == ["loopback_xmit"]
    assert NOISE not in json.dumps(diff)
    assert diff["n"] == {"baseline": 3, "target": 3} and diff["confirmed"] is True
    assert diff["unsettled"] == 1 and diff["test"].startswith("Welch's t test")


def test_the_raw_view_under_all_still_lists_the_noise(noisy: Lab, capsys):
    diff = diff_json("--mode", "bridge", "--all", capsys=capsys)

    assert functions(diff["extra"]) == ["br_handle_frame", "veth_xmit", NOISE]
    assert set(diff) == {"extra", "missing", "changed"}


def test_the_table_shows_the_test_n_and_presence_per_run(noisy: Lab, capsys):
    assert run_task("results.diff", "--mode", "bridge") == 0
    out = capsys.readouterr().out

    assert "Welch's t test over per-run shares" in out
    assert "baseline: loopback on 6.1.0-13-amd64: 3 runs, 3000 records" in out
    assert "target: bridge on 6.1.0-13-amd64: 3 runs, 3000 records" in out
    assert " br_handle_frame " in out and "3/3 vs 0/3" in out and NOISE not in out
    assert "not counted: 1 functions" in out


def test_a_lower_presence_counts_a_function_in_two_runs_of_three(noisy: Lab, capsys):
    noisy.run("loopback", 64, mbps=100.0, functions=LOOPBACK)
    noisy.run("bridge", 64, mbps=50.0, functions={**BRIDGE, NOISE: 45})

    assert NOISE not in functions(diff_json("--mode", "bridge", capsys=capsys)["extra"])
    extra = diff_json("--mode", "bridge", "--presence", "0.5", capsys=capsys)["extra"]
    assert [(item["function"], item["target_runs"]) for item in extra][-1] == (NOISE, 2)


def test_one_run_per_side_is_the_raw_view_marked_unconfirmed(lab: Lab, capsys):
    lab.run("loopback", 64, mbps=100.0, functions=LOOPBACK)
    lab.run("bridge", 64, mbps=50.0, functions={**BRIDGE, NOISE: 40})

    diff = diff_json("--mode", "bridge", capsys=capsys)
    assert diff["confirmed"] is False and diff["n"] == {"baseline": 1, "target": 1}
    assert "cannot tell noise apart" in diff["test"]
    assert NOISE in functions(diff["extra"])
    assert run_task("results.diff", "--mode", "bridge") == 0
    out = capsys.readouterr().out
    assert "n=1 vs n=1 runs: one run cannot tell noise apart" in out
    assert "function (unconfirmed: n=1)" in out


@pytest.mark.parametrize("flag", ["--presence=0", "--presence=1.5", "--presence=nan"])
def test_presence_out_of_range_is_one_line(noisy: Lab, capsys, flag):
    assert run_task("results.diff", "--mode", "bridge", flag) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --presence must be above 0 and at most 1")
    assert err.count("\n") == 1


def test_all_on_the_demo_database_is_the_raw_view_as_it_was(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("NETMATRIX_DB", f"sqlite:///{demo_database(tmp_path)}")

    assert run_task("results.diff", "--mode", "bridge", "--all", "--format", "json") == 0
    assert capsys.readouterr().out == (GOLDEN / "demo-diff-all.json").read_text()
    diff = diff_json("--mode", "bridge", capsys=capsys)
    assert diff["n"] == {"baseline": 8, "target": 8}
    assert "br_dev_queue_push_xmit" in functions(diff["extra"])
    for noise in (NOISE, "asm_sysvec_apic_timer_interrupt", "inet_sendmsg", "sk_wait_data"):
        assert noise not in functions(diff["extra"]) + functions(diff["changed"])


# -- two kernels ---------------------------------------------------------------------------------

GENERIC, RT = "6.1.0-50-amd64", "6.1.0-50-rt-amd64"


def kernel_runs(db: Database, campaign: repository.CampaignRef, kernel: str, counts: list) -> None:
    """Bridge runs of one cell on `kernel`, as the kernel axis records them (the key names it)."""
    snapshot = repository.record_host_snapshot(db, "lab1", {**FACTS, "kernel_release": kernel})
    key = f"mode=bridge,size=64,proto=tcp,host=lab1,kernel={kernel}"
    cell = repository.get_or_create_cell(db, campaign, key, "bridge", 64, "tcp", "lab1", kernel)
    for repetition, functions in enumerate(counts, start=1):
        finished_run(
            db,
            cell,
            repetition,
            snapshot,
            metrics={"records": (1000.0, "records")},
            function_counts=functions,
        )


@pytest.fixture
def kernels(lab: Lab) -> Lab:
    """Bridge on a generic and an rt kernel: rt adds rt_spin_lock and drops one function."""
    kernel_runs(lab.db, lab.campaign, GENERIC, [{**BRIDGE, "__local_bh_enable_ip": 300}] * 3)
    rt = {**BRIDGE, "rt_spin_lock": 700}
    kernel_runs(lab.db, lab.campaign, RT, [rt, {**rt, NOISE: 30}, rt])
    return lab


def test_the_same_mode_on_two_kernels(kernels: Lab, capsys):
    diff = diff_json(
        "--mode", "bridge", "--kernel", "*-rt-*", "--baseline-kernel", GENERIC, capsys=capsys
    )

    assert (diff["baseline"]["kernels"], diff["target"]["kernels"]) == ([GENERIC], [RT])
    assert diff["baseline"]["mode"] == diff["target"]["mode"] == "bridge"
    assert functions(diff["extra"]) == ["rt_spin_lock"]
    assert functions(diff["missing"]) == ["__local_bh_enable_ip"]
    assert diff["n"] == {"baseline": 3, "target": 3} and diff["unsettled"] == 1


def test_a_kernel_alone_narrows_both_sides(kernels: Lab, capsys):
    kernels.run("loopback", 64, mbps=100.0, functions=LOOPBACK)  # on 6.1.0-13-amd64

    assert run_task("results.diff", "--mode", "bridge", "--kernel", RT) == 2
    assert capsys.readouterr().err == (
        "error: campaign paper: no ok traced runs of mode loopback on kernel 6.1.0-50-rt-amd64\n"
    )


def test_an_unknown_kernel_lists_the_kernels_stored(kernels: Lab, capsys):
    argv = ("results.diff", "--mode", "bridge", "--kernel", RT, "--baseline-kernel", "5.10*")

    assert run_task(*argv) == 2
    assert capsys.readouterr().err == (
        "error: --baseline-kernel '5.10*' matches no kernel of campaign paper; "
        f"kernels stored: {GENERIC}, {RT}\n"
    )
