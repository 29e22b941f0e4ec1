"""Playbooks: YAML plays and tasks, validated when loaded into frozen values.

The supported subset of Ansible's playbook language:

- play keys: `name`, `hosts`, `vars`, `become`, `gather_facts`, `tasks`, `handlers`,
  `serial`, `tags`;
- task keys: the module and its arguments (a mapping, or `key=value` text; free-form text for
  `command`/`shell`), `name`, `when`, `register`, `loop` (+ `loop_control`), `tags`,
  `notify`, `ignore_errors`, `changed_when`, `failed_when`, `delegate_to: localhost`,
  `become`, `vars`, `args`, `environment`, `check_mode`, `no_log`, `timeout`; handlers also
  take `listen`.

Differences from Ansible, on purpose: `gather_facts` defaults to false (facts here are
netmatrix's probes, several commands per host, and most playbooks do not need them); roles,
blocks, includes and `become_user` are not supported. Everything that can be checked before
running is checked here — unknown keys, unknown modules and module arguments, template and
`when` syntax, handler names — and reported with the file and line.

One file of about 540 lines: it is the definition of the subset above, key by key; split,
the subset would have no single place to read it from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from orchestrator import modules, templating
from orchestrator.errors import NetmatrixError
from orchestrator.host import LOCALHOST_NAMES
from orchestrator.modules.base import ModuleArgError
from orchestrator.yamlsource import LocatedDict, parse_yaml

PLAY_KEYS = (
    "name", "hosts", "vars", "become", "gather_facts", "tasks", "handlers", "serial", "tags",
)  # fmt: skip
TASK_KEYS = (
    "name", "when", "register", "loop", "loop_control", "tags", "notify", "ignore_errors",
    "changed_when", "failed_when", "delegate_to", "become", "vars", "args", "environment",
    "check_mode", "no_log", "timeout",
)  # fmt: skip
HANDLER_KEYS = (*TASK_KEYS, "listen")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEY_VALUE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
_PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")


class PlaybookError(NetmatrixError):
    """A playbook that cannot be loaded: bad YAML, unknown key or module, bad template."""


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class LoopControl:
    loop_var: str = "item"
    label: str | None = None


@dataclass(frozen=True)
class Task:
    """One task (or handler) as written, validated; templates are rendered at run time."""

    module: str
    args: Mapping[str, Any]
    name: str | None = None
    when: tuple[Any, ...] = ()
    register: str | None = None
    loop: Any = None  # None: no loop; else a list or a template giving one
    loop_control: LoopControl = LoopControl()
    tags: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    listen: tuple[str, ...] = ()
    ignore_errors: bool = False
    changed_when: tuple[Any, ...] | None = None
    failed_when: tuple[Any, ...] | None = None
    delegate_to: str | None = None
    become: bool | None = None
    vars: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    environment: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    check_mode: bool | None = None
    no_log: bool = False
    timeout: int | None = None
    file: str = "<playbook>"
    line: int = 0

    @property
    def label(self) -> str:
        """What output shows: the name, else the module (as Ansible does)."""
        return self.name or self.module

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Play:
    hosts: str
    name: str
    tasks: tuple[Task, ...] = ()
    handlers: tuple[Task, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    become: bool | None = None
    gather_facts: bool = False
    serial: int | str | None = None  # a count, or "N%"
    tags: tuple[str, ...] = ()
    file: str = "<playbook>"
    line: int = 0


@dataclass(frozen=True)
class Playbook:
    path: Path
    plays: tuple[Play, ...]

    @property
    def base_dir(self) -> Path:
        """Where `src:` files are looked up (with its `files/` and `templates/`)."""
        return self.path.parent


def _parse_yaml(text: str, source: str) -> Any:
    """The playbook's YAML, every mapping remembering its lines (`orchestrator.yamlsource`)."""
    try:
        return parse_yaml(text, source)
    except NetmatrixError as error:
        raise PlaybookError(str(error)) from None


# --- public entry points --------------------------------------------------------------------


def load_playbook(path: Path | str) -> Playbook:
    """Read and validate a playbook file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PlaybookError(f"{path}: no such playbook") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PlaybookError(f"{path}: cannot read: {error}") from None
    return parse_playbook(text, path)


def parse_playbook(text: str, path: Path | str = "<playbook>") -> Playbook:
    """Validate playbook text; `path` names it in errors and anchors `src:` lookups."""
    path = Path(path)
    source = str(path)
    data = _parse_yaml(text, source)
    if data is None:
        raise PlaybookError(f"{source}: the playbook is empty")
    if not isinstance(data, list):
        raise PlaybookError(f"{source}: a playbook is a list of plays, got {_kind(data)}")
    plays = tuple(_parse_play(raw, source, index) for index, raw in enumerate(data, 1))
    return Playbook(path=path, plays=plays)


# --- plays and tasks ------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "text" if isinstance(value, str) else type(value).__name__


def _line(raw: Any, key: str | None = None) -> int:
    if not isinstance(raw, LocatedDict):
        return 0
    if key is not None and key in raw.key_locations:
        return raw.key_locations[key].line
    return raw.location.line


def _bool(raw: LocatedDict, key: str, where: str) -> bool | None:
    value = raw.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise PlaybookError(f"{where}: {key} must be true or false, got {value!r}")


def _names(value: Any, key: str, where: str) -> tuple[str, ...]:
    """A string (comma-separated) or a list of strings, as Ansible takes tags and notify."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return tuple(str(v) for v in value)
    raise PlaybookError(f"{where}: {key} must be a name or a list of names, got {value!r}")


def _mapping(value: Any, key: str, where: str) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise PlaybookError(f"{where}: {key} must be a mapping, got {_kind(value)}")
    for name in value:
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            raise PlaybookError(f"{where}: {key}: {name!r} is not a valid variable name")
    try:
        templating.check_template(value)
    except templating.TemplatingError as error:
        raise PlaybookError(f"{where}: {key}: {error}") from None
    return _freeze(value)


def _parse_play(raw: Any, source: str, index: int) -> Play:
    where = f"{source}:{_line(raw)}" if _line(raw) else f"{source}: play {index}"
    if not isinstance(raw, dict):
        raise PlaybookError(f"{where}: a play must be a mapping, got {_kind(raw)}")
    for key in raw:
        if key not in PLAY_KEYS:
            hint = ""
            if key in ("roles", "import_playbook", "include", "pre_tasks", "post_tasks"):
                hint = f" ({key} is not supported)"
            elif key in TASK_KEYS or modules.get(str(key)):
                hint = " (a task key at play level: is the task list indented under `tasks:`?)"
            raise PlaybookError(
                f"{source}:{_line(raw, key)}: unknown play key {key!r}{hint}; "
                f"play keys: {', '.join(PLAY_KEYS)}"
            )
    hosts = raw.get("hosts")
    if isinstance(hosts, list) and hosts and all(isinstance(h, str) for h in hosts):
        hosts = ",".join(hosts)
    if not isinstance(hosts, str) or not hosts.strip():
        raise PlaybookError(f"{where}: every play needs `hosts:` (a host pattern)")
    name = raw.get("name") or hosts
    if not isinstance(name, str):
        raise PlaybookError(f"{where}: name must be text, got {name!r}")
    serial = raw.get("serial")
    if serial is not None:
        valid = (isinstance(serial, int) and not isinstance(serial, bool) and serial > 0) or (
            isinstance(serial, str) and _PERCENT.match(serial) and int(serial.strip("% ")) > 0
        )
        if not valid:
            raise PlaybookError(f"{where}: serial must be a positive count or 'N%', got {serial!r}")
    gather = _bool(raw, "gather_facts", where)
    tags = _names(raw.get("tags"), "tags", where)

    handlers = tuple(
        _parse_task(item, source, where, handler=True, play_tags=())
        for item in _task_list(raw, "handlers", where)
    )
    for handler in handlers:
        if not handler.name and not handler.listen:
            raise PlaybookError(f"{handler.where}: a handler needs a name (or listen)")
    topics = {h.name for h in handlers if h.name} | {t for h in handlers for t in h.listen}
    tasks = tuple(
        _parse_task(item, source, where, handler=False, play_tags=tags)
        for item in _task_list(raw, "tasks", where)
    )
    for task in (*tasks, *handlers):
        for topic in task.notify:
            if topic not in topics:
                known = ", ".join(sorted(topics)) or "none"
                raise PlaybookError(
                    f"{task.where}: task {task.label!r} notifies {topic!r}, but the play has "
                    f"no such handler; handlers: {known}"
                )
    return Play(
        hosts=hosts.strip(),
        name=name,
        tasks=tasks,
        handlers=handlers,
        vars=_mapping(raw.get("vars"), "vars", where),
        become=_bool(raw, "become", where),
        gather_facts=bool(gather),
        serial=serial,
        tags=tags,
        file=source,
        line=_line(raw),
    )


def _task_list(raw: LocatedDict, key: str, where: str) -> list[Any]:
    items = raw.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise PlaybookError(f"{source_line(raw, key, where)}: {key} must be a list of tasks")
    return items


def source_line(raw: LocatedDict, key: str, where: str) -> str:
    line = _line(raw, key)
    return f"{where.rsplit(':', 1)[0]}:{line}" if line else where


def _parse_task(raw: Any, source: str, play_where: str, *, handler: bool, play_tags) -> Task:
    line = _line(raw)
    where = f"{source}:{line}" if line else play_where
    kind = "handler" if handler else "task"
    if not isinstance(raw, dict):
        raise PlaybookError(f"{where}: a {kind} must be a mapping, got {_kind(raw)}")
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        name = str(name)
    label = f"{kind} {name!r}" if name else f"{kind} at line {line}"
    keys = HANDLER_KEYS if handler else TASK_KEYS

    candidates = [key for key in raw if key not in keys]
    known = [key for key in candidates if isinstance(key, str) and modules.get(key)]
    module_list = ", ".join(modules.names())
    if not known:
        if not candidates:
            raise PlaybookError(f"{where}: {label} names no module; modules: {module_list}")
        shown = ", ".join(repr(k) for k in candidates)
        what = "unknown module" if len(candidates) == 1 else "unknown modules or keys"
        raise PlaybookError(
            f"{source}:{_line(raw, candidates[0])}: {label}: {what} {shown}; modules: {module_list}"
        )
    if len(known) > 1:
        raise PlaybookError(f"{where}: {label}: more than one module: {', '.join(known)}")
    action = known[0]
    for key in candidates:
        if key != action:
            raise PlaybookError(
                f"{source}:{_line(raw, key)}: {label}: unknown {kind} key {key!r}; "
                f"{kind} keys: {', '.join(keys)}"
            )
    module = modules.get(action)
    assert module is not None
    args = _module_args(raw, action, module, where, label)

    def check_conditions(key: str) -> tuple[Any, ...] | None:
        value = raw.get(key)
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, str | bool | int):
                raise PlaybookError(f"{where}: {label}: {key} must be an expression, got {item!r}")
            if isinstance(item, str):
                try:
                    templating.check_expression(templating.condition_source(item))
                except templating.TemplatingError as error:
                    raise PlaybookError(
                        f"{source}:{_line(raw, key)}: {label}: {key} `{item}` does not "
                        f"evaluate: {error}"
                    ) from None
        return tuple(items)

    register = raw.get("register")
    if register is not None and (not isinstance(register, str) or not _IDENTIFIER.match(register)):
        raise PlaybookError(f"{where}: {label}: register must be a variable name, got {register!r}")

    loop = raw.get("loop")
    if "loop" in raw:
        if isinstance(loop, str):
            try:
                templating.check_template(loop)
            except templating.TemplatingError as error:
                raise PlaybookError(f"{where}: {label}: loop: {error}") from None
        elif not isinstance(loop, list):
            raise PlaybookError(f"{where}: {label}: loop must be a list, got {_kind(loop)}")
        loop = _freeze(loop if loop is not None else [])
    loop_control = _loop_control(raw.get("loop_control"), where, label)

    delegate_to = raw.get("delegate_to")
    if delegate_to is not None and delegate_to not in LOCALHOST_NAMES:
        raise PlaybookError(
            f"{where}: {label}: only `delegate_to: localhost` is supported, got {delegate_to!r}"
        )
    environment = _mapping(raw.get("environment"), "environment", f"{where}: {label}")
    timeout = raw.get("timeout")
    if timeout is not None and (not isinstance(timeout, int) or timeout <= 0):
        raise PlaybookError(f"{where}: {label}: timeout must be a positive number of seconds")
    if module.name in ("debug", "set_fact") and delegate_to:
        delegate_to = None  # they run on the controller anyway

    return Task(
        module=module.name,
        args=_freeze(args),
        name=name,
        when=check_conditions("when") or (),
        register=register,
        loop=loop,
        loop_control=loop_control,
        tags=tuple(dict.fromkeys((*play_tags, *_names(raw.get("tags"), "tags", where)))),
        notify=_names(raw.get("notify"), "notify", where),
        listen=_names(raw.get("listen"), "listen", where),
        ignore_errors=bool(_bool(raw, "ignore_errors", where)),
        changed_when=check_conditions("changed_when"),
        failed_when=check_conditions("failed_when"),
        delegate_to="localhost" if delegate_to else None,
        become=_bool(raw, "become", where),
        vars=_mapping(raw.get("vars"), "vars", f"{where}: {label}"),
        environment=environment,
        check_mode=_bool(raw, "check_mode", where),
        no_log=bool(_bool(raw, "no_log", where)),
        timeout=timeout,
        file=source,
        line=line,
    )


def _loop_control(value: Any, where: str, label: str) -> LoopControl:
    if value is None:
        return LoopControl()
    if not isinstance(value, dict) or set(value) - {"loop_var", "label"}:
        raise PlaybookError(f"{where}: {label}: loop_control takes loop_var and label")
    loop_var = value.get("loop_var", "item")
    if not isinstance(loop_var, str) or not _IDENTIFIER.match(loop_var):
        raise PlaybookError(f"{where}: {label}: loop_var must be a variable name")
    shown = value.get("label")
    return LoopControl(loop_var=loop_var, label=None if shown is None else str(shown))


def _module_args(raw: LocatedDict, action: str, module, where: str, label: str) -> dict[str, Any]:
    value = raw[action]
    if value is None:
        args: dict[str, Any] = {}
    elif isinstance(value, dict):
        args = dict(value)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            args = parse_free_form(str(value), module)
        except ModuleArgError as error:
            raise PlaybookError(f"{where}: {label}: {error}") from None
    else:
        raise PlaybookError(
            f"{where}: {label}: arguments of {action} must be a mapping or key=value text"
        )
    extra = raw.get("args")
    if extra is not None:
        if not isinstance(extra, dict):
            raise PlaybookError(f"{where}: {label}: args must be a mapping")
        args = {**extra, **args}
    try:
        module.spec.check_names(module.name, args)
        templating.check_template(args)
    except (ModuleArgError, templating.TemplatingError) as error:
        raise PlaybookError(f"{source_line(raw, action, where)}: {label}: {error}") from None
    return args


# --- Ansible's `key=value` argument text ----------------------------------------------------


def _word_spans(text: str) -> list[tuple[int, int]]:
    """Where the words of `text` are: split on blanks outside quotes and `{{ }}`/`{% %}`."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    quote: str | None = None
    depth = 0
    i = 0
    while i < len(text):
        pair = text[i : i + 2]
        char = text[i]
        if depth:
            if pair in ("}}", "%}", "#}"):
                depth -= 1
                i += 2
                continue
            if pair in ("{{", "{%", "{#"):
                depth += 1
                i += 2
                continue
        elif quote:
            if char == "\\" and quote == '"':
                i += 2
                continue
            if char == quote:
                quote = None
        elif pair in ("{{", "{%", "{#"):
            start = i if start is None else start
            depth += 1
            i += 2
            continue
        elif char in "'\"":
            start = i if start is None else start
            quote = char
        elif char.isspace():
            if start is not None:
                spans.append((start, i))
                start = None
        elif start is None:
            start = i
        i += 1
    if quote:
        raise ModuleArgError(f"unbalanced quote in {text!r}")
    if start is not None:
        spans.append((start, len(text)))
    return spans


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        return inner.replace('\\"', '"') if value[0] == '"' else inner
    return value


def parse_free_form(text: str, module) -> dict[str, Any]:
    """Ansible's `module: key=value …` text as arguments.

    For `command`/`shell` the text is the command: only the module's own `key=value` words
    (chdir, creates, …) are taken out, everything else — spacing and newlines included — is
    kept as `_raw_params`.
    """
    spans = _word_spans(text)
    args: dict[str, Any] = {}
    if module.free_form:
        keep, cursor = [], 0
        for start, end in spans:
            match = _KEY_VALUE.match(text[start:end])
            if match and match.group(1) in module.free_form_keys:
                args[match.group(1)] = _unquote(match.group(2))
                keep.append(text[cursor:start])
                cursor = end
        keep.append(text[cursor:])
        command = "".join(keep).strip()
        if command:
            args["_raw_params"] = command
        return args
    for start, end in spans:
        word = text[start:end]
        match = _KEY_VALUE.match(word)
        if not match:
            raise ModuleArgError(
                f"{module.name} takes key=value arguments (or a mapping); {word!r} is not one"
            )
        args[match.group(1)] = _unquote(match.group(2))
    return args
