"""`apt`: Debian packages present, absent or at the latest version.

Installed state comes from `dpkg-query` (and `apt-cache policy` for `latest`), so a second
run installs nothing and reports `changed=False`. apt-get runs non-interactively
(`env DEBIAN_FRONTEND=noninteractive`, which survives sudo) and keeps existing config files.
Refreshing the index (`update_cache`) alone changes no installed state, so it is not reported
as a change; the result carries `cache_updated`.
"""

from __future__ import annotations

import re
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
    from_command,
    ok,
)

SPEC = ArgSpec(
    params={
        "name": Param(type="list", elements="str", aliases=("pkg", "package")),
        "state": Param(default="present", choices=("present", "absent", "latest")),
        "update_cache": Param(type="bool", default=False, aliases=("update-cache",)),
        "install_recommends": Param(type="bool", default=None),
        "purge": Param(type="bool", default=False),
    },
    required_one_of=(("name", "update_cache"),),
)

# Debian policy names (lowercase, digits, + - .), optional :arch and =version. Names that
# could look like options never reach apt-get.
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.\-]*(:[a-z0-9\-]+)?(=[A-Za-z0-9.+:~\-]+)?$")

APT_GET = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-q"]
KEEP_CONFIG = ["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]


def _split(spec: str) -> tuple[str, str | None]:
    name, _, version = spec.partition("=")
    return name, version or None


def installed_versions(ctx: ModuleContext, names: list[str]) -> dict[str, str]:
    """{package: version} for those of `names` that dpkg reports installed."""
    result = ctx.run(
        ["dpkg-query", "-W", "-f", "${Package}\\t${Status}\\t${Version}\\n", "--", *names],
        become=False,
    )
    versions: dict[str, str] = {}
    for line in result.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[1].endswith(" installed"):
            versions[fields[0].split(":")[0]] = fields[2]
    return versions


def candidate_versions(ctx: ModuleContext, names: list[str]) -> dict[str, str | None]:
    """{package: candidate version} from `apt-cache policy` (None: no candidate)."""
    result = ctx.run(["apt-cache", "policy", "--", *names], become=False)
    candidates: dict[str, str | None] = {}
    current = None
    for line in result.stdout.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1].split(":")[0]
        elif current and line.strip().startswith("Candidate:"):
            value = line.split(":", 1)[1].strip()
            candidates[current] = None if value == "(none)" else value
    return candidates


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    specs = params.get("name") or []
    for spec in specs:
        if not _PACKAGE.match(spec):
            raise ModuleArgError(f"apt: {spec!r} is not a Debian package name")
    state = params["state"]
    extra: dict[str, Any] = {"cache_updated": False}

    if params["update_cache"]:
        if not ctx.check:
            update = ctx.run([*APT_GET, "update"])
            if not update.ok:
                return failed(f"apt-get update failed: {last_line(update)}", result=update)
        extra["cache_updated"] = True
    if not specs:
        return ok("package index updated" if not ctx.check else "would update the index", **extra)

    names = [_split(spec)[0] for spec in specs]
    installed = installed_versions(ctx, names)

    if state == "absent":
        todo = [name for name in names if name in installed]
        if not todo:
            return ok(f"{', '.join(names)} not installed", **extra)
        if ctx.check:
            return changed(f"would remove {', '.join(todo)}", **extra)
        purge = ["--purge"] if params["purge"] else []
        result = ctx.run([*APT_GET, *purge, "remove", *todo])
        return from_command(result, changed=result.ok, msg=f"removed {', '.join(todo)}", **extra)

    todo = []
    for spec in specs:
        name, version = _split(spec)
        have = installed.get(name)
        if have is None or (version is not None and have != version):
            todo.append(spec)
    if state == "latest":
        candidates = candidate_versions(ctx, names)
        for name in names:
            candidate = candidates.get(name)
            if name in installed and candidate and candidate != installed[name]:
                todo.append(name)
    if not todo:
        have = ", ".join(f"{name} {installed[name]}" for name in names)
        return ok(f"{have} already installed", **extra)
    if ctx.check:
        return changed(f"would install {', '.join(todo)}", **extra)
    recommends = []
    if params["install_recommends"] is not None:
        recommends = ["-o", f"APT::Install-Recommends={str(params['install_recommends']).lower()}"]
    result = ctx.run([*APT_GET, *KEEP_CONFIG, *recommends, "install", *todo])
    return from_command(result, changed=result.ok, msg=f"installed {', '.join(todo)}", **extra)


MODULE = Module(
    name="apt",
    spec=SPEC,
    run=run,
    summary="Debian packages present/absent/latest (dpkg-query decides changed)",
)
