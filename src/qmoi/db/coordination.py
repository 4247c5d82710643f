"""What processes coordinate through, with no shared memory and no leader: run slots of
scheduled jobs, the owner's notification outbox, and API idempotency keys."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from qmoi.db import tables as t
from qmoi.db.repositories import dialect_insert, inserted
from qmoi.services.records import Delivery, Notification, StoredAnswer


def _notification(r: Row[Any]) -> Notification:
    return Notification(
        r.id, r.kind, r.provider, r.message, json.loads(r.payload), r.created_at, r.delivered_at
    )


class JobSlots:
    def __init__(self, session: Session) -> None:
        self._session = session

    def claim(self, job: str, slot: str, owner: str, at: datetime) -> bool:
        """True for exactly one caller per (job, slot), whichever process asks first."""
        statement = (
            dialect_insert(self._session, t.job_slots)
            .values(job=job, slot=slot, claimed_at=at, owner=owner)
            .on_conflict_do_nothing()
            .returning(t.job_slots.c.job)
        )
        return inserted(self._session, statement)


class NotificationOutbox:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        kind: str,
        message: str,
        at: datetime,
        *,
        provider: str | None = None,
        payload: dict[str, Any] | None = None,
        dedupe_key: str | None = None,
    ) -> bool:
        """Queue a notification; False if one with the same ``dedupe_key`` exists."""
        statement = (
            dialect_insert(self._session, t.notifications)
            .values(
                kind=kind,
                provider=provider,
                dedupe_key=dedupe_key,
                message=message,
                payload=json.dumps(payload or {}, sort_keys=True),
                created_at=at,
            )
            .on_conflict_do_nothing()
            .returning(t.notifications.c.id)
        )
        return inserted(self._session, statement)

    def recent(self, limit: int = 50) -> list[Notification]:
        rows = self._session.execute(
            select(t.notifications).order_by(t.notifications.c.id.desc()).limit(limit)
        )
        return [
            Notification(
                r.id,
                r.kind,
                r.provider,
                r.message,
                json.loads(r.payload),
                r.created_at,
                r.delivered_at,
            )
            for r in rows
        ]

    def undelivered(self, limit: int = 100) -> list[Notification]:
        rows = self._session.execute(
            select(t.notifications)
            .where(t.notifications.c.delivered_at.is_(None))
            .order_by(t.notifications.c.id)
            .limit(limit)
        )
        return [
            Notification(
                r.id,
                r.kind,
                r.provider,
                r.message,
                json.loads(r.payload),
                r.created_at,
                r.delivered_at,
            )
            for r in rows
        ]

    def delivered(self, notification_id: int, at: datetime) -> None:
        self._session.execute(
            update(t.notifications)
            .where(t.notifications.c.id == notification_id)
            .values(delivered_at=at)
        )


class IdempotencyKeys:
    """Same key and same body → the stored answer; same key, other body → a conflict."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def reserve(self, scope: str, key: str, request_hash: str, at: datetime) -> StoredAnswer | None:
        """Claim ``key`` for this request; returns the earlier record if the key was used."""
        statement = (
            dialect_insert(self._session, t.idempotency_keys)
            .values(scope=scope, key=key, request_hash=request_hash, created_at=at)
            .on_conflict_do_nothing()
            .returning(t.idempotency_keys.c.key)
        )
        if inserted(self._session, statement):
            return None
        row = self._session.execute(
            select(t.idempotency_keys).where(
                t.idempotency_keys.c.scope == scope, t.idempotency_keys.c.key == key
            )
        ).one()
        return StoredAnswer(row.request_hash, row.status_code, row.response)

    def complete(self, scope: str, key: str, status_code: int, body: str) -> None:
        self._session.execute(
            update(t.idempotency_keys)
            .where(t.idempotency_keys.c.scope == scope, t.idempotency_keys.c.key == key)
            .values(status_code=status_code, response=body)
        )

    def release(self, scope: str, key: str) -> None:
        """Forget a key whose request failed before doing anything (so it can be retried)."""
        from sqlalchemy import delete

        self._session.execute(
            delete(t.idempotency_keys).where(
                t.idempotency_keys.c.scope == scope, t.idempotency_keys.c.key == key
            )
        )


class DeliveryLog:
    """One row per notification and channel: what was sent where, how often, and how
    it ended. Claims use ``FOR UPDATE SKIP LOCKED`` and a lease, like other work."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def fan_out(self, channels: Sequence[str], since: datetime, at: datetime) -> int:
        """A pending delivery for each notification since ``since`` and each channel that
        has none yet; returns how many were added."""
        added = 0
        d = t.notification_deliveries.c
        for channel in channels:
            ids = self._session.scalars(
                select(t.notifications.c.id)
                .where(
                    t.notifications.c.created_at >= since,
                    ~select(d.id)
                    .where(d.notification_id == t.notifications.c.id, d.channel == channel)
                    .exists(),
                )
                .order_by(t.notifications.c.id)
                .limit(500)
            ).all()
            for notification_id in ids:
                added += inserted(
                    self._session,
                    dialect_insert(self._session, t.notification_deliveries)
                    .values(
                        notification_id=notification_id,
                        channel=channel,
                        status="pending",
                        attempts=0,
                        next_attempt_at=at,
                        created_at=at,
                        updated_at=at,
                    )
                    .on_conflict_do_nothing()
                    .returning(d.id),
                )
        return added

    def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
        d, n = t.notification_deliveries.c, t.notifications.c
        rows = self._session.execute(
            select(t.notification_deliveries)
            .where(d.status == "pending", d.next_attempt_at <= now)
            .order_by(d.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return []
        self._session.execute(
            update(t.notification_deliveries)
            .where(d.id.in_([r.id for r in rows]))
            .values(next_attempt_at=now + lease, updated_at=now)
        )
        notes = {
            r.id: r
            for r in self._session.execute(
                select(t.notifications).where(n.id.in_({r.notification_id for r in rows}))
            )
        }
        return [
            Delivery(r.id, _notification(notes[r.notification_id]), r.channel, r.attempts)
            for r in rows
        ]

    def delivered(self, delivery_id: int, at: datetime) -> None:
        self._set(delivery_id, at, status="delivered", delivered_at=at, last_error=None)

    def retry(self, delivery_id: int, at: datetime, when: datetime, error: str) -> None:
        self._set(delivery_id, at, next_attempt_at=when, last_error=error[:300])

    def failed(self, delivery_id: int, at: datetime, error: str) -> None:
        self._set(delivery_id, at, status="failed", next_attempt_at=None, last_error=error[:300])

    def _set(self, delivery_id: int, at: datetime, **values: Any) -> None:
        d = t.notification_deliveries.c
        self._session.execute(
            update(t.notification_deliveries)
            .where(d.id == delivery_id)
            .values(attempts=d.attempts + 1, updated_at=at, **values)
        )

    def counts(self) -> dict[tuple[str, str], int]:
        """(channel, status) → deliveries."""
        d = t.notification_deliveries.c
        rows = self._session.execute(
            select(d.channel, d.status, func.count()).group_by(d.channel, d.status)
        )
        return {(c, s): int(k) for c, s, k in rows}

    def for_notification(self, notification_id: int) -> dict[str, tuple[str, int, str | None]]:
        """channel → (status, attempts, last error)."""
        d = t.notification_deliveries.c
        rows = self._session.execute(
            select(d.channel, d.status, d.attempts, d.last_error).where(
                d.notification_id == notification_id
            )
        )
        return {c: (s, int(a), e) for c, s, a, e in rows}
