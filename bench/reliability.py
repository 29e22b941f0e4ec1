"""Reliability figures of issue 7, from the tests that break things for real.

Runs the fault-scenario tests (Docker-provider lab: real nodes killed, restarted, paused,
daemons stopped, disks filled, SSH sessions cut) and the bad-input table through pytest, reads
pytest's JUnit report, and prints the section of bench/RESULTS.md:

    .venv/bin/python bench/reliability.py [--write-results bench/RESULTS.md]

"Runs lost" and "leftovers" are what those tests assert: after each matrix scenario every
planned run is in the database with a true status and resume completes exactly the missing
ones (runs lost 0), and `run.leftovers` finds no container, network, work directory or perf
process of netmatrix on any node (leftovers 0). A failed assertion fails its scenario.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collapse import write_section

ROOT = Path(__file__).resolve().parents[1]
FAULTS = "tests/integration/test_faults.py"
TRANSFER = "tests/integration/test_transfer_faults.py"
BAD_INPUT = "tests/unit/test_bad_input.py"
CTRL_C = (
    "tests/integration/test_matrix.py::"
    "test_ctrl_c_tears_down_marks_interrupted_and_resume_redoes_only_the_missing"
)


@dataclass(frozen=True)
class Scenario:
    number: int
    what: str
    tests: tuple[str, ...]  # test-name prefixes (module::function) that must all pass
    asserts_runs: bool = False  # checks that no run is lost
    asserts_leftovers: bool = False  # checks that nothing is left on the nodes


SCENARIOS = (
    Scenario(
        1,
        "host killed mid-matrix (`docker kill`)",
        (f"{FAULTS}::test_a_killed_host_fails_its_runs",),
        asserts_runs=True,
        asserts_leftovers=True,
    ),
    Scenario(2, "SIGINT during a traced run", (CTRL_C,), True, True),
    Scenario(
        3,
        "SSH dropped during transfers (sessions killed mid-file; damaged bytes)",
        (f"{TRANSFER}::",),
        asserts_leftovers=True,
    ),
    Scenario(4, "Docker daemon stopped on a host", (f"{FAULTS}::test_a_stopped_docker_daemon",)),
    Scenario(
        5,
        "controller disk full (results on a 4 MB tmpfs)",
        (f"{FAULTS}::test_a_full_results_disk",),
        True,
        True,
    ),
    Scenario(6, "perf missing / tracefs unmounted", (f"{FAULTS}::test_missing_perf_or_tracefs",)),
    Scenario(7, "two matrices on one database", (f"{FAULTS}::test_a_second_matrix",), True),
    Scenario(
        8,
        "host restarted mid-provisioning; host frozen mid-task (`docker pause`)",
        (f"{FAULTS}::test_a_host_rebooting", f"{FAULTS}::test_a_frozen_host"),
    ),
)


@dataclass(frozen=True)
class Case:
    name: str  # module::function[param]
    passed: bool
    seconds: float


def run_pytest(targets: list[str], report: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml", str(report),
         *targets],
        cwd=ROOT,
        check=False,
    )  # fmt: skip


def read_report(report: Path) -> list[Case]:
    cases = []
    for case in ElementTree.parse(report).iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        bad = any(child.tag in ("failure", "error", "skipped") for child in case)
        cases.append(Case(f"{module}::{case.get('name')}", not bad, float(case.get("time", 0))))
    return cases


def matching(cases: list[Case], prefixes: tuple[str, ...]) -> list[Case]:
    return [case for case in cases if any(case.name.startswith(p) for p in prefixes)]


def section(cases: list[Case], started: str) -> str:
    lines = [
        "## Reliability",
        "",
        f"Command: `.venv/bin/python bench/reliability.py --write-results bench/RESULTS.md`, "
        f"{started}, on the machine described above (Docker-provider lab: real nodes, sshd, "
        "perf).",
        "",
        "| # | scenario | tests | survived | runs lost | leftovers | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    survived = 0
    for scenario in SCENARIOS:
        found = matching(cases, scenario.tests)
        every_test_ran = all(matching(cases, (prefix,)) for prefix in scenario.tests)
        ok = bool(found) and every_test_ran and all(case.passed for case in found)
        survived += ok
        lost = ("0" if ok else "?") if scenario.asserts_runs else "–"
        left = ("0" if ok else "?") if scenario.asserts_leftovers else "–"
        seconds = sum(case.seconds for case in found)
        lines.append(
            f"| {scenario.number} | {scenario.what} | {len(found)} | {'yes' if ok else 'NO'} "
            f"| {lost} | {left} | {seconds:.0f} |"
        )
    bad = matching(cases, (f"{BAD_INPUT}::test_bad_input_is_refused_with_one_line",))
    refused = sum(case.passed for case in bad)
    lines += [
        "",
        f"**Scenarios survived: {survived} of {len(SCENARIOS)}. Bad inputs refused with one "
        f"line and exit code 2, nothing left behind: {refused} of {len(bad)}.** Runs lost and "
        "leftovers are what the scenario's test asserts (see bench/reliability.py): every "
        "planned run stored with a true status and resumed to ok, and no netmatrix container, "
        "network, work directory or perf process on any node afterwards; – where the scenario "
        "starts no run that could be lost or leave something.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-results", type=Path, help="put the section into this file")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "junit.xml"
        run_pytest([FAULTS, TRANSFER, CTRL_C, BAD_INPUT], report)
        cases = read_report(report)
    text = section(cases, started)
    print(text)
    if args.write_results:
        write_section(args.write_results, text)


if __name__ == "__main__":
    main()
