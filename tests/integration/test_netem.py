"""The netem axis end to end through `invoke matrix`, on the provisioned Docker lab and on
the libvirt VM lab (whose Debian kernel has sch_netem, so the delay is really applied there).

Request/response traffic over loopback and bridge, each without netem and with `delay 5ms`:
the keys name the netem value, and afterwards no netem qdisc is left on the node. What the
delay does depends on the node's kernel, asked directly: with netem, each delayed cell's
stored p50 latency exceeds its undelayed cell's by at least the delay (loopback's `lo` delays
both directions, the bridge's server egress one); without (Docker nodes share the
controller's kernel, which may lack sch_netem), the delayed runs are `unsupported` in tc's own
words and the undelayed ones measured all the same.
"""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Iterator

import pytest

from orchestrator.experiment.run import leftovers
from tests.integration.lab_fixture import ProvisionedLab
from tests.integration.test_matrix import Results, invoke

pytestmark = pytest.mark.integration

SPEC = """\
name: netem-rr
baseline: loopback
axes: {mode: [loopback, bridge], size: [64], proto: [tcp], netem: [none, "delay 5ms"]}
traffic: rr
repetitions: 1
duration: 500ms
warmup: 100ms
phases: [plain]
"""
DELAY_US = 5000.0
MODES = ("loopback", "bridge")


@pytest.fixture(scope="module", params=["provisioned_lab", "vm_lab"], ids=["docker", "vm"])
def provisioned_lab(request) -> ProvisionedLab:
    """Each lab in turn (the tests below take it under the Docker lab's fixture name)."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def shaped(provisioned_lab: ProvisionedLab, tmp_path_factory) -> Iterator[Results]:
    results = Results(tmp_path_factory.mktemp("netem-results"))
    spec = results.directory / "netem.yml"
    spec.write_text(SPEC)
    done = invoke(
        provisioned_lab,
        results,
        *("matrix", "--hosts", "lab1", "--spec", str(spec)),
        *("--inventory", str(provisioned_lab.inventory)),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield results


NETEM_PROBE = (
    "ip netns add nmtnetem && ip netns exec nmtnetem tc qdisc add dev lo root netem "
    "delay 1ms; rc=$?; ip netns del nmtnetem; exit $rc"
)


def node_has_netem(lab: ProvisionedLab) -> bool:
    """Ask the node's kernel itself, in a network namespace of its own."""
    return lab.sudo("lab1", NETEM_PROBE).ok


def test_the_vms_kernel_has_netem_and_a_containers_is_the_controllers(
    provisioned_lab: ProvisionedLab,
) -> None:
    """So the delayed branch below runs for real on the VM lab in every `make test`."""
    if provisioned_lab.host("lab1").vars.get("provider") == "libvirt":
        expected = True
    else:  # a container node runs on the controller's kernel
        expected = subprocess.run(["sh", "-c", NETEM_PROBE], capture_output=True).returncode == 0
    assert node_has_netem(provisioned_lab) is expected


def runs(results: Results) -> dict[tuple[str, str], tuple[str, str | None, float | None]]:
    """(mode, netem) -> status, error and stored p50 latency (µs) of the cell's one run."""
    rows = results.query(
        "SELECT cell.mode, cell.netem, run.status, run.error, metric.value FROM run "
        "JOIN cell ON cell.id = run.cell_id LEFT JOIN metric ON metric.run_id = run.id "
        "AND metric.name = 'latency_p50/plain' WHERE NOT run.superseded"
    )
    return {(mode, netem): (status, error, p50) for mode, netem, status, error, p50 in rows}


def test_the_cell_keys_name_the_netem_value(shaped: Results) -> None:
    keys = {key for (key,) in shaped.query("SELECT key FROM cell")}
    assert keys == {
        f"mode={mode},size=64,proto=tcp,host=lab1,netem={token}"
        for mode in MODES
        for token in ("none", "delay_5ms")
    }


def test_the_delay_shows_in_the_latency_or_is_unsupported_in_tcs_words(
    shaped: Results, provisioned_lab: ProvisionedLab
) -> None:
    measured = runs(shaped)
    for mode in MODES:
        status, error, plain = measured[(mode, "none")]
        assert status == "ok", error
        assert plain is not None and plain > 0
        status, error, delayed = measured[(mode, "delay 5ms")]
        if node_has_netem(provisioned_lab):
            assert status == "ok", error
            assert delayed is not None and delayed - plain >= DELAY_US, (mode, plain, delayed)
        else:
            assert status == "unsupported"
            assert error == "netem: Error: Specified qdisc kind is unknown."


def test_the_delayed_runs_record_what_tc_held(shaped: Results, provisioned_lab) -> None:
    rows = shaped.query(
        "SELECT cell.mode, artifact.path FROM artifact JOIN run ON run.id = artifact.run_id "
        "JOIN cell ON cell.id = run.cell_id WHERE artifact.kind = 'netem'"
    )
    if not node_has_netem(provisioned_lab):
        assert rows == []  # unsupported before anything was applied
        return
    texts = {mode: (shaped.directory / path).read_text() for mode, path in rows}
    assert "device: lo of the host's network namespace" in texts["loopback"]
    assert "device: eth0 of container " in texts["bridge"]
    assert all("qdisc netem" in text and "delay 5ms" in text for text in texts.values())


def test_no_netem_qdisc_is_left_on_the_node(shaped: Results, provisioned_lab) -> None:
    shown = provisioned_lab.sudo("lab1", ["tc", "qdisc", "show"])
    assert shown.ok, shown.stderr
    assert "netem" not in shown.stdout
    conn = provisioned_lab.connect("lab1")
    try:
        assert list(leftovers(conn)) == []
    finally:
        conn.close()


def test_the_runs_table_shows_netem(shaped: Results, provisioned_lab: ProvisionedLab) -> None:
    done = invoke(provisioned_lab, shaped, "results.runs", "--format", "csv")
    assert done.returncode == 0, done.stderr
    shown = sorted(row["netem"] for row in csv.DictReader(io.StringIO(done.stdout)))
    assert shown == ["delay 5ms", "delay 5ms", "none", "none"]


def test_results_table_groups_by_netem(shaped: Results, provisioned_lab) -> None:
    done = invoke(
        provisioned_lab,
        shaped,
        *("results.table", "--metric", "p50", "--rows", "mode", "--cols", "netem"),
        *("--format", "csv"),
    )
    assert done.returncode == 0, done.stderr
    cells = {(row["mode"], row["netem"]) for row in csv.DictReader(io.StringIO(done.stdout))}
    assert cells == {(mode, netem) for mode in MODES for netem in ("none", "delay 5ms")}
