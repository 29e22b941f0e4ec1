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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from orchestrator.analysis.perfscript import Record


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
