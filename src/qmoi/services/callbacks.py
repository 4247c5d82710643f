"""Provider callbacks: stored raw first, processed after.

``receive`` runs in the API request: it authenticates and parses the callback through
the provider's connector, stores it in the inbox (unique on the provider's event id, so a
duplicate is acknowledged and ignored; concurrent requests share one commit, see
:mod:`qmoi.services.intake`) and answers once it is stored. ``process_inbox`` claims
stored callbacks in batches (any number of processes may drain the inbox) and applies
each in its own savepoint: a success is booked exactly once; an unknown id, a mismatch
or a forged callback never becomes revenue. When a success must be confirmed first
(Airtel without a verified hash, M-Pesa with MPESA_CONFIRM_CALLBACKS), the collection is
scheduled for an immediate status enquiry and the enquiry's answer is what gets booked.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog

from qmoi.domain.collection import Collection, new_reference
from qmoi.domain.money import Money
from qmoi.domain.states import CollectionState
from qmoi.domain.streams import StreamKey, attribute
from qmoi.providers.base import (
    CallbackEvent,
    CallbackKind,
    CallbackRejected,
    ExpectedTransaction,
    FailureReason,
    Outcome,
    ProviderStatus,
    callback_mismatches,
)
from qmoi.services.booking import (
    ConcurrentUpdate,
    apply_collection_status,
    book_many,
    bookable_in_bulk,
    receipt_of,
)
from qmoi.services.context import Services
from qmoi.services.intake import Arrival, Intake
from qmoi.services.ports import InboxItem, UnitOfWork
from qmoi.services.transfers import apply_transfer_status

log = structlog.get_logger("qmoi.services.callbacks")

K = CallbackKind
RESULT_KINDS = {K.STATUS_RESULT, K.BALANCE_RESULT, K.REVERSAL_RESULT}


@dataclass(frozen=True)
class Receipt:
    """What the API answers the provider, and what happened to the callback."""

    body: dict[str, Any]
    status_code: int
    outcome: str  # stored | duplicate | rejected | answered
    reason: str | None = None


async def receive(
    services: Services,
    intake: Intake,
    provider: str,
    kind: CallbackKind,
    headers: Mapping[str, str],
    body: bytes,
) -> Receipt:
    """Authenticate, parse and store one callback (through the ``intake``'s group
    commit); answer as the provider expects once it is stored."""
    connector = services.providers[provider]
    try:
        event = connector.parse_callback(kind, headers, body)
    except CallbackRejected as exc:
        await asyncio.to_thread(_store_rejection, services, provider, kind, body, exc.reason)
        log.warning("callback.rejected", provider=provider, kind=kind.value, reason=exc.reason)
        return Receipt(
            {"error": {"code": "callback_rejected", "reason": exc.reason, "message": exc.detail}},
            400,
            "rejected",
            exc.reason,
        )
    if kind is K.C2B_VALIDATION:
        return await asyncio.to_thread(_validate_c2b, services, event)
    new = await intake.store(Arrival(provider, event.kind.value, event.event_id, encode(event)))
    delivery = _awaited_result(services, provider, event)
    if delivery is not None and services.results is not None:
        await asyncio.to_thread(services.results.deliver, *delivery)
    answer = connector.callback_answer(event, True)
    if not new:
        return Receipt(answer, 200, "duplicate")
    services.wake()
    return Receipt(answer, 200, "stored")


def _awaited_result(
    services: Services, provider: str, event: CallbackEvent
) -> tuple[str, Mapping[str, Any]] | None:
    """Daraja answers balance and status queries by callback: the key and answer to hand
    to the call waiting for it (in this process; other processes read it from the
    inbox)."""
    if provider != "mpesa" or services.results is None:
        return None
    from qmoi.providers.mpesa.callbacks import waiter_delivery

    return waiter_delivery(event)


def _validate_c2b(services: Services, event: CallbackEvent) -> Receipt:
    connector = services.providers["mpesa"]
    decide = getattr(connector, "decide_c2b", None)
    accepted = True if decide is None else bool(decide(event).accepted)
    return Receipt(
        connector.callback_answer(event, accepted),
        200,
        "answered",
        None if accepted else "rejected_reference",
    )


def _store_rejection(
    services: Services, provider: str, kind: CallbackKind, body: bytes, reason: str
) -> None:
    digest = hashlib.sha256(body).hexdigest()[:32]
    with services.uows() as uow:
        uow.inbox.add(
            provider,
            kind.value,
            f"rejected:{digest}",
            body.decode("utf-8", "replace")[:20_000],
            uow.now,
            status="rejected",
            reason=reason[:64],
        )
        uow.commit()


# --- processing ------------------------------------------------------------------------


def process_inbox(services: Services, limit: int = 200) -> int:
    """Apply up to ``limit`` stored callbacks in one transaction; returns how many.

    Plain successes for open collections — nearly all of a busy day's callbacks — are
    booked together (:func:`~qmoi.services.booking.book_many`); every other callback,
    and all of them if the batch meets a concurrent change, one at a time."""
    with services.uows() as uow:
        items = uow.inbox.claim(limit)
        pending = [(item, decode(item.body)) for item in items]
        marks, pending = _book_plain_successes(uow, services, pending)
        for item, event in pending:
            try:
                with uow.savepoint():
                    status, reason = _apply(uow, services, item.provider, event)
            except ConcurrentUpdate:
                continue  # stays "received": the next batch sees the settled state
            marks.append((item.id, status, reason))
        uow.inbox.mark_many(marks)
        uow.commit()
    return len(items)


Decoded = list[tuple[InboxItem, CallbackEvent]]


def _book_plain_successes(
    uow: UnitOfWork, services: Services, decoded: Decoded
) -> tuple[list[tuple[int, str, str | None]], Decoded]:
    """Book the batch's plain successes in bulk; returns their inbox marks and the
    callbacks left for one-by-one handling."""
    candidates = [
        (item, event)
        for item, event in decoded
        if event.kind is K.COLLECTION
        and event.status.outcome is Outcome.SUCCEEDED
        and not services.policy.provider(item.provider).confirm_callbacks
    ]
    found: dict[tuple[str, str], Collection] = {}
    for provider in {item.provider for item, _ in candidates}:
        keys = [e.reference for i, e in candidates if i.provider == provider]
        for key, match in uow.collections.matching(provider, keys).items():
            found[(provider, key)] = match
    chosen: dict[int, tuple[Collection, ProviderStatus]] = {}
    taken: set[object] = set()
    for item, event in candidates:
        target = found.get((item.provider, event.reference))
        if target is None or not bookable_in_bulk(target, event.status):
            continue
        expected = ExpectedTransaction(target.reference, target.amount, target.msisdn)
        receipt = receipt_of(target, event.status)
        if callback_mismatches(event, expected) or {target.id, receipt} & taken:
            continue
        taken |= {target.id, receipt}
        chosen[item.id] = (target, event.status)
    if not chosen:
        return [], decoded
    try:
        with uow.savepoint():
            book_many(uow, services.policy, list(chosen.values()), source="callback")
    except ConcurrentUpdate:
        return [], decoded
    services.wake()
    rest = [(item, event) for item, event in decoded if item.id not in chosen]
    return [(item_id, "processed", None) for item_id in chosen], rest


def _apply(
    uow: UnitOfWork, services: Services, provider: str, event: CallbackEvent
) -> tuple[str, str | None]:
    if event.kind is K.COLLECTION:
        return _collection_callback(uow, services, provider, event)
    if event.kind is K.C2B_CONFIRMATION:
        return _c2b_confirmation(uow, services, provider, event)
    if event.kind in (K.DISBURSEMENT, K.DISBURSEMENT_TIMEOUT):
        transfer = uow.transfers.by_provider_request(provider, event.reference)
        if transfer is None:
            _unknown(uow, provider, event)
            return "rejected", "unknown_transaction"
        status = event.status
        if event.kind is K.DISBURSEMENT_TIMEOUT:
            status = ProviderStatus(Outcome.UNKNOWN, status.provider_code, "queue timeout")
        apply_transfer_status(uow, services, transfer, status, source="callback")
        return "processed", None
    return "processed", None  # balance / status / reversal results: read by their caller


def _collection_callback(
    uow: UnitOfWork, services: Services, provider: str, event: CallbackEvent
) -> tuple[str, str | None]:
    collection = uow.collections.by_reference(
        event.reference
    ) or uow.collections.by_provider_request(provider, event.reference)
    if collection is None:
        collection = _match_unnamed(uow, provider, event)
    if collection is None:
        # The push's answer may have been recorded between the two looks (a callback can
        # overtake its own push's answer): then the collection has just been named, and
        # neither look saw it. Each statement sees what was committed when it began, so
        # looking once more closes that gap (found by the chaos run: a paid push whose
        # callback was rejected as unknown, then expired).
        collection = uow.collections.by_provider_request(provider, event.reference)
    if collection is None:
        _unknown(uow, provider, event)
        return "rejected", "unknown_transaction"
    expected = ExpectedTransaction(collection.reference, collection.amount, collection.msisdn)
    problems = callback_mismatches(event, expected)
    status = event.status
    if "msisdn_mismatch" in problems or "currency_mismatch" in problems:
        _schedule_enquiry(uow, collection)
        return "rejected", problems[0]
    if status.outcome is Outcome.SUCCEEDED and services.policy.provider(provider).confirm_callbacks:
        _schedule_enquiry(uow, collection)
        return "processed", "awaiting_confirmation"
    apply_collection_status(uow, services.policy, collection, status, source="callback")
    if collection.state is not CollectionState.SUCCEEDED and status.outcome is Outcome.SUCCEEDED:
        services.wake()
    return "processed", problems[0] if problems else None


def _match_unnamed(uow: UnitOfWork, provider: str, event: CallbackEvent) -> Collection | None:
    """A success for a push whose answer we never got (no provider id stored): the only
    open request for that number and amount is it."""
    status = event.status
    if status.outcome is not Outcome.SUCCEEDED or status.msisdn is None or status.amount is None:
        return None
    if status.provider_reference:
        # already found on the statement and booked by its receipt: this late callback
        # is that payment again, not a new one
        booked = uow.collections.by_provider_reference(provider, status.provider_reference)
        if booked is not None:
            return booked
    candidates = uow.collections.unmatched_unknown(provider, status.msisdn, status.amount)
    if len(candidates) != 1:
        return None
    from dataclasses import replace

    found = replace(candidates[0], provider_request_id=event.reference)
    uow.collections.save(found, found.state)
    return found


def _c2b_confirmation(
    uow: UnitOfWork, services: Services, provider: str, event: CallbackEvent
) -> tuple[str, str | None]:
    """A customer paid the till/paybill directly: the money is there; attribute it."""
    status = event.status
    receipt = status.provider_reference or event.reference
    if uow.collections.by_provider_reference(provider, receipt) is not None:
        return "processed", "duplicate_receipt"
    rules = services.policy.provider(provider)
    if status.amount is None or not status.amount.is_positive:
        return "rejected", "amount_missing"
    stream = attribute(event.account_reference or "", rules.c2b_rules, rules.c2b_default_stream)
    now = uow.now
    collection = uow.collections.add(
        Collection(
            id=None,
            reference=new_reference("QB"),
            provider=provider,
            msisdn=(status.msisdn or "unknown")[:16],
            amount=status.amount,
            stream=stream,
            state=CollectionState.REQUESTED,
            created_at=now,
            updated_at=now,
            sandbox=services.policy.sandbox,
            origin="c2b",
            account_reference=(event.account_reference or "")[:64] or None,
            provider_request_id=receipt,
            next_check_at=now,
            attempts=1,
        )
    )
    if rules.confirm_callbacks:
        return "processed", "awaiting_confirmation"  # the resolver confirms, then books
    apply_collection_status(uow, services.policy, collection, status, source="c2b")
    services.wake()
    return "processed", None


def _schedule_enquiry(uow: UnitOfWork, collection: Collection) -> None:
    if collection.is_final:
        return
    from dataclasses import replace

    uow.collections.save(replace(collection, next_check_at=uow.now), collection.state)


def _unknown(uow: UnitOfWork, provider: str, event: CallbackEvent) -> None:
    log.warning(
        "callback.unknown_transaction",
        provider=provider,
        kind=event.kind.value,
        reference=event.reference,
    )


# --- the inbox's own serialisation of a parsed event -----------------------------------


def encode(event: CallbackEvent) -> str:
    status = event.status
    return json.dumps(
        {
            "provider": event.provider,
            "kind": event.kind.value,
            "event_id": event.event_id,
            "reference": event.reference,
            "account_reference": event.account_reference,
            "status": {
                "outcome": status.outcome.value,
                "provider_code": status.provider_code,
                "provider_message": status.provider_message,
                "reason": status.reason.value if status.reason else None,
                "provider_reference": status.provider_reference,
                "amount_minor": status.amount.minor if status.amount else None,
                "fee_minor": status.fee.minor if status.fee else None,
                "currency": status.amount.currency if status.amount else None,
                "fee_currency": status.fee.currency if status.fee else None,
                "msisdn": status.msisdn,
                "completed_at": status.completed_at.isoformat() if status.completed_at else None,
            },
            "raw": event.raw,
        },
        default=_plain,
        sort_keys=True,
    )


def _plain(value: object) -> object:
    if isinstance(value, Decimal | datetime):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be stored in the inbox")


def decode(text: str) -> CallbackEvent:
    data = json.loads(text)
    s = data["status"]
    amount = Money(s["amount_minor"], s["currency"]) if s["amount_minor"] is not None else None
    fee = Money(s["fee_minor"], s["fee_currency"]) if s["fee_minor"] is not None else None
    status = ProviderStatus(
        outcome=Outcome(s["outcome"]),
        provider_code=s["provider_code"],
        provider_message=s["provider_message"],
        reason=FailureReason(s["reason"]) if s["reason"] else None,
        provider_reference=s["provider_reference"],
        amount=amount,
        fee=fee,
        msisdn=s["msisdn"],
        completed_at=datetime.fromisoformat(s["completed_at"]) if s["completed_at"] else None,
    )
    return CallbackEvent(
        provider=data["provider"],
        kind=CallbackKind(data["kind"]),
        event_id=data["event_id"],
        reference=data["reference"],
        status=status,
        account_reference=data["account_reference"],
        raw=data["raw"],
    )


__all__ = ["Receipt", "StreamKey", "decode", "encode", "process_inbox", "receive"]
