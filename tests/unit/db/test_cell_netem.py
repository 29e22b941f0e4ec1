"""cell.netem: revision 0003 on a database the previous schema (0002) made, the value stored
with each cell and read back by the runs and the tables, which group by it."""

import lzma
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from orchestrator.db import metrics, migrate, repository
from orchestrator.db.repository import CampaignRef, SnapshotRef
from orchestrator.db.session import Database, open_database
from orchestrator.errors import NetmatrixError
from orchestrator.reports.tables import TableSpec, build_table
from tests.unit.db.builders import KERNEL, finished_run

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "tests" / "fixtures" / "databases" / "demo.db.xz"


def cell_columns(engine) -> list[str]:
    return [column["name"] for column in inspect(engine).get_columns("cell")]


def test_revision_0003_upgrades_a_database_of_the_previous_schema(tmp_path: Path) -> None:
    """The demo database (a real matrix's, at 0001) brought to 0002 first, then opened."""
    path = tmp_path / "demo.db"
    path.write_bytes(lzma.decompress(DEMO.read_bytes()))
    old = create_engine(f"sqlite:///{path}")
    with old.begin() as connection:
        command.upgrade(migrate.alembic_config(connection), "0002")
    assert migrate.current_revision(old) == "0002"
    assert "netem" not in cell_columns(old)
    with old.connect() as connection:
        keys = connection.execute(text("SELECT key FROM cell ORDER BY id")).scalars().all()
    old.dispose()

    with open_database(f"sqlite:///{path}") as db:  # migrates
        assert migrate.current_revision(db.engine) == "0003"
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT key, netem FROM cell ORDER BY id")).all()
        assert [key for key, _ in rows] == keys and len(keys) == 20
        assert {netem for _, netem in rows} == {"none"}
        campaign = repository.find_campaign(db, "demo")
        assert {run.netem for run in repository.current_run_values(db, campaign)} == {"none"}

        with db.engine.begin() as connection:
            command.downgrade(migrate.alembic_config(connection), "0002")
        assert "netem" not in cell_columns(db.engine)
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM run")).scalar_one() == 40


def netem_cell(db: Database, campaign: CampaignRef, mode: str, netem: str):
    key = f"mode={mode},size=64,proto=tcp,host=lab1,netem={netem.replace(' ', '_')}"
    return repository.get_or_create_cell(
        db, campaign, key, mode, 64, "tcp", "lab1", KERNEL, netem=netem
    )


def test_runs_and_tables_know_each_cells_netem(
    db: Database, campaign: CampaignRef, snapshot: SnapshotRef
) -> None:
    p50 = {("loopback", "none"): 40.0, ("loopback", "delay 5ms"): 10060.0}
    p50 |= {("bridge", "none"): 70.0, ("bridge", "delay 5ms"): 5090.0}
    for (mode, netem), value in p50.items():
        cell = netem_cell(db, campaign, mode, netem)
        finished_run(
            db,
            cell,
            1,
            snapshot,
            metrics={metrics.MBPS: (1.0, "Mbit/s")} | {"latency_p50/plain": (value, "us")},
        )

    rows = repository.runs_rows(db, campaign)
    assert [(row.mode, row.netem) for row in rows] == list(p50)
    runs = repository.current_run_values(db, campaign)
    table = build_table("demo", runs, TableSpec("mbps", rows="mode", cols="netem"))
    assert table.cols == ("none", "delay 5ms")
    (group,) = table.groups
    assert group.cells[("bridge", "delay 5ms")].n == 1
    by_netem = build_table("demo", runs, TableSpec("mbps", rows="netem", cols="size"))
    assert by_netem.rows == ("none", "delay 5ms")


def test_a_stored_cell_measured_with_another_netem_is_refused(
    db: Database, campaign: CampaignRef
) -> None:
    netem_cell(db, campaign, "bridge", "delay 5ms")
    key = "mode=bridge,size=64,proto=tcp,host=lab1,netem=delay_5ms"
    with pytest.raises(NetmatrixError, match="netem=delay 5ms, now netem=none"):
        repository.get_or_create_cell(db, campaign, key, "bridge", 64, "tcp", "lab1", KERNEL)
