"""The small records the ports hand back and take: plain values, owned by the services
that use them, so that the store (``qmoi.db``) depends on the services' vocabulary and
never the other way round. Domain objects (collections, transfers, journal entries)
live in :mod:`qmoi.domain`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A stored provider callback waiting to be processed."""

    id: int
    provider: str
    kind: str
    event_id: str
    received_at: datetime
    body: str
    attempts: int = 0  # processing attempts that failed so far


@dataclass(frozen=True, slots=True)
class Mark:
    """What became of one processed item: its new status, why, and its failed attempts."""

    item_id: int
    status: str
    reason: str | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Close:
    """A day's frozen figures: its close (one per provider and day) or a Z-report."""

    provider: str
    business_day: date
    kind: str  # close | reset
    closed_at: datetime
    currency: str
    earned_minor: int
    totals: dict[str, int]
    target_minor: int


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    kind: str
    provider: str | None
    message: str
    payload: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification on its way to one channel."""

    id: int
    notification: Notification
    channel: str
    attempts: int


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """What an API idempotency key was first used for, and the answer once there is one."""

    request_hash: str
    status_code: int | None
    body: str | None


@dataclass(frozen=True, slots=True)
class StoredKey:
    """An API key as stored: a digest of the secret, never the secret itself."""

    key_id: str
    name: str
    role: str
    digest: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """A vault secret as stored: sealed, with the id of the key that sealed it."""

    name: str
    key_id: str
    sealed: bytes
    updated_at: datetime


@dataclass(frozen=True)
class HistoryFilter:
    """Which of a provider's transactions a history page shows."""

    provider: str
    since: datetime | None = None
    until: datetime | None = None
    stream: str | None = None
    status: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class HistoryRow:
    """One line of the transactions history: a collection, a transfer or a fee."""

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
