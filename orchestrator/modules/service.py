"""`service`: a service started, stopped, restarted or reloaded, and enabled at boot or not.

Three ways to manage it, chosen per host (`use: auto`):

1. systemd, when PID 1 is systemd (`systemctl`);
2. sysvinit, when `/etc/init.d/<name>` exists (`service <name> …`, `update-rc.d`);
3. a plain daemon (`daemon: /usr/sbin/dockerd`, optional `daemon_args`, `pidfile`, `logfile`):
   started in the background with `setsid`, its pid kept in `pidfile`, its output appended to
   `logfile`. This is also the fallback when the init script exists but fails — Debian's
   /etc/init.d/docker does on hosts without systemd in containers, because of
   `ulimit -n 1048576`.

Started/stopped are idempotent; restarted and reloaded always act (and report a change), as
in Ansible. `enabled` means nothing to a plain daemon and is then ignored with a warning.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from orchestrator.connection import last_line
from orchestrator.modules.base import (
    ArgSpec,
    Module,
    ModuleArgError,
    ModuleContext,
    Param,
    TaskResult,
    changed,
    failed,
    ok,
)

SPEC = ArgSpec(
    params={
        "name": Param(required=True),
        "state": Param(choices=("started", "stopped", "restarted", "reloaded")),
        "enabled": Param(type="bool"),
        "use": Param(default="auto", choices=("auto", "systemd", "sysvinit", "daemon")),
        "daemon": Param(),
        "daemon_args": Param(type="raw"),
        "pidfile": Param(),
        "logfile": Param(),
        "start_wait": Param(type="float", default=1.0),
        "stop_timeout": Param(type="float", default=20.0),
    },
    required_one_of=(("state", "enabled"),),
)

_NAME = re.compile(r"^[A-Za-z0-9_@][A-Za-z0-9_@.:\-]*$")

# Scripts take every value as a positional parameter ("$1"…), never as part of their text.
# A pid file outlives its process across a reboot or a container restart, and its pid may by
# then belong to another program. Alive means: that pid runs, and it started no later than
# the pid file was written (start time from /proc/PID/stat field 22, in ticks since boot).
_PID_ALIVE = r"""pid=$(cat -- "$1" 2>/dev/null) && [ -n "$pid" ] || exit 1
kill -0 "$pid" 2>/dev/null || exit 1
ticks=$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f20)
boot=$(awk '/^btime/ { print $2 }' /proc/stat)
started=$((boot + ticks / $(getconf CLK_TCK)))
[ "$started" -le "$(($(stat -c %Y -- "$1") + 1))" ]
"""
_START_DAEMON = 'log=$1; shift; setsid "$@" >>"$log" 2>&1 </dev/null & echo $!'
_WRITE_PID = 'printf "%s\\n" "$1" > "$2"'
_SYSV_ENABLED = 'ls /etc/rc[2-5].d/S[0-9][0-9]"$1" >/dev/null 2>&1'


class _Manager:
    """How one service is queried and driven on one host."""

    def __init__(self, ctx: ModuleContext, params: dict[str, Any], kind: str) -> None:
        self.ctx, self.params, self.kind = ctx, params, kind
        self.name = params["name"]
        self.pidfile = params["pidfile"] or f"/var/run/{self.name}.pid"
        self.logfile = params["logfile"] or f"/var/log/{self.name}.log"
        self.notes: list[str] = []

    # -- querying

    def running(self) -> bool:
        ctx = self.ctx
        if self.kind == "systemd":
            return ctx.run(["systemctl", "is-active", "--quiet", self.name]).ok
        if self.kind == "sysvinit" and ctx.run(["service", self.name, "status"]).ok:
            return True
        return self.daemon_alive()

    def daemon_alive(self) -> bool:
        if self.kind == "systemd":
            return False
        if self.kind == "sysvinit" and not self.params["daemon"] and not self.params["pidfile"]:
            return False
        return self._pid_alive()

    def _pid_alive(self) -> bool:
        return self.ctx.run(["sh", "-c", _PID_ALIVE, "sh", self.pidfile]).ok

    def enabled(self) -> bool | None:
        ctx = self.ctx
        if self.kind == "systemd":
            state = ctx.run(["systemctl", "is-enabled", self.name]).stdout.strip()
            return state in {"enabled", "enabled-runtime", "static", "alias", "indirect"}
        if self.kind == "sysvinit":
            return ctx.run(["sh", "-c", _SYSV_ENABLED, "sh", self.name]).ok
        return None

    # -- acting (only called outside check mode)

    def _must(self, argv: list[str], what: str) -> None:
        result = self.ctx.run(argv)
        if not result.ok:
            raise _Failure(f"{what} {self.name} failed: {last_line(result)}", result)

    def start(self) -> None:
        if self.kind == "systemd":
            self._must(["systemctl", "start", self.name], "systemctl start")
        elif self.kind == "sysvinit":
            result = self.ctx.run(["service", self.name, "start"])
            if result.ok and self.ctx.run(["service", self.name, "status"]).ok:
                return
            if not self.params["daemon"]:
                raise _Failure(f"service {self.name} start failed: {last_line(result)}", result)
            self.notes.append(
                f"/etc/init.d/{self.name} did not start it ({last_line(result)}); "
                "started the daemon directly"
            )
            self.kind = "daemon"
            self.start_daemon()
        else:
            self.start_daemon()

    def start_daemon(self) -> None:
        daemon = self.params["daemon"]
        if not daemon:
            raise _Failure(
                f"{self.name}: no systemd and no working /etc/init.d/{self.name}; "
                "give `daemon:` (and `pidfile:`) to start it directly"
            )
        args = self.params["daemon_args"] or []
        if isinstance(args, str):
            args = shlex.split(args)
        argv = [daemon, *(str(a) for a in args)]
        launched = self.ctx.run(["sh", "-c", _START_DAEMON, "sh", self.logfile, *argv])
        pid = launched.stdout.strip()
        if not launched.ok or not pid.isdigit():
            raise _Failure(f"could not launch {daemon}: {last_line(launched)}", launched)
        self.ctx.sleep(self.params["start_wait"])
        if not self.ctx.run(["kill", "-0", pid]).ok:
            tail = self.ctx.run(["tail", "-n", "5", "--", self.logfile])
            raise _Failure(f"{daemon} exited right after starting: {last_line(tail)}", tail)
        # Daemons such as dockerd write their own pidfile; only fill it in when they did not.
        if not self._pid_alive():
            self._must(["sh", "-c", _WRITE_PID, "sh", pid, self.pidfile], "writing pidfile of")

    def stop(self) -> None:
        if self.kind == "systemd":
            self._must(["systemctl", "stop", self.name], "systemctl stop")
            return
        if self.kind == "sysvinit":
            self.ctx.run(["service", self.name, "stop"])
        if self.daemon_alive():
            self.stop_daemon()

    def stop_daemon(self) -> None:
        pid = self.ctx.run(["cat", "--", self.pidfile]).stdout.strip()
        if not pid.isdigit():
            return
        self.ctx.run(["kill", "-TERM", pid])
        deadline = self.ctx.clock() + self.params["stop_timeout"]
        while self.ctx.run(["kill", "-0", pid]).ok:
            if self.ctx.clock() >= deadline:
                raise _Failure(f"{self.name} (pid {pid}) still running after SIGTERM")
            self.ctx.sleep(0.5)
        self.ctx.run(["rm", "-f", "--", self.pidfile])

    def restart(self) -> None:
        if self.kind == "systemd":
            self._must(["systemctl", "restart", self.name], "systemctl restart")
            return
        self.stop()
        self.start()

    def reload(self) -> None:
        if self.kind == "systemd":
            self._must(["systemctl", "reload", self.name], "systemctl reload")
        elif self.kind == "sysvinit" and not self.daemon_alive():
            self._must(["service", self.name, "reload"], "service reload")
        else:
            pid = self.ctx.run(["cat", "--", self.pidfile]).stdout.strip()
            if not pid.isdigit():
                raise _Failure(f"{self.name}: no pid in {self.pidfile} to reload")
            self._must(["kill", "-HUP", pid], "kill -HUP")

    def set_enabled(self, want: bool) -> None:
        if self.kind == "systemd":
            self._must(["systemctl", "enable" if want else "disable", self.name], "systemctl")
        else:
            if want:
                self._must(["update-rc.d", self.name, "defaults"], "update-rc.d")
            self._must(["update-rc.d", self.name, "enable" if want else "disable"], "update-rc.d")


class _Failure(Exception):
    def __init__(self, msg: str, result=None) -> None:
        super().__init__(msg)
        self.result = result


def detect(ctx: ModuleContext, params: dict[str, Any]) -> str:
    """systemd, sysvinit or daemon, for this service on this host."""
    if params["use"] != "auto":
        return params["use"]
    if ctx.run(["cat", "/proc/1/comm"], become=False).stdout.strip() == "systemd":
        return "systemd"
    if ctx.run(["test", "-x", f"/etc/init.d/{params['name']}"], become=False).ok:
        return "sysvinit"
    return "daemon"


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    name = params["name"]
    if not _NAME.match(name):
        raise ModuleArgError(f"service: {name!r} is not a service name")
    manager = _Manager(ctx, params, detect(ctx, params))
    state, want_enabled = params["state"], params["enabled"]
    done: list[str] = []
    try:
        if state in ("started", "stopped"):
            is_running = manager.running()
            if state == "started" and not is_running:
                done.append("started")
                if not ctx.check:
                    manager.start()
            elif state == "stopped" and is_running:
                done.append("stopped")
                if not ctx.check:
                    manager.stop()
        elif state == "restarted":
            done.append("restarted")
            if not ctx.check:
                manager.restart()
        elif state == "reloaded":
            done.append("reloaded")
            if not ctx.check:
                manager.reload()
        if want_enabled is not None:
            is_enabled = manager.enabled()
            if is_enabled is None:
                manager.notes.append("`enabled` ignored: a plain daemon has no boot-time start")
            elif is_enabled != want_enabled:
                done.append("enabled" if want_enabled else "disabled")
                if not ctx.check:
                    manager.set_enabled(want_enabled)
    except _Failure as error:
        result = failed(str(error), result=error.result) if error.result else failed(str(error))
        return result.with_(extra={"name": name, "manager": manager.kind})
    extra = {"name": name, "manager": manager.kind, "state": state, "enabled": want_enabled}
    if manager.notes:
        extra["warnings"] = list(manager.notes)
    if not done:
        return ok(f"{name} already {state or 'as wanted'} ({manager.kind})", **extra)
    verb = "would be" if ctx.check else "was"
    return changed(f"{name} {verb} {' and '.join(done)} ({manager.kind})", **extra)


MODULE = Module(
    name="service",
    spec=SPEC,
    run=run,
    summary="service started/stopped/restarted, enabled (systemd, sysvinit or plain daemon)",
)
