"""The results outputs in the programs that consume them: the LaTeX tables compiled by a real
pdflatex, the HTML report rendered by Debian's headless chromium, both on the real demo
database, through the `invoke` script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from tests.unit.reports.builders import demo_database

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
GOLDEN = REPO / "tests" / "unit" / "reports" / "golden"
WIDTH, HEIGHT = 1280, 3000
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def invoke(database: Path, *argv: str) -> str:
    environment = {**os.environ, "NETMATRIX_DB": f"sqlite:///{database}"}
    done = subprocess.run(
        [sys.executable, "-m", "invoke", *argv],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_latex_tables_compile_with_booktabs(tmp_path: Path):
    database = demo_database(tmp_path)
    tables = [
        invoke(
            database, "results.table", "--baseline", "loopback", "--by", "kernel", "-f", "latex"
        ),
        invoke(database, "results.table", "--metric", "probe", "--by", "host", "-f", "latex"),
        (GOLDEN / "paper.tex").read_text(),
    ]
    for index, table in enumerate(tables):
        (tmp_path / f"table{index}.tex").write_text(table)
    inputs = "\n".join(f"\\input{{table{index}}}" for index in range(len(tables)))
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage[margin=1cm]{geometry}\n"
        f"\\begin{{document}}\n{inputs}\n\\end{{document}}\n"
    )

    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    log = (tmp_path / "paper.log").read_text(errors="replace")
    assert done.returncode == 0, done.stdout[-2000:]
    assert "! " not in log
    assert "Output written on paper.pdf (2 pages" in log
    assert "Overfull" not in log
    assert (tmp_path / "paper.pdf").read_bytes().startswith(b"%PDF-")


def test_the_report_renders_in_headless_chromium(tmp_path: Path):
    database = demo_database(tmp_path)
    page = tmp_path / "report.html"
    invoke(database, "results.report", "--out", str(page))
    shot = tmp_path / "report.png"
    browser = shutil.which("chromium")
    assert browser, "chromium is a test dependency (Debian package chromium)"

    done = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    pixels = imread(shot)
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    grey = pixels[..., :3].mean(axis=2)
    inked = grey < 0.5
    assert 0.01 < inked.mean() < 0.5  # text, rules and figures, not a blank or black page
    rows_with_ink = np.flatnonzero(inked.any(axis=1))
    assert rows_with_ink[-1] - rows_with_ink[0] > HEIGHT * 0.8  # content all the way down
    assert len(np.unique((grey * 255).astype(int))) > 50  # anti-aliased text and greys
