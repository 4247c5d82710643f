"""Turning a provider's word about a collection into our records, exactly once.

Every source of truth — a verified callback, a C2B confirmation, a status enquiry —
ends here. A success books one ledger entry (reference ``{provider}:pay:{receipt}``,
unique in the database) with its audit record and the revenue totals, in the caller's
transaction; the collection is saved with a compare-and-set on its previous state, so
when a callback and an enquiry race, one books and the other changes nothing.
Money that arrives but does not match what we asked goes to suspense, never revenue.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

import structlog

from qmoi.domain import ledger as L
from qmoi.domain.collection import Collection
from qmoi.domain.errors import DuplicateReference
from qmoi.domain.money import Money
from qmoi.domain.retry import next_check_in
from qmoi.domain.states import CollectionState
from qmoi.providers.base import FailureReason, Outcome, ProviderStatus
from qmoi.services.bookkeeping import record_entries, record_entry
from qmoi.services.conflicts import ConcurrentUpdate
from qmoi.services.policy import Policy
from qmoi.services.ports import UnitOfWork

log = structlog.get_logger("qmoi.services.booking")

C = CollectionState
#: real seconds a prompt the provider can be asked about is given, whatever the clock's
#: speed, before "still pending" ends it (a dead worker's send lease, then a round of
#: enquiries) …
EXPIRY_FLOOR_S = 120.0
#: … and before "no such transaction" is believed (a push still on its way)
NOT_FOUND_FLOOR_S = 10.0


def book_revenue(
    uow: UnitOfWork,
    policy: Policy,
    collection: Collection,
    amount: Money,
    receipt: str,
    occurred_at: datetime,
    actor: str,
) -> int | None:
    """Post the payment, its audit record and the revenue totals; None if this receipt
    was already booked (the money is counted once, whoever reports it first)."""
    entry = _payment(collection, amount, receipt, occurred_at)
    if uow.ledger.has_reference(str(entry.reference)):
        return None
    try:
        entry_id = record_entry(uow, entry, actor)
    except DuplicateReference:
        return None
    uow.totals.add(*_revenue_bucket(uow, policy, collection, amount))
    return entry_id


def _payment(
    collection: Collection, amount: Money, receipt: str, occurred_at: datetime
) -> L.JournalEntry:
    """The revenue entry of a payment; its reference ``{provider}:pay:{receipt}`` is
    unique in the database, which is what books it once."""
    return L.payment_confirmed(
        collection.provider,
        collection.stream,
        amount,
        f"{collection.provider}:pay:{receipt}",
        occurred_at,
        sandbox=collection.sandbox,
    )


def _revenue_bucket(
    uow: UnitOfWork, policy: Policy, collection: Collection, amount: Money
) -> tuple[date, int, str, str, str, int]:
    """Where a payment booked now counts in the totals: day and hour in QMOI_TIMEZONE."""
    local = uow.now.astimezone(policy.tz)
    return (
        local.date(),
        local.hour,
        collection.provider,
        collection.stream.value,
        amount.currency,
        amount.minor,
    )


def _provider_words(collection: Collection, status: ProviderStatus) -> dict[str, Any]:
    """The provider's latest code and message, keeping ours when it gives none."""
    return {
        "provider_code": status.provider_code or collection.provider_code,
        "provider_message": status.provider_message or collection.provider_message,
    }


def _log_moved(was: Collection, now: Collection, source: str) -> None:
    log.info(
        "collection.moved",
        reference=was.reference,
        provider=was.provider,
        was=was.state.value,
        now=now.state.value,
        source=source,
        reason=now.reason,
    )


def receipt_of(collection: Collection, status: ProviderStatus) -> str:
    """The provider's id for the payment: what makes its ledger reference unique."""
    return status.provider_reference or collection.provider_request_id or collection.reference


def bookable_in_bulk(collection: Collection, status: ProviderStatus) -> bool:
    """A plain success for an open collection, for the amount asked: what
    :func:`book_many` takes. Anything else goes through :func:`apply_collection_status`."""
    return (
        status.outcome is Outcome.SUCCEEDED
        and collection.state in (C.REQUESTED, C.PENDING, C.UNKNOWN)
        and (status.amount is None or status.amount == collection.amount)
    )


def book_many(
    uow: UnitOfWork,
    policy: Policy,
    successes: list[tuple[Collection, ProviderStatus]],
    *,
    source: str,
    actor: str = "system",
) -> list[Collection]:
    """:func:`apply_collection_status` for many plain successes (see
    :func:`bookable_in_bulk`; distinct collections and receipts) with a few statements
    in all, which is what lets a busy inbox keep up. Same records, same exactly-once
    guarantees: a receipt already booked is skipped, and if another process moved any
    of the collections first, :class:`ConcurrentUpdate` is raised for the caller to roll
    back and take them one by one."""
    now = uow.now
    receipts = [receipt_of(c, s) for c, s in successes]
    entries = [
        _payment(c, c.amount, receipt, s.completed_at or now)
        for (c, s), receipt in zip(successes, receipts, strict=True)
    ]
    ids = record_entries(uow, entries, actor)
    uow.totals.add_many(
        [
            _revenue_bucket(uow, policy, c, c.amount)
            for (c, _), entry_id in zip(successes, ids, strict=True)
            if entry_id is not None
        ]
    )
    updated = [
        _paid(c, now, receipt, entry_id, _provider_words(c, s))
        for (c, s), receipt, entry_id in zip(successes, receipts, ids, strict=True)
    ]
    written = uow.collections.save_many(
        [(u, c.state) for u, (c, _) in zip(updated, successes, strict=True)]
    )
    if len(written) != len(updated):
        raise ConcurrentUpdate(", ".join(c.reference for c in updated if c.id not in written))
    for (was, _), now_is in zip(successes, updated, strict=True):
        _log_moved(was, now_is, source)
    return updated


def to_suspense(
    uow: UnitOfWork, collection: Collection, amount: Money, receipt: str, reason: str, actor: str
) -> int | None:
    """Money the provider says arrived but that we cannot match: held, never revenue."""
    reference = f"{collection.provider}:suspense:{receipt}"
    if uow.ledger.has_reference(reference):
        return None
    entry = L.payment_to_suspense(
        collection.provider, amount, reference, uow.now, reason, sandbox=collection.sandbox
    )
    entry_id = record_entry(uow, entry, actor)
    uow.notifications.add(
        "suspense",
        f"{collection.provider}: {amount} arrived for {collection.reference} but "
        f"{reason.replace('_', ' ')}; it is held in suspense, not counted as revenue",
        uow.now,
        provider=collection.provider,
        payload={
            "collection": collection.reference,
            "amount_minor": amount.minor,
            "reason": reason,
        },
        dedupe_key=f"suspense:{reference}",
    )
    return entry_id


def apply_collection_status(
    uow: UnitOfWork,
    policy: Policy,
    collection: Collection,
    status: ProviderStatus,
    *,
    source: str,
    actor: str = "system",
) -> Collection:
    """Move ``collection`` as ``status`` says; book it on success. Raises
    :class:`ConcurrentUpdate` if another process moved it first."""
    now = uow.now
    changes = _provider_words(collection, status)
    if status.outcome is Outcome.SUCCEEDED:
        updated = _succeeded(uow, policy, collection, status, source, actor, changes)
    elif collection.state is C.SUCCEEDED:
        return collection
    elif collection.state in (C.FAILED, C.EXPIRED):
        updated = _asked_late(uow, collection, status, source)
    elif status.outcome is Outcome.FAILED:
        updated = collection.moved_to(
            C.FAILED,
            now,
            reason=(status.reason.value if status.reason else "failed"),
            next_check_at=None,
            **changes,
        )
    else:
        updated = _still_open(
            policy, collection, status, now, changes, may_conclude=source == "enquiry"
        )
    if updated is collection:
        return collection
    if not uow.collections.save(updated, collection.state):
        raise ConcurrentUpdate(collection.reference)
    if updated.state is not collection.state:
        _log_moved(collection, updated, source)
    return updated


#: enquiries about a success reported for a failed or expired collection, before the
#: owner is told the provider could not be asked
LATE_ATTEMPTS = 6
#: enquiries that must have said "still pending" or nothing before a prompt is given up:
#: age alone is no evidence — the chaos run found paid prompts expired on the first
#: enquiry a busy resolver made two real minutes (80 simulated hours) after the push
MIN_ENQUIRIES = 3


def _asked_late(
    uow: UnitOfWork, collection: Collection, status: ProviderStatus, source: str
) -> Collection:
    """A success was reported for a collection already failed or expired, and the
    provider does not confirm it. An answer that says nothing (the provider could not
    tell) is asked again a few times; then the enquiry stops — and if the provider
    never answered at all, the owner is told, so late money is never silently lost."""
    if source != "enquiry" or collection.next_check_at is None:
        return collection
    now = uow.now
    attempts = collection.attempts + 1
    # "no such payment" is the provider's answer; anything else unknown says nothing
    silent = status.outcome is Outcome.UNKNOWN and status.reason is not FailureReason.NOT_FOUND
    if silent and attempts <= LATE_ATTEMPTS:
        return replace(
            collection,
            attempts=attempts,
            next_check_at=now + next_check_in(attempts, collection.reference),
        )
    if silent:
        uow.notifications.add(
            "late_payment_unconfirmed",
            f"{collection.provider}: a payment was reported for {collection.reference} "
            f"({collection.amount}) after it had {collection.state.value}, and "
            f"{collection.provider} could not confirm it; check its statement",
            now,
            provider=collection.provider,
            payload={"collection": collection.reference, "amount_minor": collection.amount.minor},
            dedupe_key=f"late_payment_unconfirmed:{collection.reference}",
        )
    return replace(collection, attempts=attempts, next_check_at=None)


def _succeeded(
    uow: UnitOfWork,
    policy: Policy,
    collection: Collection,
    status: ProviderStatus,
    source: str,
    actor: str,
    changes: dict[str, Any],
) -> Collection:
    now = uow.now
    if collection.state is C.SUCCEEDED:
        return collection  # already booked: a duplicate report changes nothing
    receipt = receipt_of(collection, status)
    if collection.origin == "c2b" and status.amount is not None:
        # what a customer paid unprompted is what the provider says, never the callback
        collection = replace(collection, amount=status.amount)
    paid = status.amount or collection.amount
    owner = uow.collections.by_provider_reference(collection.provider, receipt)
    if owner is not None and owner.id != collection.id:
        return _receipt_taken(uow, collection, owner, receipt, changes)
    if collection.state is C.FAILED:
        # Failed on the provider's word, now paid on its word: the money is real. Book it
        # (by its receipt, once) and tell the owner, whose customer saw "failed".
        uow.notifications.add(
            "late_payment",
            f"{collection.provider}: {paid} for {collection.reference} was paid after it "
            f"had failed ({collection.reason}); it is booked now",
            now,
            provider=collection.provider,
            payload={"collection": collection.reference, "amount_minor": paid.minor},
            dedupe_key=f"late_payment:{collection.reference}",
        )
    if paid != collection.amount:
        entry_id = to_suspense(uow, collection, paid, receipt, "amount_mismatch", actor)
        return collection.moved_to(
            C.SUCCEEDED,
            now,
            provider_reference=receipt,
            entry_id=entry_id,
            reason="amount_mismatch",
            next_check_at=None,
            **changes,
        )
    entry_id = book_revenue(
        uow, policy, collection, paid, receipt, status.completed_at or now, actor
    )
    return _paid(collection, now, receipt, entry_id, changes)


def _receipt_taken(
    uow: UnitOfWork,
    collection: Collection,
    owner: Collection,
    receipt: str,
    changes: dict[str, Any],
) -> Collection:
    """The provider names, for ``collection``, a receipt already booked on ``owner``:
    one payment cannot be two. Nothing more is booked; the collection is closed as paid
    by that receipt elsewhere, and the owner told which two to look at."""
    uow.notifications.add(
        "receipt_conflict",
        f"{collection.provider}: receipt {receipt} is reported for {collection.reference} "
        f"but is already booked for {owner.reference}; it is counted once — check which "
        "request it paid",
        uow.now,
        provider=collection.provider,
        payload={"receipt": receipt, "collection": collection.reference, "booked": owner.reference},
        dedupe_key=f"receipt_conflict:{collection.provider}:{receipt}:{collection.reference}",
    )
    return collection.moved_to(
        C.SUCCEEDED,
        uow.now,
        entry_id=None,
        reason="receipt_booked_elsewhere",
        next_check_at=None,
        **changes,
    )


def _paid(
    collection: Collection,
    now: datetime,
    receipt: str,
    entry_id: int | None,
    changes: dict[str, Any],
) -> Collection:
    """The collection as succeeded; without an entry id the receipt was booked before."""
    return collection.moved_to(
        C.SUCCEEDED,
        now,
        provider_reference=receipt,
        entry_id=entry_id,
        reason=None if entry_id is not None else "already_booked",
        next_check_at=None,
        **changes,
    )


def _still_open(
    policy: Policy,
    collection: Collection,
    status: ProviderStatus,
    now: datetime,
    changes: dict[str, Any],
    *,
    may_conclude: bool,
) -> Collection:
    """Pending or unknown: schedule the next enquiry — or, when this answer comes from an
    enquiry (never from a send or a callback), fail what the provider does not know long
    after the prompt and expire what never finished."""
    age = (now - collection.created_at).total_seconds()
    asked = collection.attempts + 1 if may_conclude else collection.attempts
    if not may_conclude:
        age = 0.0
    if status.reason is FailureReason.NOT_FOUND and age > policy.window(
        policy.prompt_window_s, NOT_FOUND_FLOOR_S
    ):
        # The provider has no such transaction long after the prompt would have ended.
        return collection.moved_to(C.FAILED, now, reason="not_found", next_check_at=None, **changes)
    # Only the provider saying "still in progress" long after the prompt ends it early; an
    # ambiguous answer (Airtel TA, a failed enquiry) says nothing about the payment, so it
    # is asked about again for as long as an unknown outcome is (the chaos run found a
    # paid collection expired on one TA answer after its worker had been away an hour).
    if collection.state is C.UNKNOWN or status.outcome is Outcome.UNKNOWN:
        limit = policy.unknown_expiry_s
    else:
        limit = policy.pending_expiry_s
    if collection.provider_request_id or policy.provider(collection.provider).idempotent_collect:
        # It can be asked about: an answer delayed by a dead worker must still come in
        # time. (One that cannot be named is settled by the statement, which books it
        # even after it expired.)
        limit = policy.window(limit, EXPIRY_FLOOR_S)
    if age > limit and asked > MIN_ENQUIRIES:
        return collection.moved_to(
            C.EXPIRED, now, reason="expired", next_check_at=None, attempts=asked, **changes
        )
    state = collection.state
    if state is C.REQUESTED:
        state = C.PENDING if status.outcome is Outcome.PENDING else C.UNKNOWN
    return collection.moved_to(
        state,
        now,
        attempts=asked,
        next_check_at=now + next_check_in(asked, collection.reference),
        **changes,
    )
