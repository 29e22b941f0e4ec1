"""Which kernel functions a mode's stacks hold, and which ones it adds over the baseline.

Input: the function counts of the latest ok runs per (mode, kernel), as the repository sums
them. A function's share is the part of the mode's trace records whose stack contains it, in
percent, so modes measured with different numbers of runs or records compare. Kernels are
kept apart because a function's presence depends on the kernel's build; pooling over kernels
is done only where a single picture of a mode is asked for (`pooled_counts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from orchestrator.analysis.diff import FunctionCounts, diff_functions
from orchestrator.db import repository
from orchestrator.errors import NetmatrixError

Counts = Mapping[tuple[str, str], repository.PooledFunctionCounts]
# A function in fewer than 1 % of a mode's records is background (a daemon's syscalls caught by
# a system-wide trace), not the mode's data path.
MIN_PERCENT = 1.0


@dataclass(frozen=True)
class FunctionShare:
    """One line of `results.functions`."""

    kernel: str
    rank: int
    function: str
    samples: int
    percent: float


@dataclass(frozen=True)
class AddedFunctions:
    """On one kernel: the functions each mode adds over the baseline, with their share.

    `percent[(mode, function)]` is absent where the mode's stacks lack the function;
    `untraced` names the modes that have no ok traced runs on this kernel.
    """

    kernel: str
    baseline: str
    modes: tuple[str, ...]
    functions: tuple[str, ...]
    percent: Mapping[tuple[str, str], float]
    untraced: tuple[str, ...]


def traced(counts: Counts) -> dict[tuple[str, str], repository.PooledFunctionCounts]:
    """The (mode, kernel) pairs whose ok runs recorded a trace (ok plain-only runs did not)."""
    return {key: found for key, found in counts.items() if found.records > 0}


def top_functions(counts: Counts, mode: str, top: int) -> list[FunctionShare]:
    """The `top` functions of a mode's stacks per kernel, most frequent first."""
    if top < 1:
        raise NetmatrixError(f"--top must be at least 1, not {top}")
    counts = traced(counts)
    kernels = sorted(kernel for other, kernel in counts if other == mode)
    if not kernels:
        modes = dict.fromkeys(other for other, _ in counts)
        raise NetmatrixError(
            f"no ok traced runs of mode {mode}; modes with traces: {', '.join(modes) or 'none'}"
        )
    shares = []
    for kernel in kernels:
        found = counts[(mode, kernel)]
        ranked = sorted(found.samples.items(), key=lambda item: (-item[1], item[0]))[:top]
        shares += [
            FunctionShare(kernel, rank, function, samples, _percent(samples, found.records))
            for rank, (function, samples) in enumerate(ranked, start=1)
        ]
    return shares


def added_functions(
    counts: Counts, baseline: str, modes: Sequence[str], top: int
) -> list[AddedFunctions]:
    """Per kernel with baseline traces: the `top` functions each other mode adds over it,
    among those in at least `MIN_PERCENT` of the mode's records."""
    counts = traced(counts)
    result = []
    for kernel in sorted({kernel for mode, kernel in counts if mode == baseline}):
        base = _counts(counts[(baseline, kernel)])
        others = [mode for mode in modes if mode != baseline and (mode, kernel) in counts]
        percent: dict[tuple[str, str], float] = {}
        functions: dict[str, None] = {}
        for mode in others:
            found = counts[(mode, kernel)]
            extra = [
                str(item["function"])
                for item in diff_functions(base, _counts(found)).extra
                if _percent(int(item["samples"]), found.records) >= MIN_PERCENT  # type: ignore[call-overload]
            ]
            functions.update(dict.fromkeys(extra[:top]))
            percent.update(
                {(mode, name): _percent(n, found.records) for name, n in found.samples.items()}
            )
        result.append(
            AddedFunctions(
                kernel=kernel,
                baseline=baseline,
                modes=tuple(others),
                functions=tuple(functions),
                percent=MappingProxyType(
                    {key: value for key, value in percent.items() if key[1] in functions}
                ),
                untraced=tuple(
                    mode for mode in modes if mode != baseline and (mode, kernel) not in counts
                ),
            )
        )
    return result


def pooled_counts(counts: Counts, mode: str) -> FunctionCounts:
    """A mode's counts summed over every kernel (what `results.diff` without --host compares)."""
    samples: dict[str, int] = {}
    records = 0
    for (traced, _), found in counts.items():
        if traced == mode:
            records += found.records
            for function, number in found.samples.items():
                samples[function] = samples.get(function, 0) + number
    return FunctionCounts(samples, records)


def _counts(found: repository.PooledFunctionCounts) -> FunctionCounts:
    return FunctionCounts(found.samples, found.records)


def _percent(samples: int, records: int) -> float:
    return 100.0 * samples / records if records else 0.0
