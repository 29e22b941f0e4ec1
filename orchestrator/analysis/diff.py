"""`trace.diff`: which kernel functions one trace's stacks hold that another's do not.

The computation works on plain numbers, so counts kept anywhere (a database, a cache) can
feed it: a `FunctionCounts` is "function -> number of records whose stack contains it" plus
the number of records. `function_counts` builds one from records; `diff_functions` compares
two:

* `extra`: in the target's stacks, not in the baseline's (samples = target count);
* `missing`: in the baseline's, not in the target's (samples = baseline count);
* `changed`: in both, with a share of records (count / records) that differs by more than
  `factor` either way (samples = target count).

Each list is sorted by samples, descending, then by name. Only kernel functions count (frames
in `[kernel.kallsyms]`, a kernel module such as `[bridge]`, or a vmlinux).

That is the raw view: it cannot tell a mode's path from a stray interrupt caught once.
`diff_repetitions` compares the runs one by one instead (see its section below).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from orchestrator.analysis.perfscript import Record
from orchestrator.analysis.stats import mean, stdev, t_cdf


@dataclass(frozen=True)
class FunctionCounts:
    """Inclusive record counts per function, and the number of records they come from."""

    counts: Mapping[str, int]
    records: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))
        if self.records < 0:
            raise ValueError("records must be >= 0")

    def share(self, function: str) -> float:
        return self.counts.get(function, 0) / self.records if self.records else 0.0


def function_counts(records: Iterable[Record], *, kernel_only: bool = True) -> FunctionCounts:
    """Count, for every (kernel) function, the records whose stack contains it (once each)."""
    counts: Counter[str] = Counter()
    total = 0
    for record in records:
        total += 1
        counts.update(
            {
                frame.symbol
                for frame in record.frames
                if frame.function is not None and (frame.is_kernel or not kernel_only)
            }
        )
    return FunctionCounts(counts, total)


@dataclass(frozen=True)
class FunctionDiff:
    extra: tuple[dict[str, object], ...] = field(default=())
    missing: tuple[dict[str, object], ...] = field(default=())
    changed: tuple[dict[str, object], ...] = field(default=())

    def as_dict(self) -> dict[str, list[dict[str, object]]]:
        return {
            "extra": [dict(item) for item in self.extra],
            "missing": [dict(item) for item in self.missing],
            "changed": [dict(item) for item in self.changed],
        }

    def names(self) -> set[str]:
        return {str(item["function"]) for item in (*self.extra, *self.missing, *self.changed)}


def _ranked(items: list[dict[str, object]]) -> tuple[dict[str, object], ...]:
    return tuple(sorted(items, key=lambda item: (-int(item["samples"]), str(item["function"]))))  # type: ignore[call-overload]


def diff_functions(
    baseline: FunctionCounts, target: FunctionCounts, factor: float = 2.0
) -> FunctionDiff:
    """Compare two traces' function counts (see the module text for the three lists)."""
    if factor < 1.0:
        raise ValueError(f"factor must be at least 1, not {factor}")
    base = {name: count for name, count in baseline.counts.items() if count > 0}
    other = {name: count for name, count in target.counts.items() if count > 0}
    extra = [
        {"function": name, "samples": count} for name, count in other.items() if name not in base
    ]
    missing = [
        {"function": name, "samples": count} for name, count in base.items() if name not in other
    ]
    changed: list[dict[str, object]] = []
    if baseline.records and target.records:
        for name, count in other.items():
            if name not in base:
                continue
            base_share = base[name] / baseline.records
            target_share = count / target.records
            ratio = target_share / base_share
            if ratio > factor or ratio < 1.0 / factor:
                changed.append(
                    {
                        "function": name,
                        "samples": count,
                        "baseline_samples": base[name],
                        "baseline_share": base_share,
                        "target_share": target_share,
                        "ratio": ratio,
                    }
                )
    return FunctionDiff(_ranked(extra), _ranked(missing), _ranked(changed))


# -- over repetitions ---------------------------------------------------------------------------
#
# One run's stacks catch a timer interrupt or a socket's close now and then: a function seen in
# one repetition of the target and in none of the baseline's is in the raw `extra` list, yet it
# says nothing about the mode. With every run's counts kept apart, a function is *added* when it
# is absent from every baseline run and either present in at least `presence` of the target's
# runs, or its per-run share (samples / records) differs from the baseline's zero beyond the
# runs' spread: Welch's t test, two-sided, at `level`. `missing` is the same the other way round.
# A function on both sides is *changed* when the ratio of its mean per-run shares is beyond
# `factor` either way and Welch's test rejects equal means. Whatever the raw view would list
# and the test does not confirm is counted in `unsettled`.

WELCH = "Welch's t test over per-run shares (samples / records), two-sided"


def welch_p(first: Sequence[float], second: Sequence[float]) -> float:
    """Welch's two-sided p-value for equal means of two samples of at least two values each.

    Two samples without spread are equal (p = 1) or certainly different (p = 0).
    """
    spread_first, spread_second = stdev(first), stdev(second)
    if spread_first is None or spread_second is None:
        raise ValueError("Welch's test needs at least two values per side")
    var_first = spread_first**2 / len(first)
    var_second = spread_second**2 / len(second)
    difference = mean(first) - mean(second)
    if var_first + var_second == 0.0:
        return 1.0 if difference == 0.0 else 0.0
    t = difference / math.sqrt(var_first + var_second)
    df = (var_first + var_second) ** 2 / (
        var_first**2 / (len(first) - 1) + var_second**2 / (len(second) - 1)
    )
    return 2.0 * t_cdf(-abs(t), df)


@dataclass(frozen=True)
class RepetitionDiff:
    """`diff_repetitions`' lists, shaped as `FunctionDiff`'s, with the test's terms.

    Every item names `function`, `samples` (summed over the runs of the side it is listed
    for), `target_runs` / `baseline_runs` (how many runs' stacks hold it), the mean per-run
    shares, Welch's `p` and the `test` that counted it (`presence` or `welch`).
    """

    baseline_runs: int
    target_runs: int
    presence: float
    level: float
    factor: float
    extra: tuple[dict[str, object], ...]
    missing: tuple[dict[str, object], ...]
    changed: tuple[dict[str, object], ...]
    unsettled: int

    def as_dict(self) -> dict[str, object]:
        return {
            "test": WELCH,
            "confirmed": True,
            "n": {"baseline": self.baseline_runs, "target": self.target_runs},
            "presence": self.presence,
            "level": self.level,
            "factor": self.factor,
            "unsettled": self.unsettled,
            "extra": [dict(item) for item in self.extra],
            "missing": [dict(item) for item in self.missing],
            "changed": [dict(item) for item in self.changed],
        }


def diff_repetitions(
    baseline: Sequence[FunctionCounts],
    target: Sequence[FunctionCounts],
    *,
    presence: float = 1.0,
    factor: float = 2.0,
    level: float = 0.95,
) -> RepetitionDiff:
    """Compare two sides' runs, one `FunctionCounts` per run (see the text above)."""
    if len(baseline) < 2 or len(target) < 2:
        raise ValueError("the test needs at least two runs per side")
    if not 0.0 < presence <= 1.0:
        raise ValueError(f"presence must be above 0 and at most 1, not {presence}")
    if factor < 1.0:
        raise ValueError(f"factor must be at least 1, not {factor}")
    lists: dict[str, list[dict[str, object]]] = {"extra": [], "missing": [], "changed": []}
    unsettled = 0
    names = {name for run in (*baseline, *target) for name, n in run.counts.items() if n > 0}
    for name in sorted(names):
        item = _repeated(name, baseline, target)
        significant = float(item["p"]) < 1.0 - level  # type: ignore[arg-type]
        base_in, target_in = int(item["baseline_runs"]), int(item["target_runs"])  # type: ignore[call-overload]
        if base_in == 0 or target_in == 0:
            key, side, present = (
                ("extra", target, target_in) if base_in == 0 else ("missing", baseline, base_in)
            )
            if present >= math.ceil(round(presence * len(side), 9)):
                lists[key].append({**item, "samples": _summed(name, side), "test": "presence"})
            elif significant:
                lists[key].append({**item, "samples": _summed(name, side), "test": "welch"})
            else:
                unsettled += 1
            continue
        ratio = float(item["target_share"]) / float(item["baseline_share"])  # type: ignore[arg-type]
        if ratio > factor or ratio < 1.0 / factor:
            if significant:
                lists["changed"].append(
                    {
                        **item,
                        "samples": _summed(name, target),
                        "baseline_samples": _summed(name, baseline),
                        "ratio": ratio,
                        "test": "welch",
                    }
                )
            else:
                unsettled += 1
    return RepetitionDiff(
        baseline_runs=len(baseline),
        target_runs=len(target),
        presence=presence,
        level=level,
        factor=factor,
        extra=_ranked(lists["extra"]),
        missing=_ranked(lists["missing"]),
        changed=_ranked(lists["changed"]),
        unsettled=unsettled,
    )


def pooled(runs: Iterable[FunctionCounts]) -> FunctionCounts:
    """Several runs' counts as one trace's: what the raw view compares."""
    counts: Counter[str] = Counter()
    records = 0
    for run in runs:
        counts.update(run.counts)
        records += run.records
    return FunctionCounts(counts, records)


def _repeated(
    name: str, baseline: Sequence[FunctionCounts], target: Sequence[FunctionCounts]
) -> dict[str, object]:
    base_shares = [run.share(name) for run in baseline]
    target_shares = [run.share(name) for run in target]
    return {
        "function": name,
        "target_runs": sum(run.counts.get(name, 0) > 0 for run in target),
        "baseline_runs": sum(run.counts.get(name, 0) > 0 for run in baseline),
        "target_share": mean(target_shares),
        "baseline_share": mean(base_shares),
        "p": welch_p(target_shares, base_shares),
    }


def _summed(name: str, runs: Sequence[FunctionCounts]) -> int:
    return sum(run.counts.get(name, 0) for run in runs)
