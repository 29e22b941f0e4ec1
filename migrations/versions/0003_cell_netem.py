"""cell.netem: the tc-netem value a cell's runs put on their path (`none` for cells before it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every cell stored so far ran on the path as it is: `none`. In place, like downgrade.
    with op.batch_alter_table("cell", recreate="never") as batch:
        batch.add_column(
            sa.Column("netem", sa.String(length=255), server_default="none", nullable=False)
        )


def downgrade() -> None:
    # In place (SQLite 3.35+): recreating `cell` would break the runs' foreign keys to it.
    with op.batch_alter_table("cell", recreate="never") as batch:
        batch.drop_column("netem")
