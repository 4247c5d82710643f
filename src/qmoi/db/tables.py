"""The schema: what the database itself refuses, on SQLite and PostgreSQL alike.

Money is BIGINT minor units. Instants are stored in UTC. The rules the database
repeats (the domain checks them first): unique booking references, unique provider
references and idempotency keys, one auto-transfer per (provider, day, sequence),
non-negative wallet balances (CHECK), no zero postings (CHECK), foreign keys that refuse
deletes (RESTRICT), and — added by the migrations as triggers — no UPDATE or DELETE of
journal entries, postings or audit records, and (PostgreSQL) balanced entries at commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the backend stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC instant")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def _money(name: str, **kw: Any) -> Column[int]:
    return Column(name, BigInteger, **kw)


#: an account id's longest form (the legacy ids are the provider names); every
#: ``provider`` column holds the account id
ACCOUNT_ID_LENGTH = 32

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# The merchant's accounts this database has held money for: an account keeps its
# provider and currency for life (a new currency is a new account id).
merchant_accounts = Table(
    "merchant_accounts",
    metadata,
    Column("id", String(ACCOUNT_ID_LENGTH), primary_key=True),
    Column("provider", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("country", String(2), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("non_negative", Boolean, nullable=False),
    _money("balance_minor", nullable=False, server_default=text("0")),
    UniqueConstraint("name", "currency"),
    CheckConstraint("non_negative = false OR balance_minor >= 0", name="non_negative_balance"),
    CheckConstraint(
        "kind IN ('asset', 'liability', 'equity', 'income', 'expense')", name="kind_known"
    ),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("reference", String(200), nullable=True, unique=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("business_day", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("provider", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("stream", String(32), nullable=True),
    Column("sandbox", Boolean, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    CheckConstraint("amount_minor > 0", name="positive_amount"),
    Index("ix_journal_day_provider", "business_day", "provider", "kind"),
)

postings = Table(
    "postings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "entry_id",
        Id,
        ForeignKey("journal_entries.id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    Column(
        "account_id", Id, ForeignKey("accounts.id", ondelete="RESTRICT"), nullable=False, index=True
    ),
    _money("amount_minor", nullable=False),
    Column("currency", String(3), nullable=False),
    CheckConstraint("amount_minor <> 0", name="non_zero"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("signature", String(128), nullable=False),
    Column("key_id", String(32), nullable=False),
)

# One row: the last sequence number and hash. Locking it serialises chain appends.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

collections = Table(
    "collections",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("reference", String(64), nullable=False, unique=True),  # our id, sent to provider
    Column("provider", String(ACCOUNT_ID_LENGTH), nullable=False),
    Column("provider_request_id", String(128), nullable=True),
    Column("provider_reference", String(128), nullable=True),
    Column("msisdn", String(16), nullable=False),
    _money("amount_minor", nullable=False),
    Column("currency", String(3), nullable=False),
    Column("stream", String(32), nullable=False),
    Column("account_reference", String(64), nullable=True),
    Column("state", String(16), nullable=False),
    Column("reason", String(32), nullable=True),
    Column("provider_code", String(64), nullable=True),
    Column("provider_message", Text, nullable=True),
    Column("origin", String(16), nullable=False),  # request | c2b
    Column("sandbox", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("next_check_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("entry_id", Id, ForeignKey("journal_entries.id", ondelete="RESTRICT"), nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),  # when the push last went out
    CheckConstraint("amount_minor > 0", name="positive_amount"),
    UniqueConstraint("provider", "provider_reference"),
    UniqueConstraint("provider", "provider_request_id"),
    Index("ix_collections_due", "state", "next_check_at"),
)

# One live auto-transfer per (provider, day, sequence): a failed chunk may be retried and
# a fallback on the other provider is not that provider's own chunk.
LIVE_CHUNK = "trigger = 'auto' AND fallback_of IS NULL AND state <> 'failed'"

transfers = Table(
    "transfers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("reference", String(64), nullable=False, unique=True),  # idempotency key sent
    Column("provider", String(ACCOUNT_ID_LENGTH), nullable=False),
    Column("trigger", String(8), nullable=False),  # auto | manual
    Column("business_day", Date, nullable=False),
    Column("sequence", Integer, nullable=True),  # auto-transfer chunk number of the day
    Column("msisdn", String(16), nullable=False),
    _money("amount_minor", nullable=False),
    Column("currency", String(3), nullable=False),
    _money("fee_minor", nullable=True),
    Column("state", String(16), nullable=False),
    Column("provider_request_id", String(128), nullable=True),
    Column("provider_reference", String(128), nullable=True),
    Column("reason", String(32), nullable=True),
    Column("provider_code", String(64), nullable=True),
    Column("provider_message", Text, nullable=True),
    Column("fallback_of", Id, ForeignKey("transfers.id", ondelete="RESTRICT"), nullable=True),
    Column("actor", String(64), nullable=False),
    Column("sandbox", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("next_check_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    CheckConstraint("amount_minor > 0", name="positive_amount"),
    CheckConstraint("trigger IN ('auto', 'manual')", name="trigger_known"),
    CheckConstraint("trigger = 'manual' OR sequence IS NOT NULL", name="auto_has_sequence"),
    UniqueConstraint("provider", "provider_reference"),
    Index(
        "uq_transfers_auto_chunk",
        "provider",
        "business_day",
        "sequence",
        unique=True,
        sqlite_where=text(LIVE_CHUNK),
        postgresql_where=text(LIVE_CHUNK),
    ),
    Index("ix_transfers_due", "state", "next_check_at"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("provider", String(ACCOUNT_ID_LENGTH), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("body", Text, nullable=False),
    # received | processed (a proven fact applied) | hint (an enquiry asked for) |
    # answer (a query's result) | rejected | failed (parked after repeated errors)
    Column("status", String(16), nullable=False),
    Column("reason", String(64), nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    UniqueConstraint("provider", "event_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# Income per (day, hour, provider, stream), moved in the same transaction as the entry,
# so the metrics never scan the ledger.
revenue_totals = Table(
    "revenue_totals",
    metadata,
    Column("business_day", Date, primary_key=True),
    Column("hour", Integer, primary_key=True),  # 0-23 in QMOI_TIMEZONE
    Column("provider", String(ACCOUNT_ID_LENGTH), primary_key=True),
    Column("stream", String(32), primary_key=True),
    Column("currency", String(3), nullable=False),
    _money("amount_minor", nullable=False),
    Column("payments", Integer, nullable=False),
    CheckConstraint("hour BETWEEN 0 AND 23", name="hour_of_day"),
)

# Day closes (at midnight) and Z-reports (qmoi revenue reset): frozen figures, never
# deleted. Counting periods start after the latest one of the day.
day_closes = Table(
    "day_closes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("provider", String(ACCOUNT_ID_LENGTH), nullable=False),
    Column("business_day", Date, nullable=False),
    Column("kind", String(8), nullable=False),  # close | reset
    Column("closed_at", UTCDateTime, nullable=False),
    Column("currency", String(3), nullable=False),
    _money("earned_minor", nullable=False),
    Column("totals", Text, nullable=False),  # {"stream": minor, ...}
    Column("target_minor", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),
    CheckConstraint("kind IN ('close', 'reset')", name="kind_known"),
    Index(
        "uq_day_closes_close",
        "provider",
        "business_day",
        unique=True,
        sqlite_where=text("kind = 'close'"),
        postgresql_where=text("kind = 'close'"),
    ),
)

# One row per run of a scheduled job that only one worker may do (a sales cycle slot).
job_slots = Table(
    "job_slots",
    metadata,
    Column("job", String(64), primary_key=True),
    Column("slot", String(64), primary_key=True),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("owner", String(64), nullable=False),
)

# The owner's notifications, written with the event that caused them; delivered by the
# notifier (a failing channel never blocks money).
notifications = Table(
    "notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("provider", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("dedupe_key", String(128), nullable=True, unique=True),
    Column("message", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
)

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("notification_id", Id, ForeignKey("notifications.id"), nullable=False),
    Column("channel", String(16), nullable=False),  # webhook | email | sms
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    UniqueConstraint("notification_id", "channel"),
)
Index(
    "ix_notification_deliveries_due",
    notification_deliveries.c.status,
    notification_deliveries.c.next_attempt_at,
)

APPEND_ONLY_TABLES = ("journal_entries", "postings", "audit_log")

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("digest", String(64), nullable=False),  # SHA-256 of the secret part, hex
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    CheckConstraint("role IN ('owner', 'operator', 'viewer', 'auditor')", name="role_known"),
)

#: the credential vault: provider secrets, each sealed on its own (AES-256-GCM, its
#: name authenticated with it) under a key derived from QMOI's secret key
vault_secrets = Table(
    "vault_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("key_id", String(12), nullable=False),  # which secret key sealed it (public)
    Column("sealed", LargeBinary, nullable=False),  # nonce + ciphertext + tag
    Column("updated_at", UTCDateTime, nullable=False),
)
