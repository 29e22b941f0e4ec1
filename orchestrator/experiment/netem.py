"""The netem axis: degraded networks (delay, loss, rate) on a run's path, with tc-netem.

A spec's `netem` values are a small subset of `tc qdisc … netem`'s grammar, checked when the
spec loads (`parse`), so that nothing but these words and numbers ever reaches a host:

    none
    [delay TIME [JITTER]] [loss PCT%] [rate RATE]     each at most once, in any order

TIME and JITTER are a number with `us`, `ms` or `s`; PCT a number from 0 to 100; RATE a
number with `bit`, `kbit`, `mbit` or `gbit` — tc's own units, so the text goes to tc as is.

Where the qdisc goes is one decision (`device`): on `lo` of the host's network namespace when
client and server talk over 127.0.0.1 there (loopback, host), where it delays both directions
(the round trip grows by twice the delay); else on the server container's `eth0`, inside its
network namespace, where it shapes the server's egress only (the round trip grows by the
delay once). A qdisc on the host's `lo` outlives the run unless removed: a marker file in the
run's work directory names its device before tc runs, so teardown and the sweep after a crash
find it (`REMOVE_SH`). A container's qdisc goes with the container's namespace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.connection import Connection, last_line
from orchestrator.errors import NetmatrixError

if TYPE_CHECKING:  # the spec loads this module: no Docker client for checking its grammar
    from orchestrator.experiment.modes import ModeDriver, Placement

NONE = "none"
MARKER = "netem-host-dev"
# Longer delays would hold a run's client far past its duration.
MAX_DELAY_S = 10.0
GRAMMAR = (
    "none, or delay TIME [JITTER], loss PCT%, rate RATE, each at most once "
    "(TIME in us, ms or s; RATE in bit, kbit, mbit or gbit)"
)

_NUMBER = r"(\d+(?:\.\d+)?)"
_TIME = re.compile(_NUMBER + r"(us|ms|s)")
_PERCENT = re.compile(_NUMBER + r"%")
_RATE = re.compile(_NUMBER + r"(bit|kbit|mbit|gbit)")
_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
# How tc and the kernel refuse a qdisc kind they do not have (sch_netem not built or loaded).
_UNSUPPORTED = re.compile(
    r"qdisc kind is unknown|unknown qdisc|RTNETLINK answers: No such file or directory",
    re.IGNORECASE,
)


class NetemError(ValueError):
    """A netem value outside the accepted grammar; the spec locates it."""


class NetemUnsupported(NetmatrixError):
    """The host's kernel has no netem qdisc: the run is `unsupported` (like a mode the kernel
    cannot build), in tc's words."""


@dataclass(frozen=True)
class Device:
    """Where the qdisc goes: `name` in the host's network namespace, or in `container`'s."""

    name: str
    container: str | None = None

    @property
    def description(self) -> str:
        if self.container is None:
            return f"{self.name} of the host's network namespace (both directions)"
        return f"{self.name} of container {self.container}'s network namespace (server egress)"


def parse(text: str) -> str:
    """The canonical form (words single-spaced) of a netem value; NetemError if not accepted."""
    words = text.split()
    if words == [NONE]:
        return NONE
    if not words:
        raise NetemError(f"must not be empty (accepted: {GRAMMAR})")
    seen: set[str] = set()
    index = 0
    while index < len(words):
        word = words[index]
        if word not in ("delay", "loss", "rate"):
            raise NetemError(f"{text!r}: unknown word {word!r} (accepted: {GRAMMAR})")
        if word in seen:
            raise NetemError(f"{text!r}: {word} is given twice")
        seen.add(word)
        taken = _arguments(text, word, words[index + 1 :])
        index += 1 + taken
    return " ".join(words)


def _arguments(text: str, word: str, rest: Sequence[str]) -> int:
    """Check the arguments of `word` at the start of `rest`; how many words they are."""
    first = rest[0] if rest else ""
    if word == "delay":
        if not _TIME.fullmatch(first):
            raise NetemError(f"{text!r}: delay needs a TIME like 5ms, 200us or 1s, not {first!r}")
        jitter = len(rest) > 1 and bool(_TIME.fullmatch(rest[1]))
        total = sum(_seconds(value) for value in rest[: 1 + jitter])
        if total > MAX_DELAY_S:
            raise NetemError(f"{text!r}: delay and jitter exceed {MAX_DELAY_S:.0f} s")
        return 1 + jitter
    if word == "loss":
        match = _PERCENT.fullmatch(first)
        if not match or float(match[1]) > 100:
            raise NetemError(f"{text!r}: loss needs a percentage like 0.1% (0..100), not {first!r}")
        return 1
    match = _RATE.fullmatch(first)
    if not match or float(match[1]) == 0:
        raise NetemError(f"{text!r}: rate needs a RATE like 100mbit or 1gbit, not {first!r}")
    return 1


def _seconds(time: str) -> float:
    match = _TIME.fullmatch(time)
    assert match is not None
    return float(match[1]) * _SECONDS[match[2]]


def token(value: str) -> str:
    """A netem value as a cell key shows it: `delay 5ms loss 0.1%` -> `delay_5ms_loss_0.1%`."""
    return value.replace(" ", "_")


def device(driver: ModeDriver, placement: Placement) -> Device:
    """Where netem shapes a run's path: the one place that chooses (see the module docstring).

    A cross-host mode would answer the lab NIC here.
    """
    if driver.loopback_target or not placement.containers:
        return Device("lo")
    return Device("eth0", placement.server_name())


def _tc(pid: str | None) -> list[str]:
    """The host's tc, run inside the network namespace of `pid` when given."""
    return ["tc"] if pid is None else ["nsenter", "-t", pid, "-n", "tc"]


def apply(conn: Connection, target: Device, value: str, workdir: str) -> str:
    """Put netem `value` on `target` (replacing its root qdisc); what tc then shows of it.

    Raises:
        NetemUnsupported: the kernel has no netem (tc's own message).
        NetmatrixError: tc or the container's namespace failed otherwise.
    """
    pid = None
    if target.container is None:
        # Named before tc runs: a run that dies right after still has its qdisc undone.
        conn.sudo(
            ["sh", "-c", 'printf "%s\\n" "$1" > "$0"', f"{workdir}/{MARKER}", target.name],
            check=True,
        )
    else:
        found = conn.sudo(["docker", "inspect", "--format", "{{.State.Pid}}", target.container])
        pid = found.stdout.strip()
        if not found.ok or not pid.isdigit() or pid == "0":
            raise NetmatrixError(f"netem: no process of {target.container}: {last_line(found)}")
    tc = _tc(pid)
    result = conn.sudo(
        [*tc, "qdisc", "replace", "dev", target.name, "root", "netem", *value.split()],
        timeout=30,
    )
    if not result.ok:
        message = last_line(result)
        if _UNSUPPORTED.search(message):
            raise NetemUnsupported(f"netem: {message}")
        raise NetmatrixError(f"netem: tc qdisc replace on {target.description} failed: {message}")
    shown = conn.sudo([*tc, "qdisc", "show", "dev", target.name], timeout=30, check=True)
    return shown.stdout


def record(target: Device, value: str, shown: str) -> str:
    """What a run keeps of its netem: the value, the device and tc's view of it afterwards."""
    return f"netem: {value}\ndevice: {target.description}\n{shown.rstrip()}\n"


# Shell for teardown and sweep: `netem_remove MARKER` removes the netem root qdisc of the
# device the marker names (only a netem one: whatever else is there is not ours).
REMOVE_SH = """netem_remove() {
    [ -f "$1" ] || return 0
    dev=$(cat "$1")
    if tc qdisc show dev "$dev" | grep -q '^qdisc netem .* root'; then
        tc qdisc del dev "$dev" root
    fi
}
"""
