"""Transfers as stored: what we pay the owner, and what became of it.

Saving is a compare-and-set on the previous state, as for collections
(:mod:`qmoi.db.collections`), so a transfer is settled once; an auto chunk's identity
(provider, day, sequence) and every reference are unique, so two planners cannot
reserve the same money twice. Due transfers are claimed with ``FOR UPDATE SKIP
LOCKED`` and a lease, and a re-send is claimed with a compare-and-set on the attempts
it was claimed with, so only one worker ever sends again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qmoi.db import tables as t
from qmoi.db.repositories import violates
from qmoi.domain.money import Money
from qmoi.domain.states import TransferState
from qmoi.domain.transfer import Transfer


def _transfer(row: Row[Any]) -> Transfer:
    return Transfer(
        id=row.id,
        reference=row.reference,
        provider=row.provider,
        trigger=row.trigger,
        business_day=row.business_day,
        sequence=row.sequence,
        msisdn=row.msisdn,
        amount=Money(int(row.amount_minor), row.currency),
        state=TransferState(row.state),
        actor=row.actor,
        created_at=row.created_at,
        updated_at=row.updated_at,
        sandbox=row.sandbox,
        fee=Money(int(row.fee_minor), row.currency) if row.fee_minor is not None else None,
        provider_request_id=row.provider_request_id,
        provider_reference=row.provider_reference,
        reason=row.reason,
        provider_code=row.provider_code,
        provider_message=row.provider_message,
        fallback_of=row.fallback_of,
        next_check_at=row.next_check_at,
        attempts=row.attempts,
    )


def _transfer_values(x: Transfer) -> dict[str, Any]:
    return {
        "reference": x.reference,
        "provider": x.provider,
        "trigger": x.trigger,
        "business_day": x.business_day,
        "sequence": x.sequence,
        "msisdn": x.msisdn,
        "amount_minor": x.amount.minor,
        "currency": x.amount.currency,
        "fee_minor": x.fee.minor if x.fee is not None else None,
        "state": x.state.value,
        "provider_request_id": x.provider_request_id,
        "provider_reference": x.provider_reference,
        "reason": x.reason,
        "provider_code": x.provider_code,
        "provider_message": (x.provider_message or "")[:500] or None,
        "fallback_of": x.fallback_of,
        "actor": x.actor,
        "sandbox": x.sandbox,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "next_check_at": x.next_check_at,
        "attempts": x.attempts,
    }


class TransferRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, transfer: Transfer) -> Transfer | None:
        """Insert; None when a transfer with the same identity already exists (another
        worker planned this chunk, or the same idempotency key was used)."""
        try:
            with self._session.begin_nested():
                new_id = self._session.execute(
                    insert(t.transfers)
                    .values(_transfer_values(transfer))
                    .returning(t.transfers.c.id)
                ).scalar_one()
        except IntegrityError as exc:
            if violates(exc, "uq_transfers_reference", "transfers.reference") or violates(
                exc,
                "uq_transfers_auto_chunk",
                "transfers.provider, transfers.business_day, transfers.sequence",
            ):
                return None
            raise
        return replace(transfer, id=new_id)

    def get(self, transfer_id: int) -> Transfer | None:
        row = self._session.execute(
            select(t.transfers).where(t.transfers.c.id == transfer_id)
        ).first()
        return _transfer(row) if row else None

    def by_reference(self, reference: str, *, for_update: bool = False) -> Transfer | None:
        """``for_update`` locks the row until commit (PostgreSQL; SQLite has one writer)."""
        query = select(t.transfers).where(t.transfers.c.reference == reference)
        row = self._session.execute(query.with_for_update() if for_update else query).first()
        return _transfer(row) if row else None

    def by_provider_request(self, provider: str, request_id: str) -> Transfer | None:
        row = self._session.execute(
            select(t.transfers).where(
                t.transfers.c.provider == provider,
                or_(
                    t.transfers.c.provider_request_id == request_id,
                    t.transfers.c.reference == request_id,
                ),
            )
        ).first()
        return _transfer(row) if row else None

    def ask_now(self, transfer_id: int, at: datetime, states: Sequence[TransferState]) -> bool:
        """:meth:`~qmoi.db.collections.CollectionRepository.ask_now` for a transfer."""
        x = t.transfers.c
        result = self._session.execute(
            update(t.transfers)
            .where(
                x.id == transfer_id,
                x.state.in_([state.value for state in states]),
                or_(x.next_check_at.is_(None), x.next_check_at > at),
            )
            .values(next_check_at=at)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def claim_resend(self, transfer: Transfer, at: datetime) -> bool:
        """Take the right to send ``transfer`` again: only while nobody has claimed it
        since (its attempts are still those we claimed it with) and its state is as we
        saw it. Whoever gets it marks the transfer busy now, so another worker that finds
        "no such transaction" meanwhile waits instead of sending too."""
        result = self._session.execute(
            update(t.transfers)
            .where(
                t.transfers.c.id == transfer.id,
                t.transfers.c.attempts == transfer.attempts,
                t.transfers.c.state == transfer.state.value,
            )
            .values(updated_at=at)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def save(self, transfer: Transfer, was: TransferState) -> bool:
        assert transfer.id is not None  # noqa: S101 - saved items were loaded
        result = self._session.execute(
            update(t.transfers)
            .where(t.transfers.c.id == transfer.id, t.transfers.c.state == was.value)
            .values(_transfer_values(transfer))
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def latest(
        self, provider: str, *, trigger: str | None = None, day: date | None = None
    ) -> Transfer | None:
        query = select(t.transfers).where(t.transfers.c.provider == provider)
        if trigger is not None:
            query = query.where(t.transfers.c.trigger == trigger)
        if day is not None:
            query = query.where(t.transfers.c.business_day == day)
        row = self._session.execute(query.order_by(t.transfers.c.id.desc()).limit(1)).first()
        return _transfer(row) if row else None

    def covered_chunks(self, provider: str, day: date) -> set[int]:
        """Sequences of ``provider``'s auto chunks for ``day`` that are paid, under way, or
        failed but carried on by a live fallback on the other provider."""
        own = t.transfers.alias("own")
        fallback = t.transfers.alias("fallback")
        carried = (
            select(fallback.c.id)
            .where(fallback.c.fallback_of == own.c.id, fallback.c.state != "failed")
            .exists()
        )
        return set(
            self._session.scalars(
                select(own.c.sequence).where(
                    own.c.provider == provider,
                    own.c.business_day == day,
                    own.c.trigger == "auto",
                    own.c.fallback_of.is_(None),
                    or_(own.c.state != "failed", carried),
                )
            )
        )

    def latest_failed_auto(self, provider: str, day: date) -> Transfer | None:
        row = self._session.execute(
            select(t.transfers)
            .where(
                t.transfers.c.provider == provider,
                t.transfers.c.business_day == day,
                t.transfers.c.trigger == "auto",
                t.transfers.c.fallback_of.is_(None),
                t.transfers.c.state == "failed",
            )
            .order_by(t.transfers.c.updated_at.desc())
            .limit(1)
        ).first()
        return _transfer(row) if row else None

    def days_with_refused_chunks(self, provider: str, before: date) -> list[date]:
        """Days before ``before`` with an auto chunk that failed and has not been paid
        since (nor carried by a fallback): still owed, whether or not the day is closed."""
        own = t.transfers.alias("own")
        later = t.transfers.alias("later")
        covered = (
            select(later.c.id)
            .where(
                later.c.provider == own.c.provider,
                later.c.business_day == own.c.business_day,
                later.c.sequence == own.c.sequence,
                later.c.trigger == "auto",
                later.c.state != "failed",
            )
            .exists()
        )
        return list(
            self._session.scalars(
                select(own.c.business_day)
                .where(
                    own.c.provider == provider,
                    own.c.business_day < before,
                    own.c.trigger == "auto",
                    own.c.fallback_of.is_(None),
                    own.c.state == "failed",
                    ~covered,
                )
                .distinct()
                .order_by(own.c.business_day)
            )
        )

    def failed_auto_attempts(self, provider: str, day: date, sequence: int) -> int:
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(t.transfers)
                .where(
                    t.transfers.c.provider == provider,
                    t.transfers.c.business_day == day,
                    t.transfers.c.sequence == sequence,
                    t.transfers.c.trigger == "auto",
                    t.transfers.c.fallback_of.is_(None),
                    t.transfers.c.state == "failed",
                )
            )
            or 0
        )

    def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[Transfer]:
        open_states = [
            TransferState.RESERVED.value,
            TransferState.SUBMITTED.value,
            TransferState.UNKNOWN.value,
        ]
        ids = list(
            self._session.scalars(
                select(t.transfers.c.id)
                .where(
                    t.transfers.c.state.in_(open_states),
                    or_(t.transfers.c.next_check_at.is_(None), t.transfers.c.next_check_at <= now),
                )
                .order_by(t.transfers.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        self._session.execute(
            update(t.transfers)
            .where(t.transfers.c.id.in_(ids))
            .values(next_check_at=now + lease, attempts=t.transfers.c.attempts + 1)
        )
        rows = self._session.execute(
            select(t.transfers).where(t.transfers.c.id.in_(ids)).order_by(t.transfers.c.id)
        )
        return [_transfer(r) for r in rows]

    def fee_unknown(self, provider: str, limit: int, now: datetime) -> list[Transfer]:
        """Paid transfers whose fee the provider has not told us yet, due to be asked."""
        rows = self._session.execute(
            select(t.transfers)
            .where(
                t.transfers.c.provider == provider,
                t.transfers.c.state == TransferState.SUCCEEDED.value,
                t.transfers.c.fee_minor.is_(None),
                or_(t.transfers.c.next_check_at.is_(None), t.transfers.c.next_check_at <= now),
            )
            .order_by(t.transfers.c.id)
            .limit(limit)
        )
        return [_transfer(r) for r in rows]

    def settled_total(self, provider: str, day: date) -> int:
        """Minor units paid out to the owner by ``provider`` on ``day`` (succeeded)."""
        return int(
            self._session.scalar(
                select(func.coalesce(func.sum(t.transfers.c.amount_minor), 0)).where(
                    t.transfers.c.provider == provider,
                    t.transfers.c.business_day == day,
                    t.transfers.c.state == TransferState.SUCCEEDED.value,
                )
            )
            or 0
        )

    def open_count(self) -> int:
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(t.transfers)
                .where(
                    t.transfers.c.state.in_(
                        [
                            TransferState.RESERVED.value,
                            TransferState.SUBMITTED.value,
                            TransferState.UNKNOWN.value,
                        ]
                    )
                )
            )
            or 0
        )

    def reserved_total(self, provider: str) -> int:
        return int(
            self._session.scalar(
                select(func.coalesce(func.sum(t.transfers.c.amount_minor), 0)).where(
                    and_(
                        t.transfers.c.provider == provider,
                        t.transfers.c.state.in_(
                            [
                                TransferState.RESERVED.value,
                                TransferState.SUBMITTED.value,
                                TransferState.UNKNOWN.value,
                            ]
                        ),
                    )
                )
            )
            or 0
        )
