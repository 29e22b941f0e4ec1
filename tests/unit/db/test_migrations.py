"""Alembic: applied on first use, idempotent, reversible, and usable from its command line."""

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from orchestrator.db import migrate, repository
from orchestrator.db.models import Base
from orchestrator.db.repository import CampaignRef
from orchestrator.db.session import Database, open_database

TABLES = {*Base.metadata.tables, "alembic_version"}


def test_opening_a_new_database_creates_the_schema(tmp_path: Path):
    with open_database(f"sqlite:///{tmp_path / 'new.db'}") as db:
        assert set(inspect(db.engine).get_table_names()) == TABLES
        assert migrate.current_revision(db.engine) == migrate.head_revision() == "0003"


def test_upgrade_again_changes_nothing(db: Database, campaign: CampaignRef):
    with db.engine.begin() as connection:
        command.upgrade(migrate.alembic_config(connection), "head")
    migrate.upgrade(db.engine)

    assert migrate.current_revision(db.engine) == "0003"
    assert repository.find_campaign(db) == campaign


def test_downgrade_to_base_and_up_again(db: Database):
    with db.engine.begin() as connection:
        command.downgrade(migrate.alembic_config(connection), "base")

    assert inspect(db.engine).get_table_names() == ["alembic_version"]
    assert migrate.current_revision(db.engine) is None
    migrate.upgrade(db.engine)
    assert set(inspect(db.engine).get_table_names()) == TABLES


def test_the_alembic_command_line_migrates_netmatrix_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NETMATRIX_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    config = Config(str(migrate.MIGRATIONS.parent / "alembic.ini"))

    command.upgrade(config, "head")
    command.check(config)  # raises when the models hold changes no revision has

    with open_database(read_only=True) as db:
        assert migrate.current_revision(db.engine) == "0003"
