"""Cells and runs of a matrix: mode × size × proto × host × the host's kernels.

Keys are stable text (`mode=bridge,size=1400,proto=tcp,host=lab2`) because they outlive a
process: the database stores them, resume compares them and `--cell` selects by them. Without
a `kernel` axis in the spec the kernel is not in the key: it is a fact about the host when the
cell ran (recorded with each run), and a host whose kernel was updated still measures the same
cell of the same spec. With a `kernel` axis a host may measure on several kernels, so the key
names it: `mode=bridge,size=1400,proto=tcp,host=lab2,kernel=6.1.0-28-rt-amd64`. Likewise a
`netem` axis adds its value as a token (`…,netem=delay_5ms`, `…,netem=none`), and a spec
without one keeps the keys it always had.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from orchestrator.errors import NetmatrixError
from orchestrator.experiment.kernels import measured_kernels
from orchestrator.experiment.netem import NONE, token
from orchestrator.experiment.spec import Spec
from orchestrator.host import Host

# A selected host with the kernel release it runs (from facts).
HostKernel = tuple[Host, str]

SELECTOR_KEYS = ("mode", "size", "proto", "host", "kernel", "netem")
CLOSEST = 5


@dataclass(frozen=True)
class Cell:
    """One point of the matrix, measured on `host` running `kernel`.

    `kernel_axis`: the spec has a kernel axis, so the kernel is part of the key.
    `netem`: the canonical netem value put on the path (`none`: the path as it is);
    `netem_axis`: the spec has a netem axis, so its token is part of the key.
    """

    mode: str
    size: int
    proto: str
    host: str
    kernel: str
    kernel_axis: bool = False
    netem: str = NONE
    netem_axis: bool = False

    @property
    def key(self) -> str:
        key = f"mode={self.mode},size={self.size},proto={self.proto},host={self.host}"
        key = f"{key},kernel={self.kernel}" if self.kernel_axis else key
        return f"{key},netem={token(self.netem)}" if self.netem_axis else key


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
    """All cells of the matrix, in a stable order, from the hosts' running kernels.

    Hosts come in the given order, then each host's kernels (`measured_kernels`), then modes,
    sizes, protocols and netem values as the spec lists them. Every host whose kernels the
    spec's `kernel` patterns refuse is named in one error, and so is a pattern that no host's
    kernel matches.
    """
    kernels: dict[str, tuple[str, ...]] = {}
    refusals = []
    for host, running in hosts:
        try:
            kernels[host.name] = measured_kernels(host, running, spec.axes.kernel)
        except NetmatrixError as error:
            refusals.append(str(error))
    if refusals:
        raise NetmatrixError("; ".join(refusals))
    chosen = {kernel for releases in kernels.values() for kernel in releases}
    for pattern in spec.axes.kernel:
        if not any(fnmatchcase(kernel, pattern) for kernel in chosen):
            have = "; ".join(f"{name}: {', '.join(found)}" for name, found in kernels.items())
            raise NetmatrixError(
                f"kernel pattern {pattern!r} matches no kernel the hosts run or have "
                f"installed ({have})"
            )
    axis = bool(spec.axes.kernel)
    shapes = spec.axes.netem or (NONE,)
    return [
        Cell(
            mode,
            size,
            proto,
            host.name,
            kernel,
            kernel_axis=axis,
            netem=shape,
            netem_axis=bool(spec.axes.netem),
        )
        for host, _ in hosts
        for kernel in kernels[host.name]
        for mode in spec.axes.mode
        for size in spec.axes.size
        for proto in spec.axes.proto
        for shape in shapes
    ]


def parse_cell_selector(text: str) -> CellSelector:
    """Parse `mode=bridge,size=1400` (keys: mode, size, proto, host, kernel, netem)."""
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


def _value(cell: Cell, key: str) -> str:
    """A cell's value for a selector key, as its key writes it (netem as its token)."""
    return token(cell.netem) if key == "netem" else str(getattr(cell, key))


def _matches(cell: Cell, selector: CellSelector) -> bool:
    return all(fnmatchcase(_value(cell, key), value) for key, value in selector.criteria)


def _project(cell: Cell, selector: CellSelector) -> str:
    return ",".join(f"{key}={_value(cell, key)}" for key, _ in selector.criteria)
