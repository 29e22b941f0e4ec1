"""`make demo`: the whole path on the embedded default lab, in one command.

Two Docker-provider nodes (lab1, lab2), provisioned, the demo matrix run on them, then what a
researcher looks at first: the runs, the bridge-versus-loopback function diff, and a
throughput figure. Every step is the same code the individual tasks run, so the demo is also
the shortest end-to-end check that a machine is ready for real experiments.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.errors import NetmatrixError
from orchestrator.experiment.matrix import MatrixOptions, run_matrix
from orchestrator.lab.lifecycle import lab_up, open_lab
from orchestrator.provision import provision
from orchestrator.reports import queries
from orchestrator.reports.diff import load_sides, print_stored_diff
from orchestrator.reports.runs_table import print_runs
from orchestrator.reports.summary import demo_summary

DEMO_SPEC = Path(__file__).resolve().parent.parent / "playbooks" / "demo.yml"
DEMO_HOSTS = ("lab1", "lab2")


def run_demo(figures: Path) -> None:
    """Lab up, provision, demo matrix, then the runs and results tables, the diff, figures."""
    lab = open_lab()
    lab.say("== lab.up: two Docker-provider nodes")
    lab_up(lab, DEMO_HOSTS, "docker")
    lab.say("== provision")
    hosts = ",".join(DEMO_HOSTS)
    played = provision(hosts, lab.paths.inventory)
    if played.exit_code:
        raise NetmatrixError("provisioning failed (see the recap above)")
    lab.say("== matrix: playbooks/demo.yml")
    result = run_matrix(
        MatrixOptions(spec_path=DEMO_SPEC, hosts=hosts, inventory=lab.paths.inventory)
    )
    if result.interrupted:
        raise NetmatrixError("interrupted: run make demo again to finish what is missing")
    lab.say("== results.runs")
    print_runs(queries.runs(result.campaign), "table")
    lab.say("== results.table --metric mbps --baseline loopback")
    written = demo_summary(result.campaign, figures)
    lab.say("== results.diff --mode bridge --baseline loopback")
    sides = load_sides(result.campaign, None, "bridge", "loopback", None, None)
    print_stored_diff(*sides, "table", raw=False, presence=1.0, factor=2.0)
    for path in written:
        lab.say(f"figure: {path}")
