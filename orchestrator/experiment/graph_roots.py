"""Before any run: every `trace.ftrace.graph_functions` root is a function the host's kernel
can trace, or the matrix stops with one line naming it.

A name the kernel does not know would otherwise surface in each run as a refused
`set_graph_function`, after minutes of measuring. The check reads `available_filter_functions`
after loading the modules the spec's modes use (bridge, macvlan, ipvlan, veth): a root such as
`macvlan_start_xmit` lives in a module that the first macvlan run would load, and must not be
refused because a loopback run happens to come first. Hosts whose kernel has no
`function_graph` are not checked: their runs record ftrace as unsupported, in the kernel's words.
A kernel that the matrix switches to later is checked by its runs (a refused root is stored
`unsupported` with the kernel's message).
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.connection import last_line
from orchestrator.errors import NetmatrixError
from orchestrator.experiment import modes
from orchestrator.experiment.context import ConnectFn, LabHost
from orchestrator.experiment.spec import Spec
from orchestrator.experiment.tracing import TRACEFS

NO_LIST = "netmatrix-no-filter-list"

FILTER_LIST = f"{TRACEFS}/available_filter_functions"

# `sh -c CHECK check "MODULE…" "NAME…" LIST`: prints the names absent from LIST, one a line
# ("name" or "name [module]" lines). Names were validated by the spec (kernel identifiers),
# so word splitting is safe.
CHECK = f"""set -f
for module in $1; do modprobe -q "$module" 2>/dev/null; done
[ -r "$3" ] || {{ echo {NO_LIST}; exit 0; }}
awk -v names="$2" '
    BEGIN {{ n = split(names, wanted, " "); for (i = 1; i <= n; i++) missing[wanted[i]] = 1 }}
    {{ delete missing[$1] }}
    END {{ for (name in missing) print name }}' "$3"
"""


def check_argv(
    modules: Sequence[str], roots: Sequence[str], listing: str = FILTER_LIST
) -> list[str]:
    """Load `modules`, then print those of `roots` that `listing` does not hold."""
    return ["sh", "-c", CHECK, "check", " ".join(modules), " ".join(roots), listing]


def modules_for(mode_names: Sequence[str]) -> tuple[str, ...]:
    """The kernel modules the modes build their links with (veth for every container mode)."""
    drivers = [modes.driver_for(mode) for mode in mode_names]
    found = {driver.netdev for driver in drivers if driver.netdev}
    if any(driver.containers for driver in drivers):
        found.add("veth")
    return tuple(sorted(found))


def check_graph_roots(lab: Sequence[LabHost], spec: Spec, connect: ConnectFn) -> None:
    """Refuse the matrix when a host with function_graph cannot trace one of the roots.

    Raises:
        NetmatrixError: one line per host, naming the roots its kernel does not have.
    """
    ftrace = spec.trace.ftrace
    if ftrace is None or "traced" not in spec.phases:
        return
    modules = modules_for(spec.axes.mode)
    problems = []
    for item in lab:
        if "function_graph" not in (item.facts.get("tracers") or ()):
            continue
        missing = _missing_roots(item, connect, modules, ftrace.graph_functions)
        if missing:
            problems.append(
                f"{item.host.name}: trace.ftrace.graph_functions: "
                f"{', '.join(missing)} not traceable on kernel {item.running} "
                f"(not in available_filter_functions with {', '.join(modules) or 'no'} "
                "modules loaded)"
            )
    if problems:
        raise NetmatrixError("; ".join(problems))


def _missing_roots(
    item: LabHost, connect: ConnectFn, modules: Sequence[str], roots: Sequence[str]
) -> list[str]:
    conn = connect(item.host)
    try:
        result = conn.sudo(check_argv(modules, roots), timeout=120)
    finally:
        conn.close()
    if not result.ok:
        raise NetmatrixError(
            f"{item.host.name}: cannot read available_filter_functions: {last_line(result)}"
        )
    absent = set(result.stdout.split())
    if NO_LIST in absent:
        return []  # the runs will say, in the kernel's words, what ftrace cannot do
    return [root for root in roots if root in absent]
