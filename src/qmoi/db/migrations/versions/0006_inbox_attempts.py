"""inbox attempts: how often processing a stored callback failed, so a poisoned one is
parked instead of holding up every callback behind it

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "inbox",
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("attempts")
