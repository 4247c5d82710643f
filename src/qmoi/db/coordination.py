"""What processes coordinate through, with no shared memory and no leader: run slots of
scheduled jobs, the owner's notification outbox, and API idempotency keys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from qmoi.db import tables as t
from qmoi.db.repositories import dialect_insert, inserted


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


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    kind: str
    provider: str | None
    message: str
    payload: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None


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


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    request_hash: str
    status_code: int | None
    body: str | None


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
