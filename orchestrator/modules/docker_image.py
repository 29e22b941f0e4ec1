"""`docker_image`: an image present on the host (or absent).

Present means `docker image inspect` finds it. When it is missing (or `force_source`), it is
built on the host from a folder there (`source: build`, `build: {path, dockerfile, args}`),
loaded from a tarball saved on the controller (`source: load`, `load_path:` — uploaded, then
`docker load`; for labs without a registry), or pulled (`source: pull`).
"""

from __future__ import annotations

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
    find_controller_file,
    from_command,
    ok,
    remote_temp_path,
)

SPEC = ArgSpec(
    params={
        "name": Param(required=True),
        "tag": Param(default="latest"),
        "source": Param(choices=("build", "load", "pull")),
        "build": Param(type="dict"),
        "load_path": Param(),
        "force_source": Param(type="bool", default=False),
        "state": Param(default="present", choices=("present", "absent")),
    }
)


def reference(params: dict[str, Any]) -> str:
    """`name:tag`, unless the name already carries a tag (or a digest)."""
    name = params["name"]
    if "@" in name or ":" in name.rsplit("/", 1)[-1]:
        return name
    return f"{name}:{params['tag']}"


def image_id(ctx: ModuleContext, ref: str) -> str | None:
    result = ctx.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref])
    return result.stdout.strip() if result.ok and result.stdout.strip() else None


def _source(params: dict[str, Any]) -> str:
    if params["source"]:
        return params["source"]
    if params["build"]:
        return "build"
    if params["load_path"]:
        return "load"
    return "pull"


def _build(ctx: ModuleContext, ref: str, build: dict[str, Any]) -> TaskResult:
    if not build.get("path"):
        raise ModuleArgError("docker_image: source build needs `build: {path: …}`")
    unknown = set(build) - {"path", "dockerfile", "args", "pull", "nocache"}
    if unknown:
        raise ModuleArgError(f"docker_image: unknown build options: {', '.join(sorted(unknown))}")
    argv = ["docker", "build", "-t", ref]
    if build.get("dockerfile"):
        argv += ["-f", str(build["dockerfile"])]
    for key, value in (build.get("args") or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    if build.get("pull"):
        argv.append("--pull")
    if build.get("nocache"):
        argv.append("--no-cache")
    argv += ["--", str(build["path"])]
    result = ctx.run(argv, timeout=3600)
    return from_command(result, changed=result.ok, msg=f"built {ref}")


def _load(ctx: ModuleContext, ref: str, load_path: str) -> TaskResult:
    tarball = find_controller_file(ctx, load_path, "files")
    staging = remote_temp_path(".tar")
    try:
        ctx.put_file(tarball, staging)
        result = ctx.run(["docker", "load", "-i", staging], timeout=3600)
    finally:
        ctx.run(["rm", "-f", "--", staging])
    if not result.ok:
        return failed(f"docker load failed: {last_line(result)}", result=result)
    if image_id(ctx, ref) is None:
        return failed(f"{tarball} loaded, but it does not contain {ref}", result=result)
    return from_command(result, changed=True, msg=f"loaded {ref} from {tarball.name}")


def run(ctx: ModuleContext, params: dict[str, Any]) -> TaskResult:
    ref = reference(params)
    present = image_id(ctx, ref)
    if params["state"] == "absent":
        if present is None:
            return ok(f"{ref} already absent", image=ref)
        if ctx.check:
            return changed(f"would remove {ref}", image=ref)
        result = ctx.run(["docker", "image", "rm", "--", ref])
        return from_command(result, changed=result.ok, msg=f"removed {ref}", image=ref)

    if present is not None and not params["force_source"]:
        return ok(f"{ref} already present ({present[:19]})", image=ref, id=present)
    source = _source(params)
    if source == "load" and not params["load_path"]:
        raise ModuleArgError("docker_image: source load needs `load_path:` (on the controller)")
    if ctx.check:
        return changed(f"would {source} {ref}", image=ref)
    if source == "build":
        result = _build(ctx, ref, params["build"] or {})
    elif source == "load":
        result = _load(ctx, ref, params["load_path"])
    else:
        pulled = ctx.run(["docker", "pull", "--", ref], timeout=3600)
        result = from_command(pulled, changed=pulled.ok, msg=f"pulled {ref}")
    if result.failed or not params["force_source"]:
        return result.with_(extra={"image": ref})
    # Rebuilt on request: a change only if the image id moved.
    after = image_id(ctx, ref)
    return result.with_(changed=after != present, extra={"image": ref, "id": after})


MODULE = Module(
    name="docker_image",
    spec=SPEC,
    run=run,
    summary="a Docker image present: build on the host, load a controller tarball, or pull",
)
