"""The inbox: every provider callback stored raw before anything else happens.

Unique on (provider, event id), so a duplicate delivery is acknowledged and ignored.
Items are processed in batches claimed with ``FOR UPDATE SKIP LOCKED``: any number of
processes drain it, each item once. An item whose processing fails is tried again and,
after a few failures, parked (``failed``) so that it cannot hold up the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from qmoi.db import tables as t
from qmoi.db.repositories import dialect_insert
from qmoi.services.records import InboxItem, Mark


class InboxRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        provider: str,
        kind: str,
        event_id: str,
        body: str,
        at: datetime,
        status: str = "received",
        reason: str | None = None,
    ) -> int | None:
        """Store a callback; None when this event was already stored (a duplicate)."""
        statement = (
            dialect_insert(self._session, t.inbox)
            .values(
                provider=provider,
                kind=kind,
                event_id=event_id[:200],
                received_at=at,
                body=body,
                status=status,
                reason=reason,
            )
            .on_conflict_do_nothing()
            .returning(t.inbox.c.id)
        )
        return self._session.execute(statement).scalar_one_or_none()

    def add_many(self, rows: Sequence[tuple[str, str, str, str]], at: datetime) -> list[bool]:
        """Store ``(provider, kind, event_id, body)`` callbacks in one statement; for
        each, whether it is new (False for one already stored, or repeated earlier in
        ``rows``)."""
        if not rows:
            return []
        statement = (
            dialect_insert(self._session, t.inbox)
            .values(
                [
                    {
                        "provider": provider,
                        "kind": kind,
                        "event_id": event_id[:200],
                        "received_at": at,
                        "body": body,
                        "status": "received",
                        "reason": None,
                    }
                    for provider, kind, event_id, body in rows
                ]
            )
            .on_conflict_do_nothing()
            .returning(t.inbox.c.provider, t.inbox.c.event_id)
        )
        stored = {(r.provider, r.event_id) for r in self._session.execute(statement)}
        new: list[bool] = []
        for provider, _, event_id, _ in rows:
            key = (provider, event_id[:200])
            new.append(key in stored)
            stored.discard(key)  # a repeat later in the batch is a duplicate
        return new

    def body_of(self, provider: str, event_id: str) -> str | None:
        found: str | None = self._session.scalar(
            select(t.inbox.c.body).where(
                t.inbox.c.provider == provider, t.inbox.c.event_id == event_id
            )
        )
        return found

    def claim(self, limit: int) -> list[InboxItem]:
        rows = self._session.execute(
            select(
                t.inbox.c.id,
                t.inbox.c.provider,
                t.inbox.c.kind,
                t.inbox.c.event_id,
                t.inbox.c.received_at,
                t.inbox.c.body,
                t.inbox.c.attempts,
            )
            .where(t.inbox.c.status == "received")
            .order_by(t.inbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        return [InboxItem(*row) for row in rows]

    def mark(self, item_id: int, status: str, reason: str | None = None) -> None:
        self.mark_many([Mark(item_id, status, reason)])

    def mark_many(self, marks: Sequence[Mark]) -> None:
        """Set each item's status, reason and attempts, in one round of statements."""
        if not marks:
            return
        statement = (
            update(t.inbox)
            .where(t.inbox.c.id == bindparam("item_id"))
            .values(
                status=bindparam("new_status"),
                reason=bindparam("new_reason"),
                attempts=bindparam("new_attempts"),
            )
        )
        self._session.connection().execute(
            statement,
            [
                {
                    "item_id": m.item_id,
                    "new_status": m.status,
                    "new_reason": (m.reason or "")[:64] or None,
                    "new_attempts": m.attempts,
                }
                for m in marks
            ],
        )

    def counts(self) -> dict[str, int]:
        rows = self._session.execute(
            select(t.inbox.c.status, func.count()).group_by(t.inbox.c.status)
        ).all()
        return {status: int(count) for status, count in rows}

    def rejected_since(self, since: datetime) -> int:
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(t.inbox)
                .where(t.inbox.c.status == "rejected", t.inbox.c.received_at >= since)
            )
            or 0
        )
