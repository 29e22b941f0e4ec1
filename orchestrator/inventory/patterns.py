"""Host patterns (`--hosts`), evaluated with Ansible's rules, stricter about typos.

A pattern is a list of terms separated by `,` (or `:` when the whole is not an address):
`lab1,lab2`, `web`, `all`, globs `lab*`, regexes `~lab[12]`, subscripts `web[0]`/`web[0:1]`,
exclusions `all:!controller`, intersections `web:&prod`. Plain terms are applied first, then
`&` terms, then `!` terms. A term names a group (all its hosts) or hosts; a glob may match both.

Ansible only warns when a term matches nothing; a mistyped host in an experiment would then
silently drop out, so here a plain term that matches nothing, a `!`/`&` term naming no host or
group, and a pattern that selects no host at all are errors listing the known hosts.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence

from orchestrator.host import Host
from orchestrator.inventory.addresses import parse_address
from orchestrator.inventory.errors import InventoryError

_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_COLON_TERMS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_GLOB_CHARS = (".", "?", "*", "[")


def split_pattern(pattern: str) -> list[str]:
    """The terms of a pattern: `a,b` and (outside addresses and ranges) `a:!b` both split."""
    if "," in pattern:
        terms = pattern.split(",")
    elif parse_address(pattern) is not None:
        terms = [pattern]
    else:
        terms = _COLON_TERMS.findall(pattern)
    return [term.strip() for term in terms if term.strip()]


def select_hosts(pattern: str, hosts: Sequence[Host]) -> list[Host]:
    """The hosts among `hosts` that `pattern` selects, by their names and groups (a playbook
    run on hosts without their inventory)."""
    groups = list(dict.fromkeys(["all", *(group for host in hosts for group in host.groups)]))
    matcher = Matcher(
        [host.name for host in hosts],
        groups,
        lambda group: [host.name for host in hosts if group == "all" or group in host.groups],
    )
    chosen = set(matcher.select(pattern))
    return [host for host in hosts if host.name in chosen]


class Matcher:
    """Evaluates patterns over host names, group names and each group's hosts."""

    def __init__(
        self,
        hosts: Sequence[str],
        groups: Sequence[str],
        group_hosts: Callable[[str], list[str]],
        implicit: Sequence[str] = (),
    ) -> None:
        self.hosts = list(hosts)  # in declaration order, which glob matches follow
        self.host_set = set(hosts)
        self.groups = list(groups)
        self.group_hosts = group_hosts
        self.implicit = implicit  # names that mean the implicit localhost

    def select(self, pattern: str) -> list[str]:
        """Host names that `pattern` selects, in Ansible's order, each once."""
        terms = split_pattern(pattern or "")
        if not terms:
            raise self.error("the host pattern is empty")
        plain = [term for term in terms if term[0] not in "!&"]
        ordered = (
            (plain or ["all"])
            + [term for term in terms if term[0] == "&"]
            + [term for term in terms if term[0] == "!"]
        )
        selected: list[str] = []
        for term in ordered:
            if term in self.host_set:
                selected.append(term)
                continue
            matched = self._match_term(term, pattern)
            if term[0] == "!":
                excluded = set(matched)
                selected = [name for name in selected if name not in excluded]
            elif term[0] == "&":
                kept = set(matched)
                selected = [name for name in selected if name in kept]
            else:
                present = set(selected)
                selected.extend(name for name in matched if name not in present)
        selected = list(dict.fromkeys(selected))
        if not selected:
            raise self.error(f"host pattern {pattern!r} matches no hosts")
        return selected

    def _match_term(self, term: str, pattern: str) -> list[str]:
        expression = term[1:] if term[0] in "!&" else term
        if not expression:
            raise self.error(f"term {term!r} of host pattern {pattern!r} names nothing")
        expression, subscript = _split_subscript(expression)
        hosts, named_something = self._enumerate(expression)
        if subscript and hosts:
            start, end = subscript
            try:
                if end:
                    hosts = hosts[start : (len(hosts) - 1 if end == -1 else end) + 1]
                else:
                    hosts = [hosts[start]]
            except IndexError:
                raise self.error(f"subscript of {term!r} is out of range") from None
        if term[0] not in "!&" and not hosts:
            raise self.error(_no_match(expression, pattern, "matches no host"))
        if term[0] in "!&" and not named_something and not _is_glob(expression):
            raise self.error(_no_match(expression, pattern, "is no host or group"))
        return hosts

    def _enumerate(self, expression: str) -> tuple[list[str], bool]:
        try:
            regex = _compile(expression)
        except re.error as error:
            raise self.error(f"invalid host pattern {expression!r}: {error}") from None
        results: list[str] = []
        groups = [name for name in self.groups if regex.match(name)]
        for name in groups:
            results.extend(self.group_hosts(name))
        hosts: list[str] = []
        if not groups or _is_glob(expression):
            hosts = [name for name in self.hosts if regex.match(name)]
            results.extend(hosts)
        if not results and expression in self.implicit:
            results.append(expression)
        return results, bool(groups or hosts or results)

    def error(self, message: str) -> InventoryError:
        names = self.hosts
        shown = ", ".join(names[:30]) + (f", … ({len(names) - 30} more)" if len(names) > 30 else "")
        return InventoryError(f"{message}; known hosts: {shown or '(none)'}")


def _no_match(expression: str, pattern: str, problem: str) -> str:
    if expression == pattern.strip():
        return f"host pattern {pattern!r} {problem}"
    message = f"{expression!r} in host pattern {pattern!r} {problem}"
    if ":" in expression and "," in pattern:
        message += " (a pattern with commas is split at commas only: write a,b,!c)"
    return message


def _is_glob(expression: str) -> bool:
    return expression[:1] == "~" or any(char in expression for char in _GLOB_CHARS)


def _compile(expression: str) -> re.Pattern[str]:
    if expression[0] == "~":
        return re.compile(expression[1:])
    return re.compile(fnmatch.translate(expression))


def _split_subscript(expression: str) -> tuple[str, tuple[int, int | None] | None]:
    if expression[0] == "~":
        return expression, None
    match = _SUBSCRIPT.match(expression)
    if not match:
        return expression, None
    base, index, start, _, end = match.groups()
    if index:
        return base, (int(index), None)
    return base, (int(start), int(end) if end else -1)
