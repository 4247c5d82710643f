"""Counts for the Prometheus scrape, read from the database so that every process
reports the same figures: collections by outcome, transfers by state, rejected
callbacks by reason, and the oldest unfinished work. Each is one grouped query over
bounded label values (provider, stream, state, reason)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qmoi.db import tables as t

OPEN_COLLECTIONS = ("requested", "pending", "unknown")
OPEN_TRANSFERS = ("reserved", "submitted", "unknown")


class ObservedRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def collections(self) -> dict[tuple[str, str, str], int]:
        """(provider, stream, state) → count."""
        c = t.collections.c
        rows = self._session.execute(
            select(c.provider, c.stream, c.state, func.count()).group_by(
                c.provider, c.stream, c.state
            )
        )
        return {(p, s, st): int(n) for p, s, st, n in rows}

    def transfers(self) -> dict[tuple[str, str, str], int]:
        """(provider, trigger, state) → count."""
        x = t.transfers.c
        rows = self._session.execute(
            select(x.provider, x.trigger, x.state, func.count()).group_by(
                x.provider, x.trigger, x.state
            )
        )
        return {(p, tr, st): int(n) for p, tr, st, n in rows}

    def rejected_callbacks(self) -> dict[tuple[str, str], int]:
        """(provider, reason) → count of callbacks stored as rejected."""
        i = t.inbox.c
        rows = self._session.execute(
            select(i.provider, i.reason, func.count())
            .where(i.status == "rejected")
            .group_by(i.provider, i.reason)
        )
        return {(p, r or "unknown"): int(n) for p, r, n in rows}

    def version(self) -> str:
        """Changes whenever a payment or fee is booked, a transfer moves or the owner is
        notified: what the dashboard's live view waits on (three index lookups)."""
        session = self._session
        entry = session.scalar(select(func.max(t.journal_entries.c.id)))
        moved = session.scalar(select(func.max(t.transfers.c.updated_at)))
        note = session.scalar(select(func.max(t.notifications.c.id)))
        return f"{entry or 0}:{moved.isoformat() if moved else '-'}:{note or 0}"

    def oldest_open(self) -> dict[str, datetime | None]:
        """When the oldest unfinished collection, transfer and unprocessed callback
        began (None when there is none)."""
        c, x, i = t.collections.c, t.transfers.c, t.inbox.c
        session = self._session
        return {
            "collection": session.scalar(
                select(func.min(c.created_at)).where(c.state.in_(OPEN_COLLECTIONS))
            ),
            "transfer": session.scalar(
                select(func.min(x.created_at)).where(x.state.in_(OPEN_TRANSFERS))
            ),
            "callback": session.scalar(
                select(func.min(i.received_at)).where(i.status == "received")
            ),
        }
