"""Collections as stored: what we asked customers to pay, and what became of it.

Saving is a compare-and-set on the previous state (``UPDATE … WHERE state = :was``):
when two processes try to move the same collection, exactly one succeeds and the other
is told, so a payment is booked once. Due collections are claimed with ``FOR UPDATE
SKIP LOCKED`` and a lease (``next_check_at`` pushed forward), so any number of workers
share the enquiries without a leader and nothing waits on a provider call inside a
database transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from qmoi.db import tables as t
from qmoi.domain.collection import Collection
from qmoi.domain.money import Money
from qmoi.domain.states import CollectionState
from qmoi.domain.streams import StreamKey


def _collection(row: Row[Any]) -> Collection:
    return Collection(
        id=row.id,
        reference=row.reference,
        provider=row.provider,
        msisdn=row.msisdn,
        amount=Money(int(row.amount_minor), row.currency),
        stream=StreamKey(row.stream),
        state=CollectionState(row.state),
        created_at=row.created_at,
        updated_at=row.updated_at,
        sandbox=row.sandbox,
        origin=row.origin,
        account_reference=row.account_reference,
        provider_request_id=row.provider_request_id,
        provider_reference=row.provider_reference,
        reason=row.reason,
        provider_code=row.provider_code,
        provider_message=row.provider_message,
        next_check_at=row.next_check_at,
        attempts=row.attempts,
        entry_id=row.entry_id,
        sent_at=row.sent_at,
    )


def _collection_values(c: Collection) -> dict[str, Any]:
    return {
        "reference": c.reference,
        "provider": c.provider,
        "provider_request_id": c.provider_request_id,
        "provider_reference": c.provider_reference,
        "msisdn": c.msisdn,
        "amount_minor": c.amount.minor,
        "currency": c.amount.currency,
        "stream": c.stream.value,
        "account_reference": c.account_reference,
        "state": c.state.value,
        "reason": c.reason,
        "provider_code": c.provider_code,
        "provider_message": (c.provider_message or "")[:500] or None,
        "origin": c.origin,
        "sandbox": c.sandbox,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "next_check_at": c.next_check_at,
        "attempts": c.attempts,
        "entry_id": c.entry_id,
        "sent_at": c.sent_at,
    }


class CollectionRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, collection: Collection) -> Collection:
        new_id = self._session.execute(
            insert(t.collections)
            .values(_collection_values(collection))
            .returning(t.collections.c.id)
        ).scalar_one()
        return replace(collection, id=new_id)

    def add_many(self, items: Sequence[Collection]) -> list[Collection]:
        return [self.add(item) for item in items]

    def get(self, collection_id: int) -> Collection | None:
        row = self._session.execute(
            select(t.collections).where(t.collections.c.id == collection_id)
        ).first()
        return _collection(row) if row else None

    def by_reference(self, reference: str) -> Collection | None:
        row = self._session.execute(
            select(t.collections).where(t.collections.c.reference == reference)
        ).first()
        return _collection(row) if row else None

    def named(self, provider: str, key: str) -> Collection | None:
        """``provider``'s collection that ``key`` names — our reference or the provider's
        request id, as a callback names it; never another provider's."""
        c = t.collections.c
        row = self._session.execute(
            select(t.collections)
            .where(c.provider == provider, or_(c.reference == key, c.provider_request_id == key))
            .order_by(c.id)
            .limit(1)
        ).first()
        return _collection(row) if row else None

    def by_provider_request(self, provider: str, request_id: str) -> Collection | None:
        row = self._session.execute(
            select(t.collections).where(
                t.collections.c.provider == provider,
                t.collections.c.provider_request_id == request_id,
            )
        ).first()
        return _collection(row) if row else None

    def by_provider_reference(self, provider: str, reference: str) -> Collection | None:
        row = self._session.execute(
            select(t.collections).where(
                t.collections.c.provider == provider,
                t.collections.c.provider_reference == reference,
            )
        ).first()
        return _collection(row) if row else None

    def unnamed(
        self, provider: str, msisdn: str, amount: Money, since: datetime
    ) -> list[Collection]:
        """Our pushes for that number and amount created since ``since`` that the
        provider never named (no request id came back) and that are not paid: only the
        statement can tell whether they were."""
        c = t.collections.c
        rows = self._session.execute(
            select(t.collections).where(
                c.provider == provider,
                c.msisdn == msisdn,
                c.amount_minor == amount.minor,
                c.origin == "request",
                c.provider_request_id.is_(None),
                c.created_at >= since,
                c.state.in_(
                    [
                        CollectionState.REQUESTED.value,
                        CollectionState.PENDING.value,
                        CollectionState.UNKNOWN.value,
                        CollectionState.EXPIRED.value,
                    ]
                ),
            )
        )
        return [_collection(r) for r in rows]

    def possible_owners(
        self,
        collection: Collection,
        earliest: datetime,
        latest: datetime,
        *,
        before: timedelta,
        settled: timedelta,
    ) -> int:
        """The other requests for ``collection``'s number and amount that a statement
        payment made between ``earliest`` and ``latest`` could belong to: one asked for
        no later than ``before`` after it (the clocks may differ that much) whose prompt,
        from when its push last went out, ran until it (``settled``) — and open, given
        up on (expired), or paid without the provider naming a receipt (an STK query
        names none) and confirmed after the payment was made. Failed ones cannot (the
        provider said no money moved), nor ones paid under a receipt of their own."""
        c = t.collections.c
        receiptless = and_(
            c.state == CollectionState.SUCCEEDED.value,
            or_(c.provider_reference.is_(None), c.provider_reference == c.provider_request_id),
            # paid before the provider confirmed it (a success is final: its last update)
            c.updated_at >= earliest - before,
        )
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(t.collections)
                .where(
                    c.provider == collection.provider,
                    c.msisdn == collection.msisdn,
                    c.amount_minor == collection.amount.minor,
                    c.id != collection.id,
                    c.origin == "request",
                    c.created_at <= latest + before,
                    func.coalesce(c.sent_at, c.created_at) >= earliest - settled,
                    or_(
                        c.state.in_(
                            [
                                CollectionState.REQUESTED.value,
                                CollectionState.PENDING.value,
                                CollectionState.UNKNOWN.value,
                                CollectionState.EXPIRED.value,
                            ]
                        ),
                        receiptless,
                    ),
                )
            )
            or 0
        )

    def ask_now(
        self,
        collection_id: int,
        at: datetime,
        states: Sequence[CollectionState],
        *,
        afresh: bool = False,
    ) -> bool:
        """Bring the next check of a collection in one of ``states`` forward to ``at``
        (never later than it was); only that column is written — and the enquiry count,
        started again when ``afresh`` — so a concurrent change to the collection's other
        fields is not undone."""
        c = t.collections.c
        values: dict[str, Any] = {"next_check_at": at}
        if afresh:
            values["attempts"] = 0
        result = self._session.execute(
            update(t.collections)
            .where(
                c.id == collection_id,
                c.state.in_([state.value for state in states]),
                or_(c.next_check_at.is_(None), c.next_check_at > at),
            )
            .values(values)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def paid_without_receipt(
        self, provider: str, msisdn: str, amount: Money, since: datetime, until: datetime
    ) -> int:
        """Paid requests for that number and amount, made between ``since`` and
        ``until``, whose receipt the provider never named (an STK query names none):
        statement lines of that number and amount may be theirs."""
        c = t.collections.c
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(t.collections)
                .where(
                    c.provider == provider,
                    c.msisdn == msisdn,
                    c.amount_minor == amount.minor,
                    c.origin == "request",
                    c.state == CollectionState.SUCCEEDED.value,
                    c.created_at >= since,
                    c.created_at <= until,
                    or_(
                        c.provider_reference.is_(None),
                        c.provider_reference == c.provider_request_id,
                    ),
                )
            )
            or 0
        )

    def open_total(self, provider: str) -> int:
        """Minor units of ``provider``'s collections not finished yet (money that may
        have arrived without our knowing)."""
        c = t.collections.c
        return int(
            self._session.scalar(
                select(func.coalesce(func.sum(c.amount_minor), 0)).where(
                    c.provider == provider,
                    c.state.in_(
                        [
                            CollectionState.REQUESTED.value,
                            CollectionState.PENDING.value,
                            CollectionState.UNKNOWN.value,
                        ]
                    ),
                )
            )
            or 0
        )

    def save(self, collection: Collection, was: CollectionState) -> bool:
        """Write ``collection`` if its stored state is still ``was``; False otherwise."""
        assert collection.id is not None  # noqa: S101 - saved items were loaded
        values = _collection_values(collection)
        result = self._session.execute(
            update(t.collections)
            .where(t.collections.c.id == collection.id, t.collections.c.state == was.value)
            .values(values)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def matching(self, wanted: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], Collection]:
        """The collections ``wanted`` names — per account, keys that are each our
        reference or its request id, as callbacks name them — in one query whatever the
        number of accounts; keys that name none are left out."""
        pairs = {(account, key) for account, keys in wanted.items() for key in keys}
        if not pairs:
            return {}
        keys = list({key for _, key in pairs})
        c = t.collections.c
        rows = self._session.execute(
            select(t.collections).where(
                c.provider.in_(list(wanted)),
                or_(c.reference.in_(keys), c.provider_request_id.in_(keys)),
            )
        )
        found: dict[tuple[str, str], Collection] = {}
        for row in rows:
            collection = _collection(row)
            for key in (collection.reference, collection.provider_request_id):
                if key is not None and (collection.provider, key) in pairs:
                    found.setdefault((collection.provider, key), collection)
        return found

    def save_many(self, items: Sequence[tuple[Collection, CollectionState]]) -> set[int]:
        """:meth:`save` for many: each written only if its stored state is still the one
        given; returns the ids written.

        The rows still in their given state are locked (in id order, so concurrent
        writers cannot deadlock; SQLite writers are serialised already), then written by
        id in one executemany. Both statements keep one shape whatever the batch: a
        single UPDATE with a CASE per changed column took a new shape for every batch
        size and mix of columns, each compiled and kept in SQLAlchemy's statement cache,
        and under sustained load that cache grew every process by hundreds of MB.
        """
        if not items:
            return set()
        c = t.collections.c
        locked: set[int] = set(
            self._session.scalars(
                select(c.id)
                .where(tuple_(c.id, c.state).in_([(item.id, was.value) for item, was in items]))
                .order_by(c.id)
                .with_for_update()
            )
        )
        rows = [
            {"item_id": item.id, **_collection_values(item)}
            for item, _ in items
            if item.id in locked
        ]
        if rows:
            self._session.connection().execute(
                update(t.collections).where(c.id == bindparam("item_id")), rows
            )
        return locked

    def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[Collection]:
        """Collections whose next check is due, leased to the caller: unfinished ones,
        and failed or expired ones a late success was reported for."""
        open_states = [
            CollectionState.REQUESTED.value,
            CollectionState.PENDING.value,
            CollectionState.UNKNOWN.value,
            CollectionState.FAILED.value,
            CollectionState.EXPIRED.value,
        ]
        ids = list(
            self._session.scalars(
                select(t.collections.c.id)
                .where(t.collections.c.state.in_(open_states), t.collections.c.next_check_at <= now)
                .order_by(t.collections.c.next_check_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        self._session.execute(
            update(t.collections)
            .where(t.collections.c.id.in_(ids))
            .values(next_check_at=now + lease)
        )
        rows = self._session.execute(select(t.collections).where(t.collections.c.id.in_(ids)))
        return [_collection(r) for r in rows]

    def oldest_open(self) -> datetime | None:
        oldest: datetime | None = self._session.scalar(
            select(func.min(t.collections.c.created_at)).where(
                t.collections.c.state.in_(
                    [CollectionState.PENDING.value, CollectionState.UNKNOWN.value]
                )
            )
        )
        return oldest
