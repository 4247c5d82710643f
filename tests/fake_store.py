"""An in-memory store built to the ports (:mod:`qmoi.services.ports`), for service tests
that run in milliseconds. It keeps the store's rules that the services rely on:

* a unit of work sees a private copy of the committed state; ``commit()`` publishes it,
  leaving without one (or ``rollback()``) drops it, and a savepoint undoes only its block;
* a journal entry is posted all-or-nothing; a reference is booked once
  (:class:`DuplicateReference`); a wallet or in-transit account never goes below zero
  (:class:`InsufficientFunds`);
* saving a collection or transfer is a compare-and-set on its previous state (False when
  another unit of work moved it first: the services raise ``ConcurrentUpdate``), and a
  re-send is claimed on the attempts it was claimed with;
* the unique keys: collection and transfer references, (provider, receipt), a live auto
  chunk per (provider, day, sequence), (provider, event id) in the inbox, one close per
  provider and day, notification dedupe keys, job slots, idempotency keys.

Transactions run one at a time, as a test runs them; what two database sessions do at
once is the database tests' business (``tests/integration``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Self
from zoneinfo import ZoneInfo

from qmoi.domain import accounts as acc
from qmoi.domain.audit import GENESIS_HASH, AuditRecord, next_record
from qmoi.domain.clock import Clock, ManualClock
from qmoi.domain.collection import Collection
from qmoi.domain.errors import DuplicateReference, InsufficientFunds
from qmoi.domain.ledger import JournalEntry
from qmoi.domain.money import Money
from qmoi.domain.states import CollectionState, TransferState
from qmoi.domain.transfer import Transfer
from qmoi.services.ports import UnitOfWorkFactory
from qmoi.services.records import (
    Close,
    Delivery,
    HistoryFilter,
    HistoryRow,
    InboxItem,
    Mark,
    Notification,
    StoredAnswer,
    StoredKey,
    StoredSecret,
)

C, T = CollectionState, TransferState
OPEN_COLLECTIONS = (C.REQUESTED, C.PENDING, C.UNKNOWN)
OPEN_TRANSFERS = (T.RESERVED, T.SUBMITTED, T.UNKNOWN)


@dataclass
class Entry:
    id: int
    entry: JournalEntry
    recorded_at: datetime


@dataclass
class InboxRow:
    id: int
    provider: str
    kind: str
    event_id: str
    received_at: datetime
    body: str
    status: str
    reason: str | None
    attempts: int = 0


@dataclass
class DeliveryRow:
    id: int
    notification_id: int
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None = None


@dataclass
class State:
    """Everything the store holds; copied whole for each unit of work."""

    balances: dict[tuple[str, str], int] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    collections: dict[int, Collection] = field(default_factory=dict)
    transfers: dict[int, Transfer] = field(default_factory=dict)
    inbox: dict[int, InboxRow] = field(default_factory=dict)
    totals: dict[tuple[date, int, str, str], tuple[str, int, int]] = field(default_factory=dict)
    closes: list[tuple[Close, str]] = field(default_factory=list)
    slots: set[tuple[str, str]] = field(default_factory=set)
    notifications: list[tuple[Notification, str | None]] = field(default_factory=list)
    idempotency: dict[tuple[str, str], StoredAnswer] = field(default_factory=dict)
    deliveries: dict[int, DeliveryRow] = field(default_factory=dict)
    keys: dict[str, StoredKey] = field(default_factory=dict)
    vault: dict[str, StoredSecret] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    last_id: int = 0

    def new_id(self) -> int:
        self.last_id += 1
        return self.last_id


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def s(self) -> State:
        return self._uow.state


# --- the ledger and the audit trail ----------------------------------------------------


class FakeLedger(_Repo):
    def post(self, entry: JournalEntry) -> int:
        if entry.reference is not None and self.has_reference(entry.reference):
            raise DuplicateReference(entry.reference)
        (entry_id,) = self._book([entry])
        return entry_id

    def post_many(self, entries: list[JournalEntry]) -> list[int | None]:
        if not entries:
            return []
        currency = entries[0].currency
        if any(e.currency != currency or e.reference is None for e in entries):
            raise ValueError("post_many takes referenced entries in one currency")
        fresh: dict[str, JournalEntry] = {}
        for e in entries:
            if not self.has_reference(str(e.reference)):
                fresh.setdefault(str(e.reference), e)
        ids = dict(zip(fresh, self._book(list(fresh.values())), strict=True))
        return [ids.get(str(e.reference)) for e in entries]

    def _book(self, entries: list[JournalEntry]) -> list[int]:
        """All of ``entries`` or none: their summed moves checked against the
        non-negative rule first, as the store's guarded updates do."""
        deltas: dict[tuple[str, str], int] = {}
        for e in entries:
            for p in e.postings:
                key = (p.account, e.currency)
                deltas[key] = deltas.get(key, 0) + p.amount.minor
        for (name, currency), delta in sorted(deltas.items()):
            held = self.s.balances.get((name, currency), 0)
            if delta < 0 and acc.must_stay_non_negative(name) and held + delta < 0:
                raise InsufficientFunds(name, held, -delta)
        for key, delta in deltas.items():
            self.s.balances[key] = self.s.balances.get(key, 0) + delta
        ids = []
        for e in entries:
            ids.append(self.s.new_id())
            self.s.entries.append(Entry(ids[-1], e, self._uow.now))
        return ids

    def has_reference(self, reference: str) -> bool:
        return any(e.entry.reference == reference for e in self.s.entries)

    def owed(self, account: str, currency: str, limit: int = 50) -> list[tuple[str, Money]]:
        found = []
        for e in self.s.entries:
            reference = e.entry.reference
            if reference is None or e.entry.currency != currency:
                continue
            if self.has_reference(f"{reference}:settled"):
                continue
            for p in e.entry.postings:
                if p.account == account and p.amount.minor < 0:
                    found.append((reference, Money(-p.amount.minor, currency)))
        return found[:limit]

    def entry_count(self) -> int:
        return len(self.s.entries)

    def balance(self, account: str, currency: str = "KES") -> Money:
        return Money(self.s.balances.get((account, currency), 0), currency)

    def balances(self) -> dict[tuple[str, str], int]:
        return dict(self.s.balances)

    def verify(self) -> list[str]:
        problems = []
        totals: dict[str, int] = {}
        for (name, currency), minor in self.s.balances.items():
            posted = sum(
                p.amount.minor
                for e in self.s.entries
                for p in e.entry.postings
                if p.account == name and e.entry.currency == currency
            )
            if posted != minor:
                problems.append(
                    f"{name} ({currency}) shows {minor} but its postings sum to {posted}"
                )
            if acc.must_stay_non_negative(name) and minor < 0:
                problems.append(f"{name} ({currency}) is negative")
            totals[currency] = totals.get(currency, 0) + minor
        return problems + [f"{c} balances sum to {t}, not zero" for c, t in totals.items() if t]


class FakeAudit(_Repo):
    def append(self, actor: str, action: str, payload: dict[str, Any], at: datetime) -> int:
        (seq,) = self.append_many(actor, [(action, payload)], at)
        return seq

    def append_many(
        self, actor: str, records: list[tuple[str, dict[str, Any]]], at: datetime
    ) -> list[int]:
        seqs = []
        for action, payload in records:
            seq, last = self.head()
            record = next_record(seq, last, at, actor, action, payload)
            self.s.audit.append(replace(record, signature="fake", key_id="fake"))
            seqs.append(record.seq)
        return seqs

    def head(self) -> tuple[int, str]:
        last = self.s.audit[-1] if self.s.audit else None
        return (last.seq, last.hash) if last else (0, GENESIS_HASH)

    def records(self, batch: int = 5000, after: int = 0) -> Iterator[AuditRecord]:
        return iter([r for r in self.s.audit if r.seq > after])

    def count(self) -> int:
        return len(self.s.audit)

    def actions(self) -> list[str]:
        """Test helper: every action recorded, in order."""
        return [r.action for r in self.s.audit]


# --- collections and transfers ---------------------------------------------------------


class FakeCollections(_Repo):
    def add(self, collection: Collection) -> Collection:
        self._unique(collection)
        stored = replace(collection, id=self.s.new_id())
        self.s.collections[stored.id or 0] = stored
        return stored

    def _unique(self, c: Collection) -> None:
        for other in self.s.collections.values():
            if other.id == c.id:
                continue
            same = other.provider == c.provider
            if (
                other.reference == c.reference
                or (
                    same
                    and c.provider_reference
                    and other.provider_reference == c.provider_reference
                )
                or (
                    same
                    and c.provider_request_id
                    and other.provider_request_id == c.provider_request_id
                )
            ):
                raise ValueError(f"unique constraint: collection {c.reference}")

    def add_many(self, items: Sequence[Collection]) -> list[Collection]:
        return [self.add(item) for item in items]

    def _all(self) -> list[Collection]:
        return sorted(self.s.collections.values(), key=lambda c: c.id or 0)

    def get(self, collection_id: int) -> Collection | None:
        return self.s.collections.get(collection_id)

    def by_reference(self, reference: str) -> Collection | None:
        return next((c for c in self._all() if c.reference == reference), None)

    def named(self, provider: str, key: str) -> Collection | None:
        return next(
            (
                c
                for c in self._all()
                if c.provider == provider and key in (c.reference, c.provider_request_id)
            ),
            None,
        )

    def by_provider_request(self, provider: str, request_id: str) -> Collection | None:
        return next(
            (
                c
                for c in self._all()
                if (c.provider, c.provider_request_id) == (provider, request_id)
            ),
            None,
        )

    def by_provider_reference(self, provider: str, reference: str) -> Collection | None:
        return next(
            (c for c in self._all() if (c.provider, c.provider_reference) == (provider, reference)),
            None,
        )

    def unnamed(
        self, provider: str, msisdn: str, amount: Money, since: datetime
    ) -> list[Collection]:
        return [
            c
            for c in self._all()
            if (c.provider, c.msisdn, c.amount.minor, c.origin)
            == (provider, msisdn, amount.minor, "request")
            and c.provider_request_id is None
            and c.created_at >= since
            and c.state in (*OPEN_COLLECTIONS, C.EXPIRED)
        ]

    def possible_owners(
        self,
        collection: Collection,
        earliest: datetime,
        latest: datetime,
        *,
        before: timedelta,
        settled: timedelta,
    ) -> int:
        def receiptless(c: Collection) -> bool:
            return (
                c.state is C.SUCCEEDED
                and (c.provider_reference is None or c.provider_reference == c.provider_request_id)
                and c.updated_at >= earliest - before
            )

        return sum(
            1
            for c in self._all()
            if (c.provider, c.msisdn, c.amount.minor)
            == (collection.provider, collection.msisdn, collection.amount.minor)
            and c.id != collection.id
            and c.origin == "request"
            and c.created_at <= latest + before
            and (c.sent_at or c.created_at) >= earliest - settled
            and (c.state in (*OPEN_COLLECTIONS, C.EXPIRED) or receiptless(c))
        )

    def ask_now(
        self,
        collection_id: int,
        at: datetime,
        states: Sequence[CollectionState],
        *,
        afresh: bool = False,
    ) -> bool:
        c = self.s.collections.get(collection_id)
        if (
            c is None
            or c.state not in states
            or (c.next_check_at is not None and c.next_check_at <= at)
        ):
            return False
        self.s.collections[collection_id] = replace(
            c, next_check_at=at, attempts=0 if afresh else c.attempts
        )
        return True

    def paid_without_receipt(
        self, provider: str, msisdn: str, amount: Money, since: datetime, until: datetime
    ) -> int:
        return sum(
            1
            for c in self._all()
            if (c.provider, c.msisdn, c.amount.minor, c.origin)
            == (provider, msisdn, amount.minor, "request")
            and c.state is C.SUCCEEDED
            and since <= c.created_at <= until
            and (c.provider_reference is None or c.provider_reference == c.provider_request_id)
        )

    def open_total(self, provider: str) -> int:
        return sum(
            c.amount.minor
            for c in self._all()
            if c.provider == provider and c.state in OPEN_COLLECTIONS
        )

    def save(self, collection: Collection, was: CollectionState) -> bool:
        assert collection.id is not None
        stored = self.s.collections.get(collection.id)
        if stored is None or stored.state is not was:
            return False
        self._unique(collection)
        self.s.collections[collection.id] = replace(
            collection, provider_message=(collection.provider_message or "")[:500] or None
        )
        return True

    def matching(self, wanted: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], Collection]:
        found: dict[tuple[str, str], Collection] = {}
        for c in self._all():
            for key in (c.reference, c.provider_request_id):
                if key is not None and key in wanted.get(c.provider, ()):
                    found.setdefault((c.provider, key), c)
        return found

    def save_many(self, items: Sequence[tuple[Collection, CollectionState]]) -> set[int]:
        written = set()
        for item, was in items:
            if self.save(item, was):
                written.add(item.id or 0)
        return written

    def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[Collection]:
        due = [
            c
            for c in self._all()
            if c.state in (*OPEN_COLLECTIONS, C.FAILED, C.EXPIRED)
            and c.next_check_at is not None
            and c.next_check_at <= now
        ]
        due.sort(key=lambda c: (c.next_check_at or now, c.id or 0))
        claimed = [replace(c, next_check_at=now + lease) for c in due[:limit]]
        for c in claimed:
            self.s.collections[c.id or 0] = c
        return claimed

    def oldest_open(self) -> datetime | None:
        return min(
            (c.created_at for c in self._all() if c.state in (C.PENDING, C.UNKNOWN)), default=None
        )


class FakeTransfers(_Repo):
    def _all(self) -> list[Transfer]:
        return sorted(self.s.transfers.values(), key=lambda x: x.id or 0)

    def _clash(self, x: Transfer) -> bool:
        def live(t: Transfer) -> bool:
            return t.trigger == "auto" and t.fallback_of is None and t.state is not T.FAILED

        for other in self._all():
            if other.id == x.id:
                continue
            if other.reference == x.reference:
                return True
            if (
                live(x)
                and live(other)
                and (other.provider, other.business_day, other.sequence)
                == (
                    x.provider,
                    x.business_day,
                    x.sequence,
                )
            ):
                return True
        return False

    def add(self, transfer: Transfer) -> Transfer | None:
        if self._clash(transfer):
            return None
        stored = replace(transfer, id=self.s.new_id())
        self.s.transfers[stored.id or 0] = stored
        return stored

    def get(self, transfer_id: int) -> Transfer | None:
        return self.s.transfers.get(transfer_id)

    def by_reference(self, reference: str, *, for_update: bool = False) -> Transfer | None:
        return next((x for x in self._all() if x.reference == reference), None)

    def by_provider_request(self, provider: str, request_id: str) -> Transfer | None:
        return next(
            (
                x
                for x in self._all()
                if x.provider == provider and request_id in (x.provider_request_id, x.reference)
            ),
            None,
        )

    def ask_now(self, transfer_id: int, at: datetime, states: Sequence[TransferState]) -> bool:
        x = self.s.transfers.get(transfer_id)
        if (
            x is None
            or x.state not in states
            or (x.next_check_at is not None and x.next_check_at <= at)
        ):
            return False
        self.s.transfers[transfer_id] = replace(x, next_check_at=at)
        return True

    def claim_resend(self, transfer: Transfer, at: datetime) -> bool:
        x = self.s.transfers.get(transfer.id or 0)
        if x is None or x.attempts != transfer.attempts or x.state is not transfer.state:
            return False
        self.s.transfers[x.id or 0] = replace(x, updated_at=at)
        return True

    def save(self, transfer: Transfer, was: TransferState) -> bool:
        assert transfer.id is not None
        stored = self.s.transfers.get(transfer.id)
        if stored is None or stored.state is not was:
            return False
        if self._clash(transfer):
            raise ValueError(f"unique constraint: transfer {transfer.reference}")
        self.s.transfers[transfer.id] = replace(
            transfer, provider_message=(transfer.provider_message or "")[:500] or None
        )
        return True

    def latest(
        self, provider: str, *, trigger: str | None = None, day: date | None = None
    ) -> Transfer | None:
        found = [
            x
            for x in self._all()
            if x.provider == provider
            and (trigger is None or x.trigger == trigger)
            and (day is None or x.business_day == day)
        ]
        return found[-1] if found else None

    def _auto(self, provider: str, day: date) -> list[Transfer]:
        return [
            x
            for x in self._all()
            if (x.provider, x.business_day, x.trigger) == (provider, day, "auto")
            and x.fallback_of is None
        ]

    def covered_chunks(self, provider: str, day: date) -> set[int]:
        def carried(own: Transfer) -> bool:
            return any(f.fallback_of == own.id and f.state is not T.FAILED for f in self._all())

        return {
            x.sequence or 0
            for x in self._auto(provider, day)
            if x.state is not T.FAILED or carried(x)
        }

    def latest_failed_auto(self, provider: str, day: date) -> Transfer | None:
        failed = [x for x in self._auto(provider, day) if x.state is T.FAILED]
        return max(failed, key=lambda x: x.updated_at) if failed else None

    def failed_auto_attempts(self, provider: str, day: date, sequence: int) -> int:
        return sum(
            1 for x in self._auto(provider, day) if x.sequence == sequence and x.state is T.FAILED
        )

    def days_with_refused_chunks(self, provider: str, before: date) -> list[date]:
        def covered(own: Transfer) -> bool:
            return any(
                (x.provider, x.business_day, x.sequence, x.trigger)
                == (own.provider, own.business_day, own.sequence, "auto")
                and x.state is not T.FAILED
                for x in self._all()
            )

        return sorted(
            {
                x.business_day
                for x in self._all()
                if x.provider == provider
                and x.business_day < before
                and x.trigger == "auto"
                and x.fallback_of is None
                and x.state is T.FAILED
                and not covered(x)
            }
        )

    def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[Transfer]:
        due = [
            x
            for x in self._all()
            if x.state in OPEN_TRANSFERS and (x.next_check_at is None or x.next_check_at <= now)
        ][:limit]
        claimed = [replace(x, next_check_at=now + lease, attempts=x.attempts + 1) for x in due]
        for x in claimed:
            self.s.transfers[x.id or 0] = x
        return claimed

    def fee_unknown(self, provider: str, limit: int, now: datetime) -> list[Transfer]:
        return [
            x
            for x in self._all()
            if x.provider == provider
            and x.state is T.SUCCEEDED
            and x.fee is None
            and (x.next_check_at is None or x.next_check_at <= now)
        ][:limit]

    def settled_total(self, provider: str, day: date) -> int:
        return sum(
            x.amount.minor
            for x in self._all()
            if (x.provider, x.business_day, x.state) == (provider, day, T.SUCCEEDED)
        )

    def open_count(self) -> int:
        return sum(1 for x in self._all() if x.state in OPEN_TRANSFERS)

    def reserved_total(self, provider: str) -> int:
        return sum(
            x.amount.minor
            for x in self._all()
            if x.provider == provider and x.state in OPEN_TRANSFERS
        )


# --- callbacks, totals, coordination ---------------------------------------------------


class FakeInbox(_Repo):
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
        event_id = event_id[:200]
        if any((r.provider, r.event_id) == (provider, event_id) for r in self.s.inbox.values()):
            return None
        row = InboxRow(self.s.new_id(), provider, kind, event_id, at, body, status, reason)
        self.s.inbox[row.id] = row
        return row.id

    def add_many(self, rows: Sequence[tuple[str, str, str, str]], at: datetime) -> list[bool]:
        return [self.add(p, k, e, b, at) is not None for p, k, e, b in rows]

    def body_of(self, provider: str, event_id: str) -> str | None:
        return next(
            (
                r.body
                for r in self.s.inbox.values()
                if (r.provider, r.event_id) == (provider, event_id)
            ),
            None,
        )

    def claim(self, limit: int) -> list[InboxItem]:
        rows = sorted(
            (r for r in self.s.inbox.values() if r.status == "received"), key=lambda r: r.id
        )
        return [
            InboxItem(r.id, r.provider, r.kind, r.event_id, r.received_at, r.body, r.attempts)
            for r in rows[:limit]
        ]

    def mark(self, item_id: int, status: str, reason: str | None = None) -> None:
        self.mark_many([Mark(item_id, status, reason)])

    def mark_many(self, marks: Sequence[Mark]) -> None:
        for m in marks:
            row = self.s.inbox[m.item_id]
            row.status, row.reason, row.attempts = (
                m.status,
                (m.reason or "")[:64] or None,
                m.attempts,
            )

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for r in self.s.inbox.values():
            found[r.status] = found.get(r.status, 0) + 1
        return found

    def rejected_since(self, since: datetime) -> int:
        return sum(
            1 for r in self.s.inbox.values() if r.status == "rejected" and r.received_at >= since
        )

    def rows(self) -> list[InboxRow]:
        """Test helper: every stored callback, oldest first."""
        return sorted(self.s.inbox.values(), key=lambda r: r.id)


class FakeTotals(_Repo):
    def add(
        self,
        day: date,
        hour: int,
        provider: str,
        stream: str,
        currency: str,
        amount_minor: int,
        payments: int = 1,
    ) -> None:
        key = (day, hour, provider, stream)
        _, total, count = self.s.totals.get(key, (currency, 0, 0))
        self.s.totals[key] = (currency, total + amount_minor, count + payments)

    def add_many(self, rows: Sequence[tuple[date, int, str, str, str, int]]) -> None:
        for day, hour, provider, stream, currency, amount in rows:
            self.add(day, hour, provider, stream, currency, amount)

    def by_stream(self, day: date, provider: str | None = None) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        for (d, _, p, s), (_, total, _) in self.s.totals.items():
            if d == day and provider in (None, p):
                found[(p, s)] = found.get((p, s), 0) + total
        return found

    def by_hour(self, day: date) -> dict[tuple[str, int], int]:
        found: dict[tuple[str, int], int] = {}
        for (d, h, p, _), (_, total, _) in self.s.totals.items():
            if d == day:
                found[(p, h)] = found.get((p, h), 0) + total
        return found

    def open_days(self, provider: str, before: date) -> list[date]:
        closed = {
            c.business_day for c, _ in self.s.closes if c.provider == provider and c.kind == "close"
        }
        return sorted({d for d, _, p, _ in self.s.totals if p == provider and d < before} - closed)

    def payments(self, day: date, provider: str) -> int:
        return sum(
            n for (d, _, p, _), (_, _, n) in self.s.totals.items() if (d, p) == (day, provider)
        )

    def add_close(self, close: Close, actor: str) -> bool:
        if close.kind == "close" and self.close_of(close.provider, close.business_day):
            return False
        self.s.closes.append((close, actor))
        return True

    def closes(self, provider: str, day: date) -> list[Close]:
        return [c for c, _ in self.s.closes if (c.provider, c.business_day) == (provider, day)]

    def close_of(self, provider: str, day: date) -> Close | None:
        return next((c for c in self.closes(provider, day) if c.kind == "close"), None)

    def last_reset(self, provider: str, day: date) -> Close | None:
        resets = [c for c in self.closes(provider, day) if c.kind == "reset"]
        return resets[-1] if resets else None


class FakeSlots(_Repo):
    def claim(self, job: str, slot: str, owner: str, at: datetime) -> bool:
        if (job, slot) in self.s.slots:
            return False
        self.s.slots.add((job, slot))
        return True


class FakeNotifications(_Repo):
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
        if dedupe_key is not None and any(k == dedupe_key for _, k in self.s.notifications):
            return False
        payload = json.loads(json.dumps(payload or {}, sort_keys=True))  # as stored
        note = Notification(self.s.new_id(), kind, provider, message, payload, at, None)
        self.s.notifications.append((note, dedupe_key))
        return True

    def recent(self, limit: int = 50) -> list[Notification]:
        return [n for n, _ in reversed(self.s.notifications)][:limit]

    def undelivered(self, limit: int = 100) -> list[Notification]:
        return [n for n, _ in self.s.notifications if n.delivered_at is None][:limit]

    def delivered(self, notification_id: int, at: datetime) -> None:
        self.s.notifications = [
            (replace(n, delivered_at=at) if n.id == notification_id else n, k)
            for n, k in self.s.notifications
        ]

    def kinds(self) -> list[str]:
        """Test helper: the kinds of every notification, oldest first."""
        return [n.kind for n, _ in self.s.notifications]


class FakeIdempotency(_Repo):
    def reserve(self, scope: str, key: str, request_hash: str, at: datetime) -> StoredAnswer | None:
        if (scope, key) in self.s.idempotency:
            return self.s.idempotency[(scope, key)]
        self.s.idempotency[(scope, key)] = StoredAnswer(request_hash, None, None)
        return None

    def complete(self, scope: str, key: str, status_code: int, body: str) -> None:
        if (scope, key) in self.s.idempotency:
            was = self.s.idempotency[(scope, key)]
            self.s.idempotency[(scope, key)] = StoredAnswer(was.request_hash, status_code, body)

    def release(self, scope: str, key: str) -> None:
        self.s.idempotency.pop((scope, key), None)


class FakeDeliveries(_Repo):
    def fan_out(self, channels: Sequence[str], since: datetime, at: datetime) -> int:
        added = 0
        for channel in channels:
            for note, _ in self.s.notifications:
                if note.created_at < since or any(
                    (d.notification_id, d.channel) == (note.id, channel)
                    for d in self.s.deliveries.values()
                ):
                    continue
                row = DeliveryRow(self.s.new_id(), note.id, channel, "pending", 0, at)
                self.s.deliveries[row.id] = row
                added += 1
        return added

    def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
        due = sorted(
            (
                d
                for d in self.s.deliveries.values()
                if d.status == "pending"
                and d.next_attempt_at is not None
                and d.next_attempt_at <= now
            ),
            key=lambda d: (d.next_attempt_at or now, d.id),
        )[:limit]
        notes = {n.id: n for n, _ in self.s.notifications}
        for d in due:
            d.next_attempt_at = now + lease
        return [Delivery(d.id, notes[d.notification_id], d.channel, d.attempts) for d in due]

    def delivered(self, delivery_id: int, at: datetime) -> None:
        self._set(delivery_id, "delivered", None, None)

    def retry(self, delivery_id: int, at: datetime, when: datetime, error: str) -> None:
        self._set(delivery_id, "pending", when, error[:300])

    def failed(self, delivery_id: int, at: datetime, error: str) -> None:
        self._set(delivery_id, "failed", None, error[:300])

    def _set(self, delivery_id: int, status: str, when: datetime | None, error: str | None) -> None:
        d = self.s.deliveries[delivery_id]
        d.attempts += 1
        d.status, d.last_error = status, error
        if status != "delivered":
            d.next_attempt_at = when

    def counts(self) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        for d in self.s.deliveries.values():
            found[(d.channel, d.status)] = found.get((d.channel, d.status), 0) + 1
        return found

    def for_notification(self, notification_id: int) -> dict[str, tuple[str, int, str | None]]:
        return {
            d.channel: (d.status, d.attempts, d.last_error)
            for d in self.s.deliveries.values()
            if d.notification_id == notification_id
        }


# --- keys, vault, meta, observations, history ------------------------------------------


class FakeKeys(_Repo):
    def add(self, key: StoredKey) -> None:
        if key.key_id in self.s.keys:
            raise ValueError(f"unique constraint: key {key.key_id}")
        self.s.keys[key.key_id] = replace(key, revoked_at=None)

    def get(self, key_id: str) -> StoredKey | None:
        return self.s.keys.get(key_id)

    def all(self) -> list[StoredKey]:
        return sorted(self.s.keys.values(), key=lambda k: k.created_at)

    def revoke(self, key_id: str, at: datetime) -> bool:
        key = self.s.keys.get(key_id)
        if key is None or key.revoked_at is not None:
            return False
        self.s.keys[key_id] = replace(key, revoked_at=at)
        return True


class FakeVault(_Repo):
    def put(self, name: str, key_id: str, sealed: bytes, at: datetime) -> None:
        self.s.vault[name] = StoredSecret(name, key_id, sealed, at)

    def remove(self, name: str) -> bool:
        return self.s.vault.pop(name, None) is not None

    def all(self, *, for_update: bool = False) -> list[StoredSecret]:
        return [self.s.vault[name] for name in sorted(self.s.vault)]


class FakeMeta(_Repo):
    def get(self, key: str) -> str | None:
        return self.s.meta.get(key)

    def put(self, key: str, value: str | None) -> None:
        if value is None:
            self.s.meta.pop(key, None)
        else:
            self.s.meta[key] = value

    def set_once(self, key: str, value: str) -> str:
        return self.s.meta.setdefault(key, value)


class FakeObserved(_Repo):
    def collections(self) -> dict[tuple[str, str, str], int]:
        found: dict[tuple[str, str, str], int] = {}
        for c in self.s.collections.values():
            key = (c.provider, c.stream.value, c.state.value)
            found[key] = found.get(key, 0) + 1
        return found

    def transfers(self) -> dict[tuple[str, str, str], int]:
        found: dict[tuple[str, str, str], int] = {}
        for x in self.s.transfers.values():
            key = (x.provider, x.trigger, x.state.value)
            found[key] = found.get(key, 0) + 1
        return found

    def rejected_callbacks(self) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        for r in self.s.inbox.values():
            if r.status == "rejected":
                key = (r.provider, r.reason or "unknown")
                found[key] = found.get(key, 0) + 1
        return found

    def oldest_open(self) -> dict[str, datetime | None]:
        s = self.s
        return {
            "collection": min(
                (c.created_at for c in s.collections.values() if c.state in OPEN_COLLECTIONS),
                default=None,
            ),
            "transfer": min(
                (x.created_at for x in s.transfers.values() if x.state in OPEN_TRANSFERS),
                default=None,
            ),
            "callback": min(
                (r.received_at for r in s.inbox.values() if r.status == "received"), default=None
            ),
        }

    def version(self) -> str:
        s = self.s
        entry = max((e.id for e in s.entries), default=0)
        moved = max((x.updated_at for x in s.transfers.values()), default=None)
        note = max((n.id for n, _ in s.notifications), default=0)
        return f"{entry}:{moved.isoformat() if moved else '-'}:{note}"


class FakeHistory(_Repo):
    def page(
        self, where: HistoryFilter, limit: int, cursor: tuple[datetime, str, int] | None
    ) -> list[HistoryRow]:
        rows = [
            HistoryRow(c.id or 0, "collection", None, c.stream.value, c.amount.minor,
                       c.amount.currency, c.state.value, c.msisdn, c.provider_reference,
                       c.reference, c.created_at, c.reason)
            for c in self.s.collections.values() if c.provider == where.provider
        ] + [
            HistoryRow(x.id or 0, "transfer", x.trigger, None, x.amount.minor, x.amount.currency,
                       x.state.value, x.msisdn, x.provider_reference, x.reference, x.created_at,
                       x.reason)
            for x in self.s.transfers.values() if x.provider == where.provider
        ] + [
            HistoryRow(e.id, "fee", None, None, e.entry.amount.minor, e.entry.currency,
                       "succeeded", None, None, e.entry.reference or "", e.recorded_at, None)
            for e in self.s.entries
            if e.entry.provider == where.provider and e.entry.kind.value == "fee"
        ]  # fmt: skip

        def keep(r: HistoryRow) -> bool:
            return (
                (where.kind is None or r.kind == where.kind)
                and (where.stream is None or (r.kind == "collection" and r.stream == where.stream))
                and (where.since is None or r.created_at >= where.since)
                and (where.until is None or r.created_at < where.until)
                and (where.status is None or r.status == where.status)
                and (cursor is None or (r.created_at, r.kind, r.id) < cursor)
            )

        found = sorted(filter(keep, rows), key=lambda r: (r.created_at, r.kind, r.id), reverse=True)
        return found[:limit]


# --- the unit of work ------------------------------------------------------------------


class FakeUnitOfWork:
    """One transaction over a private copy of the store's state."""

    state: State
    now: datetime

    def __init__(self, store: FakeStore, *, read_only: bool) -> None:
        self._store = store
        self._read_only = read_only
        self.ledger = FakeLedger(self)
        self.audit = FakeAudit(self)
        self.collections = FakeCollections(self)
        self.transfers = FakeTransfers(self)
        self.inbox = FakeInbox(self)
        self.totals = FakeTotals(self)
        self.slots = FakeSlots(self)
        self.notifications = FakeNotifications(self)
        self.idempotency = FakeIdempotency(self)
        self.observed = FakeObserved(self)
        self.meta = FakeMeta(self)
        self.keys = FakeKeys(self)
        self.vault = FakeVault(self)
        self.deliveries = FakeDeliveries(self)
        self.history = FakeHistory(self)

    def __enter__(self) -> Self:
        self.state = copy.deepcopy(self._store.state)
        self.now = self._store.clock.now()
        self._store.opened += 1
        return self

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        kept = copy.deepcopy(self.state)
        try:
            yield
        except BaseException:
            self.state = kept
            raise

    def commit(self) -> None:
        if self._read_only:  # the store refuses writes in a read-only transaction
            assert self.state == self._store.state, "a read-only unit of work wrote"
            return
        self._store.state = copy.deepcopy(self.state)
        self._store.commits += 1

    def rollback(self) -> None:
        self.state = copy.deepcopy(self._store.state)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()


class FakeStore:
    """The committed state, and the factory of units of work over it
    (:class:`~qmoi.services.ports.UnitOfWorkFactory`)."""

    def __init__(self, clock: Clock | None = None, tz: ZoneInfo | None = None) -> None:
        self.clock = clock or ManualClock(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
        self.tz = tz or ZoneInfo("Africa/Nairobi")
        self.state = State()
        self.opened = 0
        self.commits = 0

    def __call__(self, *, read_only: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self, read_only=read_only)

    def read(self) -> FakeUnitOfWork:
        """Test helper: a unit of work to look at the committed state (``with`` it)."""
        return self(read_only=True)


def _conforms(store: FakeStore) -> UnitOfWorkFactory:
    """mypy checks here that the fake is built to the ports."""
    return store
