"""accounts: every ``provider`` column holds an account id (up to 32 characters), and
``merchant_accounts`` records each account's provider and currency for life — seeded
with ``airtel`` and ``mpesa`` from what an existing database already holds

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 23:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: the tables whose ``provider`` column names the account, and whether it may be NULL
ACCOUNT_COLUMNS = {
    "journal_entries": True,
    "collections": False,
    "transfers": False,
    "inbox": False,
    "revenue_totals": False,
    "day_closes": False,
    "notifications": True,
}
LEGACY = ("airtel", "mpesa")


def upgrade() -> None:
    bind = op.get_bind()
    # SQLite does not hold VARCHAR to its length; rebuilding its tables to say 32 would
    # risk their constraints for nothing
    if bind.dialect.name != "sqlite":
        for table, nullable in ACCOUNT_COLUMNS.items():
            op.alter_column(
                table,
                "provider",
                type_=sa.String(32),
                existing_type=sa.String(16),
                existing_nullable=nullable,
            )
    accounts = op.create_table(
        "merchant_accounts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # the legacy accounts, in the currency their money was booked in (nothing booked:
    # nothing to record; the first start records them)
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    for account in LEGACY:
        currency = None
        for table in ("collections", "transfers"):
            currency = (
                currency
                or bind.execute(
                    sa.text(f"SELECT currency FROM {table} WHERE provider = :p LIMIT 1"),  # noqa: S608
                    {"p": account},
                ).scalar()
            )
        if currency is not None:
            op.bulk_insert(
                accounts,
                [{"id": account, "provider": account, "currency": currency, "created_at": now}],
            )


def downgrade() -> None:
    op.drop_table("merchant_accounts")
    if op.get_bind().dialect.name != "sqlite":
        for table, nullable in ACCOUNT_COLUMNS.items():
            op.alter_column(
                table,
                "provider",
                type_=sa.String(16),
                existing_type=sa.String(32),
                existing_nullable=nullable,
            )
