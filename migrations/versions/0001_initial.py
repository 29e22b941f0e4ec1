"""The initial schema: campaigns, host snapshots, cells, runs and what each run measured.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "status IN ('pending', 'running', 'ok', 'failed', 'unsupported', 'interrupted')"


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("spec_text", sa.Text(), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("git_commit", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign")),
        sa.UniqueConstraint("name", "spec_hash", name=op.f("uq_campaign_name_spec_hash")),
    )
    op.create_table(
        "host_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("kernel", sa.String(length=255), nullable=False),
        sa.Column("distro", sa.String(length=255), nullable=True),
        sa.Column("cpus", sa.Integer(), nullable=True),
        sa.Column("mem_mb", sa.Integer(), nullable=True),
        sa.Column("docker_version", sa.String(length=255), nullable=True),
        sa.Column("perf_version", sa.String(length=255), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_snapshot")),
    )
    op.create_table(
        "cell",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("mode", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("proto", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("kernel", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_cell_campaign_id_campaign")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cell")),
        sa.UniqueConstraint("campaign_id", "key", name=op.f("uq_cell_campaign_id_key")),
    )
    op.create_index(op.f("ix_cell_campaign_id_mode_host"), "cell", ["campaign_id", "mode", "host"])
    op.create_table(
        "run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("global_id", sa.String(length=36), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("repetition", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("superseded_by", sa.String(length=36), nullable=True),
        sa.Column("host_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("kernel", sa.String(length=255), nullable=False),
        sa.CheckConstraint(STATUSES, name=op.f("ck_run_status")),
        sa.ForeignKeyConstraint(["cell_id"], ["cell.id"], name=op.f("fk_run_cell_id_cell")),
        sa.ForeignKeyConstraint(
            ["host_snapshot_id"],
            ["host_snapshot.id"],
            name=op.f("fk_run_host_snapshot_id_host_snapshot"),
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by"],
            ["run.global_id"],
            name=op.f("fk_run_superseded_by_run"),
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run")),
        sa.UniqueConstraint("global_id", name=op.f("uq_run_global_id")),
    )
    op.create_index(op.f("ix_run_cell_id_repetition"), "run", ["cell_id", "repetition"])
    op.create_index(op.f("ix_run_status"), "run", ["status"])
    op.create_table(
        "metric",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("unit", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name=op.f("fk_metric_run_id_run")),
        sa.PrimaryKeyConstraint("run_id", "name", name=op.f("pk_metric")),
    )
    op.create_table(
        "event_count",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name=op.f("fk_event_count_run_id_run")),
        sa.PrimaryKeyConstraint("run_id", "event", name=op.f("pk_event_count")),
    )
    op.create_table(
        "device_count",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name=op.f("fk_device_count_run_id_run")),
        sa.PrimaryKeyConstraint("run_id", "device", name=op.f("pk_device_count")),
    )
    op.create_table(
        "function_count",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("function", sa.String(length=255), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name=op.f("fk_function_count_run_id_run")),
        sa.PrimaryKeyConstraint("run_id", "function", name=op.f("pk_function_count")),
    )
    op.create_table(
        "artifact",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("kind", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name=op.f("fk_artifact_run_id_run")),
        sa.PrimaryKeyConstraint("run_id", "path", name=op.f("pk_artifact")),
    )


def downgrade() -> None:
    for table in (
        "artifact",
        "function_count",
        "device_count",
        "event_count",
        "metric",
        "run",
        "cell",
        "host_snapshot",
        "campaign",
    ):
        op.drop_table(table)
