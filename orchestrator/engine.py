"""Run a playbook's plays over hosts, Ansible's linear way, hosts in parallel.

Each task runs on every active host of the play at once (at most `forks` at a time); the next
task starts when all have answered. A host that fails stops running tasks for the rest of the
run; an unreachable one (UnreachableError from connect or a command) is dropped likewise. The
others always go on. Handlers run at the end of each play (each `serial` batch), on the hosts
that notified them with a change. The run returns every host's result (`PlaybookRun`) — partial
success is kept — and the display ends with Ansible's PLAY RECAP.

Variable precedence, lowest first: inventory host vars, play vars, task vars, facts
(`ansible_facts`/`facts`), `set_fact` and registered results, extra vars.

One file of about 560 lines: the linear strategy is one state machine (batches, tasks, loops,
conditions, handlers, delegation) over per-host state that nothing else touches; the values
it returns live in `orchestrator.outcome`, its output in `orchestrator.display`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from types import MappingProxyType
from typing import Any

from orchestrator import modules, templating
from orchestrator.connection import CommandTimeout, Connection, UnreachableError
from orchestrator.display import Display, make_display
from orchestrator.errors import NetmatrixError
from orchestrator.host import LOCALHOST, Host
from orchestrator.inventory.patterns import select_hosts
from orchestrator.modules.base import ModuleArgError, SimpleContext, TaskResult
from orchestrator.outcome import HostRun, ItemOutcome, PlaybookRun, Status, TaskOutcome
from orchestrator.playbook import Play, Playbook, Task
from orchestrator.recap import HostStats
from orchestrator.templating import TemplatingError, Vars

ConnectFn = Callable[[Host], Connection]
GatherFn = Callable[[Connection], Any]
SelectFn = Callable[[str], Sequence[Host]]

DEFAULT_FORKS = 5


def batches(items: Sequence[Any], serial: int | str | None) -> list[list[Any]]:
    """Split hosts into `serial` batches (a count or a percentage, at least one host)."""
    if serial is None or not items:
        return [list(items)]
    if isinstance(serial, str):
        size = max(1, math.floor(len(items) * int(serial.strip().rstrip("%")) / 100))
    else:
        size = serial
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


# --- the run --------------------------------------------------------------------------------


class _HostState:
    """Mutable, engine-private: one host during one run. Touched by one worker at a time."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.conn: Connection | None = None
        self.registered: dict[str, Any] = {}
        self.set_facts: dict[str, Any] = {}
        self.facts: dict[str, Any] | None = None
        self.notified: set[str] = set()
        self.status = Status.OK
        self.stats = HostStats()
        self.outcomes: list[TaskOutcome] = []
        self.processed = False

    @property
    def active(self) -> bool:
        return self.status == Status.OK


def _status(result: Mapping[str, Any], ignore_errors: bool) -> str:
    if result.get("unreachable"):
        return Status.UNREACHABLE
    if result.get("failed"):
        return Status.IGNORED if ignore_errors else Status.FAILED
    if result.get("skipped"):
        return Status.SKIPPED
    return Status.CHANGED if result.get("changed") else Status.OK


_COUNTS = {
    Status.OK: {"ok": 1},
    Status.CHANGED: {"ok": 1, "changed": 1},
    Status.SKIPPED: {"skipped": 1},
    Status.FAILED: {"failures": 1},
    Status.UNREACHABLE: {"unreachable": 1},
}


def _failure(msg: str, **extra: Any) -> dict[str, Any]:
    return TaskResult(failed=True, msg=msg, extra=MappingProxyType(extra)).as_dict()


def _item_label(item: Any) -> str:
    if isinstance(item, Mapping | list | tuple):
        return repr(templating.plain(item))
    return str(item)


class _Runner:
    def __init__(
        self,
        playbook: Playbook,
        hosts: Sequence[Host],
        *,
        connect: ConnectFn,
        gather: GatherFn | None,
        check: bool,
        tags: Iterable[str],
        skip_tags: Iterable[str],
        forks: int,
        extra_vars: Mapping[str, Any],
        display: Display,
        select: SelectFn | None,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.playbook = playbook
        self.states = {host.name: _HostState(host) for host in hosts}
        self.connect = connect
        self.gather = gather
        self.check = check
        self.tags = frozenset(tags)
        self.skip_tags = frozenset(skip_tags)
        self.forks = max(1, forks)
        self.extra_vars = dict(extra_vars)
        self.display = display
        self.select = select
        self.sleep = sleep
        self.clock = clock

    # -- the whole run

    def run(self) -> PlaybookRun:
        try:
            with ThreadPoolExecutor(max_workers=self.forks, thread_name_prefix="netmatrix") as pool:
                self.pool = pool
                for play in self.playbook.plays:
                    self._run_play(play)
        finally:
            for state in self.states.values():
                self._close(state)
        run = PlaybookRun(
            hosts={
                name: HostRun(
                    name=name,
                    status=state.status,
                    stats=state.stats,
                    outcomes=tuple(state.outcomes),
                    registered=MappingProxyType(dict(state.registered)),
                    processed=state.processed,
                )
                for name, state in self.states.items()
            },
            check=self.check,
        )
        self.display.recap(run.stats)
        return run

    def _play_states(self, play: Play) -> list[_HostState]:
        hosts = [state.host for state in self.states.values()]
        select = self.select or functools.partial(select_hosts, hosts=hosts)
        try:
            names = {host.name for host in select(play.hosts)}
        except NetmatrixError as error:
            self.display.warning(f"could not match host pattern {play.hosts!r}: {error}")
            names = set()
        return [s for s in self.states.values() if s.host.name in names and s.active]

    def _run_play(self, play: Play) -> None:
        self.display.play_start(play.name, self.check)
        states = self._play_states(play)
        if not states:
            self.display.no_hosts()
            return
        batch_list = batches(states, play.serial)
        for batch in batch_list:
            names = [s.host.name for s in batch]
            for state in batch:
                state.notified.clear()
            if play.gather_facts:
                self._step("Gathering Facts", batch, lambda s: self._gather(s, play))
            for task in play.tasks:
                if not self._selected(task):
                    continue
                active = [s for s in batch if s.active]
                if not active:
                    break
                label = self._label(play, task)
                self._step(
                    label,
                    active,
                    lambda s, t=task, lb=label, n=names: self._task(s, play, t, lb, n),
                )
            for handler in play.handlers:
                topics = {handler.name, *handler.listen} - {None}
                active = [s for s in batch if s.active and s.notified & topics]
                if not active:
                    continue
                label = self._label(play, handler)
                self._step(
                    label,
                    active,
                    lambda s, t=handler, lb=label, n=names: self._task(s, play, t, lb, n),
                    handler=True,
                )
                for state in active:
                    state.notified -= topics
            if not any(s.active for s in batch) and batch is batch_list[-1]:
                self.display.no_hosts_left()

    def _selected(self, task: Task) -> bool:
        tags = set(task.tags)
        if "never" in tags and not (self.tags & (tags - {"never"})):
            return False
        if self.skip_tags & tags:
            return False
        if not self.tags or "all" in self.tags or "always" in tags:
            return True
        if "tagged" in self.tags and tags:
            return True
        if "untagged" in self.tags and not tags:
            return True
        return bool(self.tags & tags)

    def _label(self, play: Play, task: Task) -> str:
        """The task name templated with play-level variables (left as written if it needs more)."""
        if not task.name:
            return task.module
        try:
            variables = Vars((play.vars, True), (self.extra_vars, True))
            return str(templating.template_value(task.name, variables))
        except NetmatrixError:
            return task.name

    def _step(self, label: str, states: list[_HostState], work, *, handler: bool = False) -> None:
        self.display.task_start(label, handler=handler, hosts=[s.host.name for s in states])
        futures = {self.pool.submit(work, state): state for state in states}
        for future in as_completed(futures):
            self.display.host_done(future.result())
        self.display.task_end()

    # -- one task on one host (in a worker thread)

    def _record(self, state: _HostState, outcome: TaskOutcome, notify: Sequence[str] = ()):
        counts = dict(_COUNTS.get(outcome.status, {}))
        if outcome.status == Status.IGNORED:
            counts = {"ok": 1, "ignored": 1}
            if outcome.result.get("changed"):
                counts["changed"] = 1
        state.stats = state.stats.add(**counts)
        state.processed = True  # Ansible's recap lists the hosts it counted something for
        state.outcomes.append(outcome)
        if outcome.status in (Status.FAILED, Status.UNREACHABLE):
            state.status = outcome.status
            self._close(state)
        elif outcome.result.get("changed") and notify:
            state.notified.update(notify)
        return outcome

    def _vars(self, state: _HostState, play: Play, task: Task | None, batch: list[str]) -> Vars:
        host = state.host
        magic = {
            "inventory_hostname": host.name,
            "inventory_hostname_short": host.name.split(".")[0],
            "group_names": sorted(g for g in host.groups if g not in ("all", "ungrouped")),
            "ansible_check_mode": self.check,
            "ansible_play_hosts": list(batch),
            "ansible_play_batch": list(batch),
            "play_hosts": list(batch),
            "playbook_dir": str(self.playbook.base_dir.resolve()),
        }
        facts: dict[str, Any] = {}
        if state.facts is not None:
            facts = {"ansible_facts": state.facts, "facts": state.facts}
        return Vars(
            (host.vars, True),
            (magic, False),
            (play.vars, True),
            (task.vars if task else {}, True),
            (facts, False),
            (state.set_facts, False),
            (state.registered, False),
            (self.extra_vars, True),
        )

    def _gather(self, state: _HostState, play: Play) -> TaskOutcome:
        def outcome(status: str, result: dict[str, Any]) -> TaskOutcome:
            return TaskOutcome(state.host.name, play.name, "Gathering Facts", status, result)

        try:
            gather = self.gather
            if gather is None:
                from orchestrator.facts import gather_facts as gather
            facts = gather(self._conn(state))
            as_dict = facts.as_dict() if hasattr(facts, "as_dict") else dict(facts)
            state.facts = dict(as_dict)
            result = TaskResult(extra={"ansible_facts": state.facts}).as_dict()
            return self._record(state, outcome(Status.OK, result))
        except UnreachableError as error:
            return self._record(state, outcome(Status.UNREACHABLE, self._unreachable(error)))
        except Exception as error:  # a fact probe that breaks fails this host only
            return self._record(
                state, outcome(Status.FAILED, _failure(f"gathering facts: {error}"))
            )

    @staticmethod
    def _unreachable(error: Exception) -> dict[str, Any]:
        return {"changed": False, "unreachable": True, "msg": str(error)}

    def _task(
        self, state: _HostState, play: Play, task: Task, label: str, batch: list[str]
    ) -> TaskOutcome:
        def outcome(status: str, result: dict[str, Any], items=()) -> TaskOutcome:
            return TaskOutcome(
                host=state.host.name,
                play=play.name,
                task=label,
                status=status,
                result=result,
                items=tuple(items),
                delegated=task.delegate_to is not None,
                verbose=task.module == "debug" and status == Status.OK,
                no_log=task.no_log,
            )

        try:
            variables = self._vars(state, play, task, batch)
            items: list[ItemOutcome] = []
            if task.loop is None:
                result = self._once(state, play, task, variables)
            else:
                result, items = self._loop(state, play, task, variables)
        except UnreachableError as error:
            return self._record(state, outcome(Status.UNREACHABLE, self._unreachable(error)))
        except Exception as error:  # an engine bug must not take the other hosts down
            result = _failure(
                f"internal error: {type(error).__name__}: {error}",
                exception=traceback.format_exc(),
            )
        if task.register:
            state.registered[task.register] = result
        facts = result.get("ansible_facts")
        if task.module == "set_fact" and isinstance(facts, Mapping) and not result.get("failed"):
            state.set_facts.update(facts)
        status = _status(result, task.ignore_errors)
        return self._record(state, outcome(status, result, items), task.notify)

    def _loop(self, state, play, task, variables) -> tuple[dict[str, Any], list[ItemOutcome]]:
        try:
            values = templating.template_value(task.loop, variables)
        except TemplatingError as error:
            return _failure(f"loop ({task.where}): {error}"), []
        if not isinstance(values, list):
            return _failure(f"loop ({task.where}) must give a list, got {values!r}"), []
        if not values:
            return {
                "changed": False, "skipped": True, "skipped_reason": "No items in the list",
                "results": [], "msg": "",
            }, []  # fmt: skip
        loop_var = task.loop_control.loop_var
        results: list[dict[str, Any]] = []
        items: list[ItemOutcome] = []
        for value in values:
            item_vars = variables.with_layer({loop_var: value, "ansible_loop_var": loop_var})
            result = self._once(state, play, task, item_vars)
            result = {**result, loop_var: value, "ansible_loop_var": loop_var}
            label = _item_label(value)
            if task.loop_control.label is not None:
                with contextlib.suppress(TemplatingError):
                    label = str(templating.template_value(task.loop_control.label, item_vars))
            results.append(result)
            items.append(ItemOutcome(label, _status(result, task.ignore_errors), result))
        any_failed = any(r.get("failed") for r in results)
        summary = {
            "changed": any(r.get("changed") for r in results),
            "failed": any_failed,
            "skipped": all(r.get("skipped") for r in results),
            "msg": "One or more items failed" if any_failed else "All items completed",
            "results": results,
        }
        return summary, items

    def _once(self, state: _HostState, play: Play, task: Task, variables: Vars) -> dict[str, Any]:
        """Run the task's module once (one loop item): when, module, changed_when/failed_when."""
        for condition in task.when:
            try:
                if not templating.is_true(condition, variables):
                    return {
                        "changed": False,
                        "skipped": True,
                        "skip_reason": "Conditional result was False",
                        "false_condition": condition,
                    }
            except TemplatingError as error:
                return _failure(
                    f"The conditional check '{condition}' failed ({task.where}). "
                    f"The error was: {error}"
                )
        module = modules.get(task.module)
        assert module is not None  # validated on load
        check = self.check if task.check_mode is None else task.check_mode
        delegated: Connection | None = None
        try:
            args = self._args(task, module, variables)
            params = module.spec.parse(module.name, args)
            if not module.needs_connection:
                connection = None
            elif task.delegate_to:
                connection = delegated = self.connect(LOCALHOST)
            else:
                connection = self._conn(state)
            become = next(b for b in (task.become, play.become, state.host.become) if b is not None)
            environment = {
                str(k): str(v)
                for k, v in templating.template_value(task.environment, variables).items()
            }
            context = SimpleContext(
                connection=connection,  # type: ignore[arg-type]
                host=state.host,
                check=check,
                become=bool(become),
                base_dir=self.playbook.base_dir,
                environment=environment,
                timeout=task.timeout,
                renderer=lambda text: templating.render_text(text, variables),
                evaluator=lambda expr: templating.evaluate(expr, variables),
                reconnector=lambda: self._reconnect(state),
                sleeper=self.sleep,
                clocker=self.clock,
            )
            result = module.run(context, params).as_dict()
        except UnreachableError as error:
            if not task.delegate_to:
                raise
            result = _failure(f"delegated to localhost: {error}")
        except (TemplatingError, ModuleArgError) as error:
            result = _failure(f"{error} ({task.where})")
        except CommandTimeout as error:
            result = _failure(f"timed out: {error}")
        except NetmatrixError as error:
            result = _failure(str(error))
        except Exception as error:  # a module bug fails this task on this host only
            result = _failure(
                f"module {module.name} crashed: {type(error).__name__}: {error}",
                exception=traceback.format_exc(),
            )
        finally:
            if delegated is not None:
                delegated.close()
        if result.get("skipped"):
            return result
        return self._conditions(task, result, variables)

    @staticmethod
    def _args(task: Task, module, variables: Vars) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for key, value in task.args.items():
            shell = module.free_form and key in ("_raw_params", "cmd")
            args[key] = templating.template_value(value, variables, shell=shell)
        return templating.drop_omitted(args)

    @staticmethod
    def _conditions(task: Task, result: dict[str, Any], variables: Vars) -> dict[str, Any]:
        if task.changed_when is None and task.failed_when is None:
            return result
        scope = variables.with_layer({task.register: result} if task.register else {})
        result = dict(result)
        try:
            if task.changed_when is not None:
                result["changed"] = all(templating.is_true(c, scope) for c in task.changed_when)
            if task.failed_when is not None:
                failed = all(templating.is_true(c, scope) for c in task.failed_when)
                result["failed"] = failed
                result["failed_when_result"] = failed
        except TemplatingError as error:
            return {**result, "failed": True, "msg": f"changed_when/failed_when: {error}"}
        return result

    # -- connections

    def _conn(self, state: _HostState) -> Connection:
        if state.conn is None:
            state.conn = self.connect(state.host)
        return state.conn

    def _reconnect(self, state: _HostState) -> Connection:
        self._close(state)
        state.conn = self.connect(state.host)
        return state.conn

    @staticmethod
    def _close(state: _HostState) -> None:
        conn, state.conn = state.conn, None
        if conn is not None:
            # Closing a dead connection must not hide the real outcome.
            with contextlib.suppress(Exception):
                conn.close()


def _default_connect(host: Host) -> Connection:
    from orchestrator.connection import connect

    return connect(host)


def run_playbook(
    playbook: Playbook,
    hosts: Sequence[Host],
    *,
    connect: ConnectFn | None = None,
    gather: GatherFn | None = None,
    check: bool = False,
    tags: Iterable[str] = (),
    skip_tags: Iterable[str] = (),
    forks: int = DEFAULT_FORKS,
    extra_vars: Mapping[str, Any] | None = None,
    display: Display | None = None,
    select: SelectFn | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> PlaybookRun:
    """Run `playbook` on `hosts` (already selected) and return every host's result.

    Args:
        connect: opens a Connection to a host (default `orchestrator.connection.connect`).
        gather: host facts for `gather_facts: true` plays (default `orchestrator.facts`).
        check: change nothing; report what would change.
        tags: run only tasks with one of these tags (plus `always`).
        forks: at most this many hosts work at once.
        extra_vars: variables above all others.
        display: where progress goes (default: rich on a terminal, plain lines otherwise).
        select: resolves a play's `hosts:` pattern (e.g. `Inventory.select`); the result is
            intersected with `hosts`. Default: `select_hosts` over `hosts`' names and groups.
    """
    if forks < 1:
        raise NetmatrixError(f"forks must be at least 1, got {forks}")
    runner = _Runner(
        playbook,
        hosts,
        connect=connect or _default_connect,
        gather=gather,
        check=check,
        tags=tags,
        skip_tags=skip_tags,
        forks=forks,
        extra_vars=extra_vars or {},
        display=display or make_display(),
        select=select,
        sleep=sleep,
        clock=clock,
    )
    return runner.run()


__all__ = ["batches", "run_playbook"]
