"""ftrace_function: what each run's ftrace pass measured of each graphed function.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ftrace_function",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("function", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("timed_calls", sa.Integer(), nullable=False),
        sa.Column("total_us", sa.Double(), nullable=True),
        sa.Column("mean_us", sa.Double(), nullable=True),
        sa.Column("p50_us", sa.Double(), nullable=True),
        sa.Column("p90_us", sa.Double(), nullable=True),
        sa.Column("p99_us", sa.Double(), nullable=True),
        sa.Column("children_share", sa.Double(), nullable=True),
        sa.Column("top_callees", sa.JSON(), nullable=False),
        sa.Column("overrun", sa.Integer(), nullable=False),
        sa.Column("lost", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('ok', 'unsupported')", name=op.f("ck_ftrace_function_status")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name=op.f("fk_ftrace_function_run_id_run")),
        sa.PrimaryKeyConstraint("run_id", "function", name=op.f("pk_ftrace_function")),
    )


def downgrade() -> None:
    op.drop_table("ftrace_function")
