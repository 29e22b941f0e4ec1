"""The reduction of one traced run, computed where the trace is (on the lab host).

A run's `perf script` text is tens to hundreds of MB; what the database keeps of it is a few
kB: records per event and per device, inclusive sample counts of kernel functions, and the
folded stacks (gzip). Running this next to the trace means only that crosses the network.
The module runs stand-alone (standard library only) from the zipapp `hosttools` builds:
`python3 netmatrix-reduce.pyz TRACE --out reduction.json --folded folded.txt.gz`, and with
`--function-graph F1,F2` it reduces an ftrace pass instead (`ftrace_reduce`).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

from orchestrator.analysis.folding import collapse
from orchestrator.analysis.ftrace_reduce import reduce_function_graph
from orchestrator.analysis.perfscript import ParseStats, read_records
from orchestrator.analysis.summary import summarize


def reduce_trace(
    trace: Path, folded_out: Path | None = None, comm_prefix: str = ""
) -> dict[str, object]:
    """Summarise `trace` (one pass) and, if asked, write its folded stacks (a second pass).

    With `comm_prefix`, the counts cover only the records of processes whose name starts
    with it (the traffic generator's `nm-` processes): a system-wide recording also holds
    sshd, dockerd and other hosts' traffic, which would otherwise blur what a mode adds.
    `records_all` still counts every record; the folded stacks cover the whole trace.
    """
    stats = ParseStats()
    seen = 0

    def matching(records):
        nonlocal seen
        for record in records:
            seen += 1
            if record.comm.startswith(comm_prefix):
                yield record

    summary = summarize(matching(read_records(trace, stats)), stats)
    functions = {name: count for (name, kernel), count in summary.functions.items() if kernel}
    if folded_out is not None:
        folded = collapse(trace)
        with gzip.open(folded_out, "wb", compresslevel=6) as out:
            folded.write(out)
    return {
        "records": summary.records,
        "records_all": seen,
        "unreadable_lines": stats.unreadable,
        "events": dict(summary.events),
        "devices": dict(summary.devices),
        "processes": dict(summary.processes),
        "functions": functions,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry of the zipapp."""
    parser = argparse.ArgumentParser(prog="netmatrix-reduce", description=__doc__)
    parser.add_argument("trace", type=Path, help="perf script text (plain, .gz or .xz)")
    parser.add_argument("--out", type=Path, required=True, help="reduction JSON to write")
    parser.add_argument("--folded", type=Path, help="folded stacks to write (gzip)")
    parser.add_argument("--comm-prefix", default="", help="count only these processes' records")
    parser.add_argument(
        "--function-graph",
        metavar="F1,F2",
        help="TRACE is ftrace function_graph text: summarise these graph roots instead",
    )
    parser.add_argument("--ftrace-stats", type=Path, help="tracefs per_cpu stats, concatenated")
    args = parser.parse_args(argv)
    if not args.trace.is_file():
        print(f"netmatrix-reduce: {args.trace}: no such file", file=sys.stderr)
        return 2
    if args.function_graph is not None:
        stats = args.ftrace_stats.read_text() if args.ftrace_stats else ""
        reduction = reduce_function_graph(args.trace, args.function_graph.split(","), stats)
    else:
        reduction = reduce_trace(args.trace, args.folded, args.comm_prefix)
    args.out.write_text(json.dumps(reduction, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
