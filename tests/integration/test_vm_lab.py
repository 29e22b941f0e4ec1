"""The libvirt VM lab end to end: real VMs with their own kernels, a kernel axis that really
reboots, ipvlan measured, and a VM killed under a matrix.

One session-wide lab of two Debian 12 VMs (`vm_lab`, tests/integration/vm_lab.py) serves every
test here; tests that change a VM put it back. What the matrix stored is checked against the
VMs themselves: the kernels their boot records show, the functions their raw stacks hold.
"""

from __future__ import annotations

import gzip
import json
import lzma
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.connection import connect
from orchestrator.errors import NetmatrixError
from orchestrator.lab.labfile import read_host_keys, read_lab_inventory
from tests.integration.lab_fixture import HOSTS, ProvisionedLab, invoke_in_background
from tests.integration.test_matrix import Results, invoke
from tests.integration.vm_lab import domain, virsh

pytestmark = pytest.mark.integration

IPVLAN_PATH = ("ipvlan_queue_xmit", "ipvlan_start_xmit", "ipvlan_rcv_frame")
BACK_WITHIN = 600.0  # seconds for a destroyed VM to boot again under emulation


def write_spec(path: Path, body: str) -> Path:
    path.write_text(
        "name: vm\nbaseline: loopback\nduration: 500ms\nwarmup: 100ms\n" + body.strip() + "\n"
    )
    return path


def releases(lab: ProvisionedLab, name: str) -> list[str]:
    """The kernel releases lab.up found installed in a VM (its `kernels` host var)."""
    packages = read_lab_inventory(lab.inventory)[name].vars["kernels"]
    return [package.removeprefix("linux-image-") for package in packages]


def uname(lab: ProvisionedLab, name: str) -> str:
    return lab.sudo(name, ["uname", "-r"]).stdout.strip()


def boots(lab: ProvisionedLab, name: str) -> list[str]:
    """The kernel of every boot the VM's wtmp recorded, oldest first (`last -x -w reboot`)."""
    text = lab.sudo(name, ["last", "-x", "-w", "reboot"]).stdout  # -w: kernels untruncated
    return [line.split()[3] for line in reversed(text.splitlines()) if line.startswith("reboot")]


def matrix(lab: ProvisionedLab, results: Results, spec: Path, hosts: str, *flags: str):
    return invoke(
        lab, results, "matrix", "--hosts", hosts, "--spec", str(spec),
        "--inventory", str(lab.inventory), *flags,
    )  # fmt: skip


def runs(lab: ProvisionedLab, results: Results) -> list[dict]:
    done = invoke(lab, results, "results.runs", "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def results(tmp_path: Path) -> Results:
    return Results(tmp_path / "results")


# --- the lab itself ---------------------------------------------------------------------------


def test_lab_up_writes_the_vms_with_their_kernels_and_host_keys(vm_lab: ProvisionedLab) -> None:
    hosts = read_lab_inventory(vm_lab.inventory)
    recorded = {key.machine for key in read_host_keys(vm_lab.up.lab.paths.known_hosts)}
    for name in HOSTS:
        variables = hosts[name].vars
        assert variables["provider"] == "libvirt"
        assert variables["lab_nic"] == "eth1"
        assert variables["hardware"] == "hw_controller", "VMs share the controller's CPUs"
        kinds = {re.sub(r"^6\.1\.0-\d+-", "", release) for release in releases(vm_lab, name)}
        assert kinds == {"amd64", "rt-amd64", "cloud-amd64"}, releases(vm_lab, name)
        running = uname(vm_lab, name)
        assert running.endswith("-amd64") and "-rt-" not in running and "-cloud-" not in running
        assert name in recorded
        address = vm_lab.sudo(name, ["ip", "-o", "-4", "addr", "show", "eth1"]).stdout
        assert f"inet {variables['lab_address']}/" in address
        tracers = vm_lab.sudo(name, ["cat", "/sys/kernel/tracing/available_tracers"]).stdout
        assert "function_graph" in tracers.split()


def test_provisioning_again_changes_nothing(vm_lab: ProvisionedLab) -> None:
    again = vm_lab.provision()
    assert again.returncode == 0, again.stdout[-3000:]
    for name in HOSTS:
        assert re.search(rf"^{name}\s+: ok=\d+\s+changed=0\s", again.stdout, re.MULTILINE), (
            again.stdout[-3000:]
        )


def test_lab_status_shows_the_vms_running_and_their_kernels(vm_lab: ProvisionedLab) -> None:
    shown = vm_lab.invoke("lab.status")
    assert shown.returncode == 0, shown.stderr
    for name in HOSTS:
        line = next(line for line in shown.stdout.splitlines() if f" {name} " in f" {line} ")
        assert "running" in line and "libvirt" in line and uname(vm_lab, name) in line


def test_promisc_sets_and_verifies_the_guest_nic(vm_lab: ProvisionedLab) -> None:
    def promiscuity() -> int:
        details = vm_lab.sudo("lab1", ["ip", "-d", "-o", "link", "show", "eth1"]).stdout
        return int(re.search(r"promiscuity (\d+)", details)[1])

    on = vm_lab.invoke("lab.promisc", "--hosts", "lab1")
    assert on.returncode == 0, on.stderr
    assert "lab1: libvirt VM, no hypervisor NIC to set" in on.stdout
    assert promiscuity() >= 1
    off = vm_lab.invoke("lab.promisc", "--hosts", "lab1", "--mode", "deny")
    assert off.returncode == 0, off.stderr
    assert promiscuity() == 0


# --- the kernel axis --------------------------------------------------------------------------


def test_a_matrix_over_two_kernels_runs_on_each_and_leaves_the_default(
    vm_lab: ProvisionedLab, results: Results, tmp_path: Path
) -> None:
    default = uname(vm_lab, "lab1")
    [rt] = [release for release in releases(vm_lab, "lab1") if "-rt-" in release]
    spec = write_spec(
        tmp_path / "kernels.yml",
        f"""
axes:
  mode: [loopback]
  size: [1400]
  proto: [tcp]
  kernel: ["{default}", "{rt}"]
repetitions: 1
phases: [plain, traced]
trace:
  perf: {{events: ["net:*", "skb:*"], call_graph: fp, period: 11}}
""",
    )
    booted_before = boots(vm_lab, "lab1")
    planned = matrix(vm_lab, results, spec, "lab1", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert f"lab1: switch to kernel {rt}" in planned.stdout
    assert "lab1: reboot back to its default kernel" in planned.stdout
    done = matrix(vm_lab, results, spec, "lab1", "--keep-script")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"lab1: running kernel {rt}" in done.stdout
    stored = {row["kernel"]: row for row in runs(vm_lab, results)}
    assert set(stored) == {default, rt}
    assert all(row["status"] == "ok" and row["mbps"] > 0 for row in stored.values())
    assert all(row["cell"].endswith(f",kernel={kernel}") for kernel, row in stored.items())
    # The VM's own boot records: one boot into rt, then one back into the default.
    assert boots(vm_lab, "lab1")[len(booted_before) :] == [rt, default]
    assert uname(vm_lab, "lab1") == default
    # Kernels side by side, and what rt's path adds to the same mode's stacks.
    table = invoke(
        vm_lab, results, "results.table", "--rows", "mode", "--cols", "kernel", "--format", "csv"
    )
    assert table.returncode == 0, table.stderr
    assert default in table.stdout and rt in table.stdout
    diff = invoke(
        vm_lab, results, "results.diff", "--mode", "loopback", "--kernel", rt,
        "--baseline-kernel", default, "--format", "json",
    )  # fmt: skip
    assert diff.returncode == 0, diff.stderr
    added = {item["function"] for item in json.loads(diff.stdout)["extra"]}
    only_rt = kernel_functions(results, rt) - kernel_functions(results, default)
    assert only_rt, "the rt kernel's stacks hold functions the generic one's do not"
    assert only_rt <= added, f"stored diff misses {sorted(only_rt - added)[:10]}"


# A frame of `perf script`: address, symbol(+offset), and the object in parentheses; kernel
# code is `[kernel.kallsyms]` or a module (`[bridge]`), never perf's pseudo-objects.
_FRAME = re.compile(r"^\s+[0-9a-f]+ (\S+?)(?:\+0x[0-9a-f]+)? \((\[[\w.-]+\])\)$")
_NOT_KERNEL = {"[unknown]", "[vdso]", "[vsyscall]", "[vvar]"}


def kernel_functions(results: Results, kernel: str) -> set[str]:
    """Every kernel function in the stacks of the traffic generators' own samples (processes
    named nm-<tag>, as the stored counts are) in the raw `perf script` text of the run on
    `kernel`, as kept."""
    [kept] = (results.directory / "artifacts").glob(f"vm/*,kernel={kernel}/rep-1/*/perf.txt.xz")
    found, ours = set(), False
    with lzma.open(kept, "rt", errors="replace") as text:
        for line in text:
            if line.strip() and not line[0].isspace():  # a sample's header: comm first
                ours = line.startswith("nm-")
                continue
            frame = _FRAME.match(line)
            if ours and frame and frame[2] not in _NOT_KERNEL and frame[1] != "[unknown]":
                found.add(frame[1])
    return found


def test_a_kernel_pattern_that_matches_nothing_installed_is_refused(
    vm_lab: ProvisionedLab, results: Results, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path / "missing.yml",
        'axes: {mode: [loopback], size: [64], proto: [tcp], kernel: ["5.10.*"]}\nrepetitions: 1',
    )
    done = matrix(vm_lab, results, spec, "lab1")
    assert done.returncode == 2
    assert "matches none of the kernel patterns (5.10.*)" in done.stderr
    assert not results.database.exists(), "refused before anything was stored"


# --- modes the controller's kernel cannot build -----------------------------------------------


def test_ipvlan_and_macvlan_are_measured_and_ipvlan_s_path_is_in_its_stacks(
    vm_lab: ProvisionedLab, results: Results, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path / "ipvlan.yml",
        """
axes: {mode: [loopback, macvlan, ipvlan-l2, ipvlan-l3], size: [1400], proto: [tcp]}
repetitions: 1
phases: [plain, traced]
trace:
  perf: {events: ["net:*", "skb:*"], call_graph: fp, period: 11}
""",
    )
    done = matrix(vm_lab, results, spec, "lab2")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    rows = {row["mode"]: row for row in runs(vm_lab, results)}
    for mode in ("macvlan", "ipvlan-l2", "ipvlan-l3"):
        assert rows[mode]["status"] == "ok", rows[mode]
        assert rows[mode]["mbps"] > 0 and rows[mode]["mbps_traced"] > 0
    [folded] = (results.directory / "artifacts").glob("vm/mode=ipvlan-l2,*/rep-1/*/folded.txt.gz")
    in_stacks = {
        frame
        for line in gzip.decompress(folded.read_bytes()).decode().splitlines()
        for frame in line.rpartition(" ")[0].split(";")
        if frame.startswith("ipvlan_")
    }
    assert in_stacks & set(IPVLAN_PATH), f"ipvlan functions in the raw stacks: {in_stacks}"
    listed = invoke(
        vm_lab, results, "results.functions", "--mode", "ipvlan-l2", "--top", "1000",
        "--format", "json",
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    stored = {item["function"] for item in json.loads(listed.stdout)}
    assert in_stacks <= stored, "every ipvlan function of the raw stacks is stored"
    # 6.1 names them ipvlan_queue_xmit, ipvlan_start_xmit and ipvlan_rcv_frame.isra.0.
    diff = invoke(vm_lab, results, "results.diff", "--mode", "ipvlan-l2", "--baseline", "loopback")
    assert diff.returncode == 0, diff.stderr
    assert all(function in diff.stdout for function in in_stacks), diff.stdout


# --- a VM that dies under a matrix ------------------------------------------------------------


@pytest.fixture
def restart_lab2(vm_lab: ProvisionedLab) -> Iterator[None]:
    """Whatever the test did to lab2, it runs (and answers SSH) again afterwards."""
    yield
    if "running" not in virsh("domstate", domain(vm_lab, "lab2")).stdout:
        virsh("start", domain(vm_lab, "lab2"))
    wait_for_ssh(vm_lab, "lab2")


def wait_for_ssh(lab: ProvisionedLab, name: str) -> None:
    deadline = time.monotonic() + BACK_WITHIN
    while True:
        try:
            connect(lab.host(name), retries=0).close()
            return
        except NetmatrixError:
            if time.monotonic() > deadline:
                raise
            time.sleep(5)


def test_a_vm_destroyed_mid_matrix_is_unreachable_the_other_finishes_and_resume_completes(
    vm_lab: ProvisionedLab, results: Results, tmp_path: Path, restart_lab2: None
) -> None:
    spec = write_spec(
        tmp_path / "kill.yml",
        "axes: {mode: [loopback], size: [64, 1400], proto: [tcp]}\nrepetitions: 2\nphases: [plain]",
    )
    args = ("matrix", "--hosts", "lab1,lab2", "--spec", str(spec), "--inventory")
    environ = {**vm_lab.environ, **results.environ}
    with invoke_in_background(environ, *args, str(vm_lab.inventory)) as running:
        running.read_until(lambda line: line.startswith("ok: [lab2]"))
        destroyed = virsh("destroy", domain(vm_lab, "lab2"))
        assert destroyed.returncode == 0, destroyed.stderr
        output = running.finish(timeout=900)
    assert running.returncode == 0, output[-2000:]  # failed runs are results, not errors
    rows = runs(vm_lab, results)
    lab1 = [row for row in rows if row["host"] == "lab1"]
    lab2 = [row for row in rows if row["host"] == "lab2"]
    assert len(lab1) == 4 and all(row["status"] == "ok" for row in lab1), lab1
    failed = [row for row in lab2 if row["status"] != "ok"]
    assert failed and all(row["error"].startswith("unreachable: ") for row in failed), lab2
    virsh("start", domain(vm_lab, "lab2"))
    wait_for_ssh(vm_lab, "lab2")
    resumed = matrix(vm_lab, results, spec, "lab1,lab2")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-2000:]
    assert f"{len(failed)} runs to do, {8 - len(failed)} already done" in resumed.stdout
    final = [row for row in runs(vm_lab, results) if not row.get("superseded")]
    assert sum(row["status"] == "ok" for row in final) == 8
