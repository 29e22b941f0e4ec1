"""What a playbook run shows while it runs: Ansible's default callback, plain or with rich.

`PlainDisplay` writes the lines ansible-playbook writes when its output is not a terminal
(`TASK [name] ***`, `ok: [lab1]`, `changed: [lab2]`, `fatal: [lab1]: FAILED! => {...}`, the
PLAY RECAP). `RichDisplay` writes the same lines in Ansible's colours and shows a spinner per
host still working on the current task. The engine calls a display from one thread only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any, Protocol

from orchestrator.outcome import Status, TaskOutcome
from orchestrator.recap import HostStats, recap_line
from orchestrator.templating import plain

COLUMNS = 79  # ansible's banner width when not on a terminal
NO_LOG = (
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
)


class Display(Protocol):
    def play_start(self, name: str, check: bool) -> None: ...

    def no_hosts(self) -> None: ...

    def no_hosts_left(self) -> None: ...

    def warning(self, message: str) -> None: ...

    def task_start(self, label: str, *, handler: bool, hosts: Sequence[str]) -> None: ...

    def host_done(self, outcome: TaskOutcome) -> None: ...

    def task_end(self) -> None: ...

    def recap(self, stats: Mapping[str, HostStats]) -> None:
        """The PLAY RECAP from the counters alone, as Ansible's `v2_playbook_on_stats`."""
        ...


def dump(result: Mapping[str, Any]) -> str:
    """A result as ansible prints it after `=>`: JSON, sorted, without internal keys.

    Like Ansible's output, it leaves out `failed` (the line says so), a false `skipped`, and
    the command keys of modules that ran no single command (`rc` is None).
    """
    shown = {k: v for k, v in result.items() if k != "exception" and not k.startswith("_")}
    shown.pop("failed", None)
    if not shown.get("skipped"):
        shown.pop("skipped", None)
    if shown.get("rc", 0) is None:
        for key in ("rc", "stdout", "stderr", "stdout_lines", "stderr_lines"):
            if not shown.get(key):
                shown.pop(key, None)
    # YAML 1.1 turns keys such as `on:` into booleans; JSON wants text keys to sort.
    return json.dumps(plain(shown), sort_keys=True, default=str)


def _censored(outcome: TaskOutcome) -> Mapping[str, Any]:
    if outcome.no_log:
        return {"censored": NO_LOG, "changed": bool(outcome.result.get("changed"))}
    return outcome.result


def _verbose_part(result: Mapping[str, Any]) -> dict[str, Any]:
    """What debug shows: its msg, or the variable it was asked for."""
    keep = {k: v for k, v in result.items() if k not in _COMMON_KEYS}
    if not keep:
        keep = {"msg": result.get("msg", "")}
    return keep


_COMMON_KEYS = {
    "changed", "failed", "skipped", "msg", "rc", "stdout", "stderr", "stdout_lines",
    "stderr_lines",
}  # fmt: skip


def outcome_lines(outcome: TaskOutcome) -> list[tuple[str, str]]:
    """(style, text) lines for one host's outcome, as ansible's default callback words them."""
    host = f"{outcome.host} -> localhost" if outcome.delegated else outcome.host
    result = _censored(outcome)
    lines: list[tuple[str, str]] = []
    status = outcome.status
    if status == Status.UNREACHABLE:
        return [("unreachable", f"fatal: [{host}]: UNREACHABLE! => {dump(result)}")]
    if outcome.items:
        for item in outcome.items:
            shown = {"censored": NO_LOG} if outcome.no_log else item.result
            if item.status in (Status.FAILED, Status.IGNORED):
                lines.append(("failed", f"failed: [{host}] (item={item.label}) => {dump(shown)}"))
            elif item.status == Status.SKIPPED:
                lines.append(("skipped", f"skipping: [{host}] => (item={item.label}) "))
            else:
                lines.append((item.status, f"{item.status}: [{host}] => (item={item.label})"))
        if status == Status.SKIPPED:
            lines.append(("skipped", f"skipping: [{host}]"))
        elif status == Status.IGNORED:
            lines.append(("skipped", "...ignoring"))
        return lines
    if status in (Status.FAILED, Status.IGNORED):
        lines.append(("failed", f"fatal: [{host}]: FAILED! => {dump(result)}"))
        if status == Status.IGNORED:
            lines.append(("skipped", "...ignoring"))
    elif status == Status.SKIPPED:
        lines.append(("skipped", f"skipping: [{host}]"))
    else:
        text = f"{status}: [{host}]"
        if outcome.verbose:
            shown = _verbose_part(result)
            text += " => " + json.dumps(plain(shown), indent=4, sort_keys=True, default=str)
        lines.append((status, text))
    return lines


class PlainDisplay:
    """ansible-playbook's output, uncoloured."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout

    def _line(self, text: str, style: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _banner(self, message: str) -> None:
        self._line("")
        self._line(f"{message} {'*' * max(3, COLUMNS - len(message))}", "banner")

    def play_start(self, name: str, check: bool) -> None:
        self._banner(f"PLAY [{name}]" if name else "PLAY")

    def no_hosts(self) -> None:
        self._line("skipping: no hosts matched", "skipped")

    def no_hosts_left(self) -> None:
        self._banner("NO MORE HOSTS LEFT")

    def warning(self, message: str) -> None:
        self._line(f"[WARNING]: {message}", "warning")

    def task_start(self, label: str, *, handler: bool, hosts: Sequence[str]) -> None:
        self._banner(f"RUNNING HANDLER [{label}]" if handler else f"TASK [{label}]")

    def host_done(self, outcome: TaskOutcome) -> None:
        for style, text in outcome_lines(outcome):
            self._line(text, style)

    def task_end(self) -> None:
        pass

    def recap(self, stats: Mapping[str, HostStats]) -> None:
        self._banner("PLAY RECAP")
        for host, counts in sorted(stats.items()):
            self._line(recap_line(host, counts), self._recap_style(counts))
        self._line("")

    @staticmethod
    def _recap_style(stats: HostStats) -> str:
        if stats.failures or stats.unreachable:
            return "failed"
        return "changed" if stats.changed else "ok"


_STYLES = {
    "ok": "green",
    "changed": "yellow",
    "skipped": "cyan",
    "failed": "red",
    "unreachable": "bold red",
    "warning": "bright_magenta",
    "banner": "bold",
}


class RichDisplay(PlainDisplay):
    """The same lines in Ansible's colours, with a live spinner per host still working."""

    def __init__(self, console=None) -> None:
        from rich.console import Console

        self.console = console or Console(highlight=False)
        super().__init__(self.console.file)
        self._live = None
        self._pending: dict[str, str] = {}
        self._label = ""

    def _line(self, text: str, style: str = "") -> None:
        self.console.print(
            text, style=_STYLES.get(style, ""), markup=False, highlight=False, soft_wrap=True
        )

    def _render(self):
        from rich.console import Group
        from rich.spinner import Spinner

        spinners = [Spinner("dots", text=f"{host}: {self._label}") for host in self._pending]
        return Group(*spinners)

    def task_start(self, label: str, *, handler: bool, hosts: Sequence[str]) -> None:
        from rich.live import Live

        super().task_start(label, handler=handler, hosts=hosts)
        self._label = label
        self._pending = dict.fromkeys(hosts, label)
        self._live = Live(self._render(), console=self.console, transient=True)
        self._live.start()

    def host_done(self, outcome: TaskOutcome) -> None:
        super().host_done(outcome)
        self._pending.pop(outcome.host, None)
        if self._live is not None:
            self._live.update(self._render())

    def task_end(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def recap(self, stats: Mapping[str, HostStats]) -> None:
        from rich.text import Text

        self._banner("PLAY RECAP")
        for host, counts in sorted(stats.items()):
            line = Text(recap_line(host, counts))
            line.stylize(_STYLES[self._recap_style(counts)], 0, len(host))
            self.console.print(line, highlight=False, soft_wrap=True)
        self._line("")


def make_display(stream: IO[str] | None = None) -> Display:
    """Rich when writing to a terminal, plain ansible-like lines otherwise."""
    stream = stream if stream is not None else sys.stdout
    if stream.isatty():
        from rich.console import Console

        return RichDisplay(Console(file=stream, highlight=False))
    return PlainDisplay(stream)
