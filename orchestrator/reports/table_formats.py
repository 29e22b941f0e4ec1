"""A `ResultTable` as text: a rich table for the terminal, Markdown, CSV or LaTeX (booktabs).

Terminal, Markdown and LaTeX show what a reader of a paper sees: one line per row value,
one column per column value, each cell "mean ± half-width (n=…)" and, with a baseline, the
ratio under it. The messages of unsupported and failed cells follow the table (as comments
in LaTeX), once per distinct message. CSV is for programs: one line per cell with the raw
numbers and the cell's state.

The LaTeX is a `table` float for `\\input` into a paper whose preamble loads booktabs; every
piece of text is escaped, so a kernel release or mode name cannot break the document.
"""

from __future__ import annotations

import csv
import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestrator.reports.cell_text import Symbols, baseline_text, value_text
from orchestrator.reports.rows import check_format
from orchestrator.reports.tables import CellState, ResultTable, TableCell, TableGroup

FORMATS = ("table", "markdown", "csv", "latex")
CSV_NUMBERS = ("n", "mean", "stdev", "ci_low", "ci_high", "ratio", "ratio_low", "ratio_high")


def render_table(table: ResultTable, fmt: str) -> str:
    """The table in `fmt` (table, markdown, csv or latex)."""
    check_format(fmt, FORMATS)
    return {"table": _rich, "markdown": _markdown, "csv": _csv, "latex": _latex}[fmt](table)


def title(table: ResultTable) -> str:
    """What the table shows, what it pooled, in words."""
    metric = table.metric
    what = (
        "ratio of means with Fieller's 95% CI"
        if metric.denominator
        else "mean ± 95% CI (Student's t) over the latest ok runs"
    )
    unit = "" if metric.denominator else f" ({metric.unit})"
    pooled = "".join(
        f"; pooled over {axis} {', '.join(values)}" for axis, values in table.pooled.items()
    )
    return f"{metric.title}{unit}, campaign {table.campaign}: {what}{pooled}"


def group_title(table: ResultTable, group: TableGroup) -> str | None:
    return None if group.value is None else f"{table.spec.by} {group.value}"


def cell_lines(table: ResultTable, cell: TableCell, symbols: Symbols) -> list[str]:
    """The value line of a cell and, with a baseline, its ratio line."""
    lines = [value_text(cell, symbols)]
    if table.spec.baseline is not None:
        ratio = baseline_text(cell, table.spec.baseline, symbols)
        if ratio is not None:
            lines.append(ratio)
    return lines


def notes(table: ResultTable) -> list[str]:
    """The messages of cells without a number, once each: "ipvlan-l2: unsupported: …"."""
    found: dict[str, None] = {}
    for group in table.groups:
        for row in table.rows:
            for col in table.cols:
                cell = table.cell(group, row, col)
                if cell.state != CellState.MEASURED and cell.note:
                    found[f"{row}: {cell.state}: {cell.note}"] = None
    return list(found)


def _rich(table: ResultTable) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=max(100, Console().width), highlight=False)
    console.print(title(table), markup=False)
    for group in table.groups:
        heading = group_title(table, group)
        grid = Table(title=Text(heading) if heading else None)
        grid.add_column(table.spec.rows)
        for col in table.cols:
            grid.add_column(f"{table.spec.cols} {col}", justify="right")
        for row in table.rows:
            grid.add_row(
                Text(row),
                *(
                    Text("\n".join(cell_lines(table, table.cell(group, row, col), Symbols())))
                    for col in table.cols
                ),
            )
        console.print(grid)
    for note in notes(table):
        console.print(note, markup=False)
    return buffer.getvalue()


def _markdown(table: ResultTable) -> str:
    def escape(text: str) -> str:
        return text.replace("|", "\\|")

    out = [f"**{escape(title(table))}**", ""]
    for group in table.groups:
        heading = group_title(table, group)
        if heading:
            out += [f"### {escape(heading)}", ""]
        out.append(
            "| "
            + " | ".join([table.spec.rows, *(f"{table.spec.cols} {col}" for col in table.cols)])
            + " |"
        )
        out.append("|---" + "|---:" * len(table.cols) + "|")
        for row in table.rows:
            cells = [
                "<br>".join(
                    escape(line)
                    for line in cell_lines(table, table.cell(group, row, col), Symbols())
                )
                for col in table.cols
            ]
            out.append("| " + " | ".join([escape(row), *cells]) + " |")
        out.append("")
    out += [f"- {escape(note)}" for note in notes(table)]
    return "\n".join(out).rstrip("\n") + "\n"


def _csv(table: ResultTable) -> str:
    spec = table.spec
    axes = [axis for axis in (spec.by, spec.rows, spec.cols) if axis is not None]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*axes, "state", *CSV_NUMBERS, "ratio_to", "failed", "note"])
    ratio_to = "plain" if table.metric.denominator else spec.baseline
    for group in table.groups:
        for row in table.rows:
            for col in table.cols:
                cell = table.cell(group, row, col)
                place = [group.value, row, col] if spec.by else [row, col]
                writer.writerow(
                    [
                        *place,
                        str(cell.state),
                        *_numbers(cell),
                        "" if cell.ratio is None else ratio_to,
                        cell.failed,
                        cell.note or "",
                    ]
                )
    return buffer.getvalue()


def _numbers(cell: TableCell) -> list[object]:
    summary, ratio = cell.summary, cell.ratio
    interval = summary.interval if summary else None
    values: list[object] = [
        cell.n if cell.state == CellState.MEASURED else None,
        summary.mean if summary else None,
        summary.stdev if summary else None,
        interval.low if interval else None,
        interval.high if interval else None,
        ratio.ratio if ratio else None,
        ratio.low if ratio else None,
        ratio.high if ratio else None,
    ]
    return ["" if value is None else repr(value) for value in values]


# -- LaTeX ---------------------------------------------------------------------------------------

# Private-use characters stand for the symbols while the text is escaped.
_LATEX_SYMBOLS = Symbols(plus_minus=" \ue000 ", times="\ue001", n="\ue002")
_LATEX_SIGNS = {"\ue000": r"$\pm$", "\ue001": r"$\times$", "\ue002": r"$n$="}
_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "×": r"$\times$",
    "µ": r"$\mu$",
}


def latex_escape(text: str) -> str:
    """`text` safe in LaTeX's text mode (the private-use signs become their symbols)."""
    escaped = "".join(_LATEX_ESCAPES.get(char, char) for char in text)
    return "".join(_LATEX_SIGNS.get(char, char) for char in escaped)


def _latex_cell(lines: list[str]) -> str:
    body = r"\\ ".join(latex_escape(line) for line in lines)
    return body if len(lines) == 1 else rf"\begin{{tabular}}[t]{{@{{}}r@{{}}}}{body}\end{{tabular}}"


def _latex(table: ResultTable) -> str:
    width = len(table.cols) + 1
    out = [
        f"% netmatrix results.table: campaign {table.campaign}, metric {table.spec.metric}",
        r"% needs \usepackage{booktabs} in the preamble",
        r"\begin{table}[htbp]",
        r"  \centering",
        rf"  \caption{{{latex_escape(title(table))}}}",
        rf"  \begin{{tabular}}{{l{'r' * len(table.cols)}}}",
        r"    \toprule",
        rf"    & \multicolumn{{{len(table.cols)}}}{{c}}{{{latex_escape(table.spec.cols)}}} \\",
        rf"    \cmidrule(lr){{2-{width}}}",
        "    " + " & ".join(latex_escape(text) for text in (table.spec.rows, *table.cols)) + r" \\",
    ]
    for group in table.groups:
        out.append(r"    \midrule")
        heading = group_title(table, group)
        if heading:
            out.append(
                rf"    \multicolumn{{{width}}}{{l}}{{\textit{{{latex_escape(heading)}}}}} \\"
            )
        for row in table.rows:
            cells = [
                _latex_cell(cell_lines(table, table.cell(group, row, col), _LATEX_SYMBOLS))
                for col in table.cols
            ]
            out.append("    " + " & ".join([latex_escape(row), *cells]) + r" \\")
    out += [r"    \bottomrule", r"  \end{tabular}", r"\end{table}"]
    out += [f"% {' '.join(note.split())}" for note in notes(table)]
    return "\n".join(out) + "\n"
