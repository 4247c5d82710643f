"""revenue engine: totals, day closes, job slots, notifications

Also narrows the one-auto-transfer-per-chunk index to live chunks: a failed chunk may be
retried under a new reference, and a fallback on the other provider does not count as
that provider's own chunk.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 01:07:47.236938
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

LIVE_CHUNK = "trigger = 'auto' AND fallback_of IS NULL AND state <> 'failed'"

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "day_closes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("earned_minor", sa.BigInteger(), nullable=False),
        sa.Column("totals", sa.Text(), nullable=False),
        sa.Column("target_minor", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.CheckConstraint("kind IN ('close', 'reset')", name=op.f("ck_day_closes_kind_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_day_closes")),
    )
    op.create_index(
        "uq_day_closes_close",
        "day_closes",
        ["provider", "business_day"],
        unique=True,
        sqlite_where=sa.text("kind = 'close'"),
        postgresql_where=sa.text("kind = 'close'"),
    )
    op.create_table(
        "job_slots",
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("job", "slot", name=op.f("pk_job_slots")),
    )
    op.create_table(
        "notifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("dedupe_key", sa.String(length=128), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notifications_dedupe_key")),
    )
    op.create_table(
        "revenue_totals",
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.CheckConstraint("hour BETWEEN 0 AND 23", name=op.f("ck_revenue_totals_hour_of_day")),
        sa.PrimaryKeyConstraint(
            "business_day", "hour", "provider", "stream", name=op.f("pk_revenue_totals")
        ),
    )

    op.drop_index("uq_transfers_auto_chunk", table_name="transfers")
    op.create_index(
        "uq_transfers_auto_chunk",
        "transfers",
        ["provider", "business_day", "sequence"],
        unique=True,
        sqlite_where=sa.text(LIVE_CHUNK),
        postgresql_where=sa.text(LIVE_CHUNK),
    )


def downgrade() -> None:
    op.drop_index("uq_transfers_auto_chunk", table_name="transfers")
    op.create_index(
        "uq_transfers_auto_chunk",
        "transfers",
        ["provider", "business_day", "sequence"],
        unique=True,
        sqlite_where=sa.text("trigger = 'auto'"),
        postgresql_where=sa.text("trigger = 'auto'"),
    )

    op.drop_table("revenue_totals")
    op.drop_table("notifications")
    op.drop_table("job_slots")
    op.drop_index(
        "uq_day_closes_close",
        table_name="day_closes",
        sqlite_where=sa.text("kind = 'close'"),
        postgresql_where=sa.text("kind = 'close'"),
    )
    op.drop_table("day_closes")
