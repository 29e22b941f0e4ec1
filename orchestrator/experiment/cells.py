"""Cells and runs of a matrix: mode × size × proto × host, each host on its one kernel.

Keys are stable text (`mode=bridge,size=1400,proto=tcp,host=lab2`) because they outlive a
process: the database stores them, resume compares them and `--cell` selects by them. The
kernel is not in the key: it is a fact about the host when the cell ran (recorded with each
run), and a host whose kernel was updated still measures the same cell of the same spec.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from orchestrator.errors import NetmatrixError
from orchestrator.experiment.kernels import choose_kernel
from orchestrator.experiment.spec import Spec
from orchestrator.host import Host

# A selected host with the kernel release it runs (from facts).
HostKernel = tuple[Host, str]

SELECTOR_KEYS = ("mode", "size", "proto", "host", "kernel")
CLOSEST = 5


@dataclass(frozen=True)
class Cell:
    """One point of the matrix, measured on `host` running `kernel`."""

    mode: str
    size: int
    proto: str
    host: str
    kernel: str

    @property
    def key(self) -> str:
        return f"mode={self.mode},size={self.size},proto={self.proto},host={self.host}"


@dataclass(frozen=True)
class RunKey:
    """The identity of one repetition of a cell, as resume and the database know it."""

    cell: str
    repetition: int

    @property
    def key(self) -> str:
        return f"{self.cell},rep={self.repetition}"


@dataclass(frozen=True)
class PlannedRun:
    """One repetition (1..n) of a cell, to be run."""

    cell: Cell
    repetition: int

    @property
    def run_key(self) -> RunKey:
        return RunKey(self.cell.key, self.repetition)

    @property
    def key(self) -> str:
        return self.run_key.key


@dataclass(frozen=True)
class CellSelector:
    """`key=value` criteria a cell must all meet; values are fnmatch patterns (`host=lab*`)."""

    criteria: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        return ",".join(f"{key}={value}" for key, value in self.criteria)


def expand(spec: Spec, hosts: Sequence[HostKernel]) -> list[Cell]:
    """All cells of the matrix, in a stable order.

    Hosts come in the given order, then modes, sizes and protocols as the spec lists them.
    Every host whose kernel the spec's `kernel` patterns refuse is named in one error.
    """
    kernels: dict[str, str] = {}
    refusals = []
    for host, running in hosts:
        try:
            kernels[host.name] = choose_kernel(host, running, spec.axes.kernel)
        except NetmatrixError as error:
            refusals.append(str(error))
    if refusals:
        raise NetmatrixError("; ".join(refusals))
    return [
        Cell(mode=mode, size=size, proto=proto, host=host.name, kernel=kernels[host.name])
        for host, _ in hosts
        for mode in spec.axes.mode
        for size in spec.axes.size
        for proto in spec.axes.proto
    ]


def parse_cell_selector(text: str) -> CellSelector:
    """Parse `mode=bridge,size=1400` (keys: mode, size, proto, host, kernel)."""
    criteria: dict[str, str] = {}
    for part in text.split(","):
        key, equals, value = (piece.strip() for piece in part.partition("="))
        if not equals or not key or not value:
            raise NetmatrixError(
                f"cell selector {text!r}: {part.strip()!r} is not key=value "
                "(like mode=bridge,size=1400)"
            )
        if key not in SELECTOR_KEYS:
            raise NetmatrixError(
                f"cell selector {text!r}: unknown key {key!r} (known: {', '.join(SELECTOR_KEYS)})"
            )
        if key in criteria:
            raise NetmatrixError(f"cell selector {text!r}: {key} is given twice")
        criteria[key] = value
    return CellSelector(tuple(criteria.items()))


def select_cells(cells: Sequence[Cell], selector: CellSelector) -> list[Cell]:
    """The cells the selector matches, in order; none is an error listing the closest keys."""
    chosen = [cell for cell in cells if _matches(cell, selector)]
    if chosen:
        return chosen
    if not cells:
        raise NetmatrixError(f"no cell matches {selector.text}: the matrix has no cells")
    # Rank by how close the cell's values for the selector's keys are to what was asked.
    ranked = sorted(
        cells,
        key=lambda cell: (
            -difflib.SequenceMatcher(None, selector.text, _project(cell, selector)).ratio()
        ),
    )
    closest = ", ".join(cell.key for cell in ranked[:CLOSEST])
    raise NetmatrixError(f"no cell matches {selector.text}; closest: {closest}")


def _matches(cell: Cell, selector: CellSelector) -> bool:
    return all(fnmatchcase(str(getattr(cell, key)), value) for key, value in selector.criteria)


def _project(cell: Cell, selector: CellSelector) -> str:
    return ",".join(f"{key}={getattr(cell, key)}" for key, _ in selector.criteria)
