"""Per-host counters of a playbook run and Ansible's PLAY RECAP lines.

Counting follows ansible-core (`executor/stats.py` and the strategy that feeds it): every task
that ran counts `ok`, and also `changed` when it changed; a failure counts `failed`, unless
ignored (`ignore_errors`), which counts `ok` and `ignored`; a skipped task counts `skipped`;
losing the host counts `unreachable`. `rescued` exists for the format's sake (no blocks here).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class HostStats:
    """One host's counters, as Ansible's recap shows them."""

    ok: int = 0
    changed: int = 0
    unreachable: int = 0
    failures: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0

    def add(self, **counts: int) -> HostStats:
        return replace(self, **{k: getattr(self, k) + v for k, v in counts.items()})

    def as_dict(self) -> dict[str, int]:
        return {
            "ok": self.ok,
            "changed": self.changed,
            "unreachable": self.unreachable,
            "failed": self.failures,
            "skipped": self.skipped,
            "rescued": self.rescued,
            "ignored": self.ignored,
        }


def recap_line(host: str, stats: HostStats) -> str:
    """One recap line, byte for byte as ansible-core's default callback prints it uncoloured
    (`%-26s` host, then `name=%-4s` fields, trailing blanks included)."""
    fields = " ".join(f"{name}={value!s:<4}" for name, value in stats.as_dict().items())
    return f"{host:<26} : {fields}"


def recap_text(stats: dict[str, HostStats]) -> str:
    """The recap lines for all hosts, sorted by name as Ansible sorts them."""
    return "\n".join(recap_line(host, stats[host]) for host in sorted(stats))
