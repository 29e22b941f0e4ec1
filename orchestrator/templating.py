"""Jinja2 for playbooks: sandboxed, StrictUndefined, lazy variables, Ansible's common filters.

What is templated follows Ansible: module arguments, `when`/`changed_when`/`failed_when`,
`loop`, task names and variable values (lazily, so `dest: "/opt/{{ app }}"` in `vars` works).
Results of tasks (registered values, facts, loop items) are data and never templated again,
so a command whose output contains `{{` cannot inject a template.

A string that is exactly one `{{ expression }}` keeps the expression's native type
(`loop: "{{ packages }}"` gives a list), as in Ansible.

Shell text (the `command` and `shell` modules' free-form text) is rendered with every
`{{ … }}` output quoted as one shell word, so a variable holding `$(touch /tmp/x)` stays data.
`{{ x | quote }}` is not quoted twice; `{{ x | shell_text }}` opts out for text that is meant
to be shell code.
"""

from __future__ import annotations

import base64
import functools
import json
import ntpath
import posixpath
import re
import shlex
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError, Undefined, nodes
from jinja2.exceptions import TemplateSyntaxError, UndefinedError
from jinja2.parser import Parser
from jinja2.sandbox import SandboxedEnvironment

from orchestrator.errors import NetmatrixError

# `default(omit)` drops a module argument, as in Ansible.
OMIT = "__omit_place_holder__netmatrix__"

_SINGLE_EXPRESSION = re.compile(r"\A\{\{(?P<expr>.*?)\}\}\Z", re.DOTALL)


class TemplatingError(NetmatrixError):
    """A template or expression that does not parse or does not evaluate."""


class ShellWord(str):
    """Text that is already safe shell (quoted by `quote`, or declared with `shell_text`)."""


def _quote_for_shell(value: Any) -> str:
    if isinstance(value, ShellWord):
        return value
    if isinstance(value, Undefined):
        str(value)  # raises for StrictUndefined
    return shlex.quote(_to_text(value))


def _to_text(value: Any) -> str:
    if isinstance(value, bool | int | float | str) or value is None:
        return str(value)
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(_plain(value), sort_keys=True)
    return str(value)


def _plain(value: Any) -> Any:
    """Frozen containers (MappingProxyType, tuples) back to JSON-able dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# --- filters and tests (the handful of Ansible's that playbooks here use) --------------------


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in {"yes", "on", "1", "true", "y", "t"}
    return bool(value)


def _regex_replace(value: Any, pattern: str, replacement: str = "", ignorecase: bool = False):
    flags = re.IGNORECASE if ignorecase else 0
    return re.sub(pattern, replacement, str(value), flags=flags)


def _regex_search(value: Any, pattern: str, ignorecase: bool = False):
    flags = re.IGNORECASE if ignorecase else 0
    match = re.search(pattern, str(value), flags)
    return match.group(0) if match else None


def _ternary(value: Any, true_value: Any, false_value: Any, none_value: Any = None) -> Any:
    if value is None and none_value is not None:
        return none_value
    return true_value if value else false_value


def _mandatory(value: Any, msg: str | None = None) -> Any:
    if isinstance(value, Undefined):
        raise UndefinedError(msg or "Mandatory variable not defined.")
    return value


def _combine(*dicts: Mapping[str, Any], recursive: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for layer in dicts:
        for key, value in layer.items():
            if recursive and isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
                result[key] = _combine(result[key], value, recursive=True)
            else:
                result[key] = value
    return result


def _version_key(version: str) -> list[tuple[int, int | str]]:
    parts = re.findall(r"\d+|[A-Za-z]+", str(version))
    return [(0, int(p)) if p.isdigit() else (1, p) for p in parts]


def _version(value: Any, other: Any, operator: str = "eq") -> bool:
    left, right = _version_key(value), _version_key(other)
    ops = {
        "eq": left == right, "==": left == right, "ne": left != right, "!=": left != right,
        "lt": left < right, "<": left < right, "le": left <= right, "<=": left <= right,
        "gt": left > right, ">": left > right, "ge": left >= right, ">=": left >= right,
    }  # fmt: skip
    if operator not in ops:
        raise TemplateError(f"version: unknown operator {operator!r}")
    return ops[operator]


def _result_flag(key: str):
    def test(result: Any) -> bool:
        if not isinstance(result, Mapping):
            raise TemplateError(f"the '{key}' test expects a task result")
        return bool(result.get(key, False))

    return test


FILTERS: dict[str, Any] = {
    "bool": _bool,
    "to_json": lambda v, **kw: json.dumps(_plain(v), **kw),
    "to_nice_json": lambda v, indent=4: json.dumps(_plain(v), indent=indent, sort_keys=True),
    "from_json": json.loads,
    "to_yaml": lambda v, **kw: yaml.safe_dump(_plain(v), default_flow_style=None, **kw),
    "to_nice_yaml": lambda v, indent=4: yaml.safe_dump(
        _plain(v), indent=indent, default_flow_style=False
    ),
    "from_yaml": yaml.safe_load,
    "regex_replace": _regex_replace,
    "regex_search": _regex_search,
    "basename": posixpath.basename,
    "dirname": posixpath.dirname,
    "win_basename": ntpath.basename,
    "quote": lambda v: ShellWord(shlex.quote(_to_text(v))),
    "shell_text": lambda v: ShellWord(_to_text(v)),
    "ternary": _ternary,
    "b64encode": lambda v: base64.b64encode(str(v).encode()).decode(),
    "b64decode": lambda v: base64.b64decode(str(v)).decode(),
    "mandatory": _mandatory,
    "combine": _combine,
}

TESTS: dict[str, Any] = {
    "failed": _result_flag("failed"),
    "changed": _result_flag("changed"),
    "skipped": _result_flag("skipped"),
    "succeeded": lambda r: not _result_flag("failed")(r),
    "success": lambda r: not _result_flag("failed")(r),
    "match": lambda v, p, ignorecase=False: bool(
        re.match(p, str(v), re.IGNORECASE if ignorecase else 0)
    ),
    "search": lambda v, p, ignorecase=False: bool(
        re.search(p, str(v), re.IGNORECASE if ignorecase else 0)
    ),
    "regex": lambda v, p: bool(re.search(p, str(v))),
    "version": _version,
    "version_compare": _version,
}


def _environment(*, shell: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,  # Ansible's template module default
        finalize=_quote_for_shell if shell else None,
    )
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    env.globals["omit"] = OMIT
    return env


ENV = _environment(shell=False)
SHELL_ENV = _environment(shell=True)


# --- variables ------------------------------------------------------------------------------


class Vars(Mapping[str, Any]):
    """Layered variables, lowest precedence first, templated lazily on lookup.

    Each layer is `(mapping, templated)`: template layers (inventory vars, play vars, extra
    vars) have their string values rendered on first access; data layers (registered results,
    facts, loop items) are returned as they are.
    """

    def __init__(self, *layers: tuple[Mapping[str, Any], bool]) -> None:
        self._layers = ((ENV.globals, False), *layers)
        self._cache: dict[str, Any] = {}
        self._resolving: set[str] = set()
        self._lock = threading.RLock()

    def with_layer(self, layer: Mapping[str, Any], templated: bool = False) -> Vars:
        """A new Vars with one more layer on top (e.g. `item` for a loop iteration)."""
        return Vars(*self._layers[1:], (layer, templated))

    def _find(self, key: str) -> tuple[Any, bool]:
        for mapping, templated in reversed(self._layers):
            if key in mapping:
                return mapping[key], templated
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return any(key in mapping for mapping, _ in self._layers)

    def __getitem__(self, key: str) -> Any:
        raw, templated = self._find(key)
        if not templated:
            return raw
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            if key in self._resolving:
                raise TemplatingError(f"recursive loop detected in variable {key!r}")
            self._resolving.add(key)
            try:
                value = template_value(raw, self)
            finally:
                self._resolving.discard(key)
            self._cache[key] = value
            return value

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for mapping, _ in reversed(self._layers):
            for key in mapping:
                if key not in seen:
                    seen.add(key)
                    yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)


# --- compiling and evaluating ---------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _compile_expression(source: str):
    parser = Parser(ENV, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("unexpected text after the expression", 1, None, None)
    expr.set_environment(ENV)
    body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
    return ENV.from_string(nodes.Template(body, lineno=1))


@functools.lru_cache(maxsize=4096)
def _compile_text(source: str, shell: bool):
    return (SHELL_ENV if shell else ENV).from_string(source)


def _describe(error: Exception) -> str:
    if isinstance(error, TemplateSyntaxError):
        return f"template syntax error: {error.message}"
    text = str(error) or type(error).__name__
    return text


def check_expression(source: str) -> None:
    """Raise TemplatingError if `source` is not a valid Jinja2 expression."""
    try:
        _compile_expression(source)
    except TemplateSyntaxError as error:
        raise TemplatingError(_describe(error)) from None


def check_template(value: Any) -> None:
    """Raise TemplatingError if any string in `value` is not a valid Jinja2 template."""
    if isinstance(value, str):
        if "{{" in value or "{%" in value or "{#" in value:
            try:
                _compile_text(value, False)
            except TemplateSyntaxError as error:
                raise TemplatingError(_describe(error)) from None
    elif isinstance(value, Mapping):
        for item in value.values():
            check_template(item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_template(item)


def evaluate(source: str, variables: Mapping[str, Any]) -> Any:
    """The value of the Jinja2 expression `source` (native type, not text)."""
    try:
        template = _compile_expression(source)
        context = template.new_context(variables, shared=True)
        for _ in template.root_render_func(context):
            pass
        result = context.vars["result"]
        if isinstance(result, Undefined):
            result._fail_with_undefined_error()
        return result
    except TemplatingError:
        raise
    except Exception as error:  # jinja2 raises many kinds; all mean "does not evaluate"
        raise TemplatingError(_describe(error)) from None


def condition_source(condition: Any) -> str:
    """The expression of a `when`-style condition (`{{ x }}` is accepted for `x`)."""
    source = str(condition).strip()
    match = _SINGLE_EXPRESSION.match(source)
    if match and "{{" not in match["expr"] and "}}" not in match["expr"]:
        source = match["expr"].strip()
    return source


def is_true(condition: Any, variables: Mapping[str, Any]) -> bool:
    """Evaluate a `when`-style condition as Ansible does (a bare expression, or a bool)."""
    if isinstance(condition, bool):
        return condition
    value = evaluate(condition_source(condition), variables)
    if isinstance(value, str):
        return _bool(value) if value.strip().lower() in _BOOL_WORDS else bool(value)
    return bool(value)


_BOOL_WORDS = {"yes", "no", "on", "off", "true", "false", "1", "0", "y", "n", "t", "f", ""}


def render_text(source: str, variables: Mapping[str, Any], *, shell: bool = False) -> str:
    """Render `source` as a whole template to text (the template module, shell text)."""
    try:
        template = _compile_text(source, shell)
        context = template.new_context(variables, shared=True)
        return template.environment.concat(template.root_render_func(context))  # type: ignore[attr-defined]
    except TemplatingError:
        raise
    except Exception as error:
        raise TemplatingError(_describe(error)) from None


def template_value(value: Any, variables: Mapping[str, Any], *, shell: bool = False) -> Any:
    """Template every string inside `value`; containers come back as plain dicts and lists."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value and "{#" not in value:
            return value
        match = _SINGLE_EXPRESSION.match(value)
        if not shell and match and "{{" not in match["expr"] and "}}" not in match["expr"]:
            return evaluate(match["expr"], variables)
        return render_text(value, variables, shell=shell)
    if isinstance(value, Mapping):
        return {k: template_value(v, variables, shell=shell) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [template_value(v, variables, shell=shell) for v in value]
    return value


def drop_omitted(args: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments without those set to `omit`."""
    return {k: v for k, v in args.items() if v != OMIT}


def plain(value: Any) -> Any:
    """JSON-able copy of a value that may hold frozen containers."""
    return _plain(value)
