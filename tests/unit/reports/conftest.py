"""A synthetic results database per test (`NETMATRIX_DB` points at it) and its results dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.db import repository
from orchestrator.db.session import Database
from tests.unit.analysis.conftest import run as run_task  # noqa: F401 - for the task tests
from tests.unit.db.conftest import db, migrated, url  # noqa: F401 - fixtures used here
from tests.unit.reports.builders import SPEC, SPEC_HASH, Lab, fill_paper


@pytest.fixture
def env(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    """The test's database is the one the tasks open; returns its results directory."""
    results = tmp_path / "results"
    monkeypatch.setenv("NETMATRIX_DB", url)
    return results


@pytest.fixture
def lab(db: Database, env: Path) -> Lab:  # noqa: F811
    """An empty campaign `paper` with a valid spec."""
    campaign = repository.get_or_create_campaign(db, "paper", SPEC, SPEC_HASH, "0.1.0", "abc1234")
    return Lab(db, campaign, env)


@pytest.fixture
def paper(lab: Lab) -> Iterator[Lab]:
    """The campaign of `builders.fill_paper`."""
    fill_paper(lab)
    yield lab
