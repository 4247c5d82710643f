"""The read side: transaction history across collections, transfers and fees, newest
first, filtered and cursor-paginated (keyset on (created_at, kind, id): stable under
concurrent inserts, no OFFSET scans)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, literal, or_, select, union_all
from sqlalchemy.orm import Session

from qmoi.db import tables as t

KINDS = ("collection", "transfer", "fee")


@dataclass(frozen=True)
class HistoryFilter:
    provider: str
    since: datetime | None = None
    until: datetime | None = None
    stream: str | None = None
    status: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class HistoryRow:
    id: int
    kind: str
    trigger: str | None
    stream: str | None
    amount_minor: int
    currency: str
    status: str
    msisdn: str | None
    provider_reference: str | None
    reference: str
    created_at: datetime
    reason: str | None


def encode_cursor(row: HistoryRow) -> str:
    raw = f"{row.created_at.isoformat()}|{row.kind}|{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str, int]:
    """Raises ValueError for anything that is not one of our cursors."""
    padded = cursor + "=" * (-len(cursor) % 4)
    at, kind, ident = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
    if kind not in KINDS:
        raise ValueError("unknown kind in cursor")
    when = datetime.fromisoformat(at)
    if when.tzinfo is None:
        raise ValueError("cursor time has no zone")
    number = int(ident)
    if not 0 <= number < 2**63:  # ids are 64-bit: a larger one would overflow the query
        raise ValueError("id out of range in cursor")
    return when, kind, number


def history(
    session: Session, where: HistoryFilter, limit: int, cursor: tuple[datetime, str, int] | None
) -> list[HistoryRow]:
    c, x, j = t.collections.c, t.transfers.c, t.journal_entries.c
    collections = select(
        c.id,
        literal("collection").label("kind"),
        literal(None).label("trigger"),
        c.stream,
        c.amount_minor,
        c.currency,
        c.state.label("status"),
        c.msisdn,
        c.provider_reference,
        c.reference,
        c.created_at,
        c.reason,
    ).where(c.provider == where.provider)
    transfers = select(
        x.id,
        literal("transfer").label("kind"),
        x.trigger,
        literal(None).label("stream"),
        x.amount_minor,
        x.currency,
        x.state.label("status"),
        x.msisdn,
        x.provider_reference,
        x.reference,
        x.created_at,
        x.reason,
    ).where(x.provider == where.provider)
    fees = select(
        j.id,
        literal("fee").label("kind"),
        literal(None).label("trigger"),
        literal(None).label("stream"),
        j.amount_minor,
        j.currency,
        literal("succeeded").label("status"),
        literal(None).label("msisdn"),
        literal(None).label("provider_reference"),
        j.reference,
        j.recorded_at.label("created_at"),
        literal(None).label("reason"),
    ).where(j.provider == where.provider, j.kind == "fee")
    parts = {"collection": collections, "transfer": transfers, "fee": fees}
    if where.kind is not None:
        parts = {where.kind: parts[where.kind]}
    if where.stream is not None:
        parts = {
            k: q.where(c.stream == where.stream) for k, q in parts.items() if k == "collection"
        }
    if not parts:  # a stream asked of transfers or fees, which have none
        return []
    merged = union_all(*parts.values()).subquery()
    m = merged.c
    query = select(merged)
    conditions: list[Any] = []
    if where.since is not None:
        conditions.append(m.created_at >= where.since)
    if where.until is not None:
        conditions.append(m.created_at < where.until)
    if where.status is not None:
        conditions.append(m.status == where.status)
    if cursor is not None:
        at, kind, ident = cursor
        conditions.append(
            or_(
                m.created_at < at,
                and_(m.created_at == at, m.kind < kind),
                and_(m.created_at == at, m.kind == kind, m.id < ident),
            )
        )
    if conditions:
        query = query.where(*conditions)
    query = query.order_by(m.created_at.desc(), m.kind.desc(), m.id.desc()).limit(limit)
    rows = session.execute(query).all()
    return [
        HistoryRow(
            id=r.id,
            kind=r.kind,
            trigger=r.trigger,
            stream=r.stream,
            amount_minor=int(r.amount_minor),
            currency=r.currency,
            status=r.status,
            msisdn=r.msisdn,
            provider_reference=r.provider_reference,
            reference=r.reference,
            created_at=_aware(r.created_at),
            reason=r.reason,
        )
        for r in rows
    ]


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
