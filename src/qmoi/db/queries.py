"""The read side: transaction history across collections, transfers and fees, newest
first, filtered and cursor-paginated (keyset on (created_at, kind, id): stable under
concurrent inserts, no OFFSET scans; the cursors are :mod:`qmoi.services.history`'s)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, literal, or_, select, union_all
from sqlalchemy.orm import Session

from qmoi.db import tables as t
from qmoi.services.records import HistoryFilter, HistoryRow


class HistoryQuery:
    """The read port of the transactions history (:class:`qmoi.services.ports.History`)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def page(
        self, where: HistoryFilter, limit: int, cursor: tuple[datetime, str, int] | None
    ) -> list[HistoryRow]:
        """Up to ``limit`` rows after ``cursor``, newest first."""
        return history(self._session, where, limit, cursor)


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
