"""A migrated results database on a temp file, with one campaign and one host snapshot."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.db import repository
from orchestrator.db.repository import CampaignRef, SnapshotRef
from orchestrator.db.session import Database, open_database
from tests.unit.db.builders import FACTS


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A newly migrated database, made once: each test works on a copy."""
    path = tmp_path_factory.mktemp("migrated") / "netmatrix.db"
    open_database(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def url(tmp_path: Path, migrated: Path) -> str:
    shutil.copyfile(migrated, tmp_path / "netmatrix.db")
    return f"sqlite:///{tmp_path / 'netmatrix.db'}"


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    with open_database(url) as database:
        yield database


@pytest.fixture
def campaign(db: Database) -> CampaignRef:
    return repository.get_or_create_campaign(
        db, "demo", "name: demo\n", "a" * 64, "0.1.0", "f857f64"
    )


@pytest.fixture
def snapshot(db: Database) -> SnapshotRef:
    return repository.record_host_snapshot(db, "lab1", FACTS)
