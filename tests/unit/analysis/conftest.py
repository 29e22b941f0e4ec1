"""Shared paths, decompressed fixture text and an in-process task runner for the analysis
tests."""

from __future__ import annotations

import functools
import lzma
from pathlib import Path

import pytest
from invoke import Program

from orchestrator.tasks import ns

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PERF = FIXTURES / "perf"
SYNTHETIC = PERF / "synthetic"
FTRACE = FIXTURES / "ftrace"
TRACES = ("bridge-64", "loopback-64")


@functools.cache
def trace_bytes(name: str) -> bytes:
    """The decompressed text of `<name>.perf.txt.xz`."""
    return lzma.decompress((PERF / f"{name}.perf.txt.xz").read_bytes())


@pytest.fixture
def plain_trace(tmp_path: Path):
    """Write a fixture trace decompressed into tmp_path and return its path."""

    def write(name: str) -> Path:
        path = tmp_path / f"{name}.perf.txt"
        path.write_bytes(trace_bytes(name))
        return path

    return write


def run(*argv: str) -> int:
    """Run a task through invoke's Program in this process; its exit code."""
    program = Program(namespace=ns, name="netmatrix", binary="netmatrix")
    try:
        program.run(["netmatrix", *argv])
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0
