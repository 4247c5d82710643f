"""initial schema: ledger, audit chain, collections, transfers, inbox, idempotency keys

Beyond the tables, the database itself refuses edits of the books: journal entries,
postings and audit records cannot be updated or deleted (triggers on both backends),
and on PostgreSQL a deferred constraint trigger refuses an unbalanced entry at commit.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 00:39:04.081673
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

APPEND_ONLY = ("journal_entries", "postings", "audit_log")
GENESIS_HASH = "0" * 64

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "accounts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("non_negative", sa.Boolean(), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('asset', 'liability', 'equity', 'income', 'expense')",
            name=op.f("ck_accounts_kind_known"),
        ),
        sa.CheckConstraint(
            "non_negative = false OR balance_minor >= 0",
            name=op.f("ck_accounts_non_negative_balance"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("name", "currency", name=op.f("uq_accounts_name_currency")),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "inbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("provider", "event_id", name=op.f("uq_inbox_provider_event_id")),
    )
    op.create_table(
        "journal_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("stream", sa.String(length=32), nullable=True),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_journal_entries_positive_amount")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
        sa.UniqueConstraint("reference", name=op.f("uq_journal_entries_reference")),
    )
    op.create_index(
        "ix_journal_day_provider",
        "journal_entries",
        ["business_day", "provider", "kind"],
        unique=False,
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meta")),
    )
    op.create_table(
        "transfers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=8), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("provider_request_id", sa.String(length=128), nullable=True),
        sa.Column("provider_reference", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("provider_code", sa.String(length=64), nullable=True),
        sa.Column("provider_message", sa.Text(), nullable=True),
        sa.Column(
            "fallback_of", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "trigger = 'manual' OR sequence IS NOT NULL",
            name=op.f("ck_transfers_auto_has_sequence"),
        ),
        sa.CheckConstraint(
            "trigger IN ('auto', 'manual')", name=op.f("ck_transfers_trigger_known")
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_transfers_positive_amount")),
        sa.ForeignKeyConstraint(
            ["fallback_of"],
            ["transfers.id"],
            name=op.f("fk_transfers_fallback_of_transfers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
        sa.UniqueConstraint(
            "provider", "provider_reference", name=op.f("uq_transfers_provider_provider_reference")
        ),
        sa.UniqueConstraint("reference", name=op.f("uq_transfers_reference")),
    )
    op.create_index("ix_transfers_due", "transfers", ["state", "next_check_at"], unique=False)
    op.create_index(
        "uq_transfers_auto_chunk",
        "transfers",
        ["provider", "business_day", "sequence"],
        unique=True,
        sqlite_where=sa.text("trigger = 'auto'"),
        postgresql_where=sa.text("trigger = 'auto'"),
    )
    op.create_table(
        "collections",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_request_id", sa.String(length=128), nullable=True),
        sa.Column("provider_reference", sa.String(length=128), nullable=True),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("account_reference", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("provider_code", sa.String(length=64), nullable=True),
        sa.Column("provider_message", sa.Text(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_collections_positive_amount")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_collections_entry_id_journal_entries"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections")),
        sa.UniqueConstraint(
            "provider",
            "provider_reference",
            name=op.f("uq_collections_provider_provider_reference"),
        ),
        sa.UniqueConstraint(
            "provider",
            "provider_request_id",
            name=op.f("uq_collections_provider_provider_request_id"),
        ),
        sa.UniqueConstraint("reference", name=op.f("uq_collections_reference")),
    )
    op.create_index("ix_collections_due", "collections", ["state", "next_check_at"], unique=False)
    op.create_table(
        "postings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_postings_non_zero")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_postings_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_postings_entry_id_journal_entries"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postings")),
    )
    op.create_index(op.f("ix_postings_account_id"), "postings", ["account_id"], unique=False)
    op.create_index(op.f("ix_postings_entry_id"), "postings", ["entry_id"], unique=False)

    op.execute(
        sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :hash)").bindparams(
            hash=GENESIS_HASH
        )
    )
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
    else:
        op.execute(
            """
            CREATE FUNCTION qmoi_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'P0001';
            END $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION qmoi_append_only()"
            )
        op.execute(
            """
            CREATE FUNCTION qmoi_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE total bigint;
            BEGIN
                SELECT COALESCE(SUM(amount_minor), 0) INTO total
                  FROM postings WHERE entry_id = NEW.entry_id;
                IF total <> 0 THEN
                    RAISE EXCEPTION 'journal entry % is unbalanced by %', NEW.entry_id, total
                        USING ERRCODE = '23514';
                END IF;
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            "CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION qmoi_entry_balanced()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    else:
        op.execute("DROP TRIGGER IF EXISTS postings_balanced ON postings")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS qmoi_entry_balanced()")
        op.execute("DROP FUNCTION IF EXISTS qmoi_append_only()")

    op.drop_index(op.f("ix_postings_entry_id"), table_name="postings")
    op.drop_index(op.f("ix_postings_account_id"), table_name="postings")
    op.drop_table("postings")
    op.drop_index("ix_collections_due", table_name="collections")
    op.drop_table("collections")
    op.drop_index(
        "uq_transfers_auto_chunk",
        table_name="transfers",
        sqlite_where=sa.text("trigger = 'auto'"),
        postgresql_where=sa.text("trigger = 'auto'"),
    )
    op.drop_index("ix_transfers_due", table_name="transfers")
    op.drop_table("transfers")
    op.drop_table("meta")
    op.drop_index("ix_journal_day_provider", table_name="journal_entries")
    op.drop_table("journal_entries")
    op.drop_table("inbox")
    op.drop_table("idempotency_keys")
    op.drop_table("audit_log")
    op.drop_table("audit_head")
    op.drop_table("accounts")
