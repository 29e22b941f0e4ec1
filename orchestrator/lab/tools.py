"""Running the controller's own tools (vagrant, VBoxManage) with one-line errors.

A missing tool or a failing one becomes a NetmatrixError naming the fix, never a traceback.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence

from orchestrator.errors import NetmatrixError

Say = Callable[[str], None]  # where progress messages go (print, or a list in tests)


def require(tool: str, install_hint: str) -> str:
    """The path of `tool` on PATH, or an error saying how to install it."""
    path = shutil.which(tool)
    if path is None:
        raise NetmatrixError(f"{tool} not found on PATH: {install_hint}")
    return path


def run_tool(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    capture_stdout: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a tool; stderr is always captured (for `one_line`), stdout unless streamed."""
    return subprocess.run(
        list(command),
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture_stdout else None,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )


def one_line(text: str, limit: int = 400) -> str:
    """A tool's multi-line message as one line (whitespace folded, long ones cut)."""
    folded = " ".join(text.split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"
