"""Provider callbacks: stored raw first, processed after, under one trust rule.

``receive`` runs in the API request: it parses the callback through the provider's
connector and stores it in the inbox (concurrent requests share one commit, see
:mod:`qmoi.services.intake`), answering once it is stored. What the inbox dedupes is
the exact body under the provider's event id: the same callback delivered twice is one
item, while a different body claiming the same event — a forgery that arrived first,
say — is an item of its own and cannot take the genuine one's place. Daraja's query
results are not stored for processing: they are handed to the query waiting for them,
and only when they came to that query's own tagged URL.

``process_inbox`` claims stored callbacks in batches (any number of processes may drain
it) and applies each in its own savepoint, as :mod:`qmoi.services.trust` rules: an
authenticated callback is applied (a success booked exactly once); a hint only brings
the enquiry about what it names forward. An item whose processing keeps failing is
parked after a few attempts and the owner told, so it never holds up the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    PaymentProvider,
    ProviderStatus,
    ValidatesDirectPayments,
    callback_mismatches,
)
from qmoi.services.booking import apply_collection_status, book_many, bookable_in_bulk, receipt_of
from qmoi.services.conflicts import ConcurrentUpdate
from qmoi.services.context import Services
from qmoi.services.intake import Arrival, Intake
from qmoi.services.ports import InboxItem, Mark, UnitOfWork
from qmoi.services.transfer_outcomes import apply_transfer_status
from qmoi.services.trust import ask_about_collection, ask_about_transfer, claims_success, is_proof

log = structlog.get_logger("qmoi.services.callbacks")

K = CallbackKind
#: answers to our own queries (Daraja's status, balance and reversal results)
ANSWER_KINDS = frozenset({K.STATUS_RESULT, K.BALANCE_RESULT, K.REVERSAL_RESULT})
#: processing attempts before a callback that keeps failing is parked
MAX_ATTEMPTS = 3

# what became of a stored callback (the inbox status)
PROCESSED = "processed"  # an authenticated fact, applied
HINT = "hint"  # a hint: the enquiry about what it names was brought forward
REJECTED = "rejected"
FAILED = "failed"  # parked after MAX_ATTEMPTS failures


@dataclass(frozen=True)
class Receipt:
    """What the API answers the provider, and what happened to the callback."""

    body: dict[str, Any]
    status_code: int
    outcome: str  # stored | duplicate | rejected | answered | answer
    reason: str | None = None


def inbox_id(event: CallbackEvent, body: bytes) -> str:
    """The inbox identity of a callback: the provider's event id and the exact body."""
    return f"{event.event_id}#{hashlib.sha256(body).hexdigest()[:16]}"


async def receive(
    services: Services,
    intake: Intake,
    provider: str,
    kind: CallbackKind,
    headers: Mapping[str, str],
    body: bytes,
    *,
    reply_to: str | None = None,
) -> Receipt:
    """Parse and store one callback (through the ``intake``'s group commit); answer as
    the provider expects once it is stored. ``reply_to`` is the answer tag of the URL it
    came to, when that URL was made for one query of ours."""
    connector = services.providers[provider]
    try:
        event = connector.parse_callback(kind, headers, body)
    except CallbackRejected as exc:
        await asyncio.to_thread(_store_rejection, services, provider, kind, body, exc.reason)
        log.warning("callback.rejected", provider=provider, kind=kind.value, reason=exc.reason)
        return _refusal(exc.reason, exc.detail)
    if kind is K.C2B_VALIDATION:
        return await asyncio.to_thread(_validate_c2b, connector, event)
    if reply_to is not None or event.kind in ANSWER_KINDS:
        return await _answer(services, provider, kind, event, body, reply_to)
    new = await intake.store(
        Arrival(provider, event.kind.value, inbox_id(event, body), encode(event))
    )
    answer = connector.callback_answer(event, True)
    if not new:
        return Receipt(answer, 200, "duplicate")
    services.wake()
    return Receipt(answer, 200, "stored")


def _refusal(reason: str, message: str) -> Receipt:
    return Receipt(
        {"error": {"code": "callback_rejected", "reason": reason, "message": message}},
        400,
        "rejected",
        reason,
    )


async def _answer(
    services: Services,
    provider: str,
    kind: CallbackKind,
    event: CallbackEvent,
    body: bytes,
    reply_to: str | None,
) -> Receipt:
    """A query's result goes to the query waiting for it — only when it came to the URL
    made for that query, whose tag nobody but the provider learnt."""
    if reply_to is None or services.results is None:
        reason = "unsolicited_answer" if reply_to is None else "no_query_waiting"
        await asyncio.to_thread(_store_rejection, services, provider, kind, body, reason)
        log.warning("callback.rejected", provider=provider, kind=kind.value, reason=reason)
        return _refusal(reason, "no query of ours is waiting for this answer")
    delivered = {"kind": event.kind.value, "body": dict(event.raw)}
    await asyncio.to_thread(services.results.deliver, reply_to, delivered)
    return Receipt(services.providers[provider].callback_answer(event, True), 200, "answer")


def _validate_c2b(connector: PaymentProvider, event: CallbackEvent) -> Receipt:
    """A provider asking whether to take an unprompted payment: the connector decides
    (one that has no rules for it takes every payment)."""
    accepted = (
        connector.decide_c2b(event).accepted
        if isinstance(connector, ValidatesDirectPayments)
        else True
    )
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
            status=REJECTED,
            reason=reason[:64],
        )
        uow.commit()


# --- processing ------------------------------------------------------------------------


def process_inbox(services: Services, limit: int = 200) -> int:
    """Apply up to ``limit`` stored callbacks in one transaction; returns how many.

    Plain authenticated successes for open collections — nearly all of a busy day's
    callbacks when Airtel signs them — are booked together
    (:func:`~qmoi.services.booking.book_many`); every other callback, and all of them
    if the batch meets a concurrent change, one at a time, each in its own savepoint: one
    that fails is rolled back alone and tried again with the next batch, then parked."""
    with services.uows() as uow:
        items = uow.inbox.claim(limit)
        marks: list[Mark] = []
        pending: Decoded = []
        for item in items:
            try:
                pending.append((item, decode(item.body)))
            except Exception as exc:  # a stored body we cannot read: no retry will help
                marks.append(_failure(uow, item, exc, attempts=MAX_ATTEMPTS))
        booked, pending = _book_plain_successes(uow, services, pending)
        marks += booked
        for item, event in pending:
            try:
                with uow.savepoint():
                    status, reason = _apply(uow, services, item.provider, event)
            except ConcurrentUpdate:
                continue  # stays "received": the next batch sees the settled state
            except Exception as exc:  # one poisoned callback must not stop the inbox
                marks.append(_failure(uow, item, exc))
                continue
            marks.append(Mark(item.id, status, reason, item.attempts))
        uow.inbox.mark_many(marks)
        uow.commit()
    return len(items)


Decoded = list[tuple[InboxItem, CallbackEvent]]


def _failure(uow: UnitOfWork, item: InboxItem, exc: Exception, *, attempts: int = 0) -> Mark:
    """Count a failed attempt; after :data:`MAX_ATTEMPTS` the item is parked and the
    owner told (it keeps its body for whoever looks into it)."""
    tried = max(item.attempts + 1, attempts)
    error = f"{type(exc).__name__}: {exc}"
    if tried < MAX_ATTEMPTS:
        log.warning(
            "callback.failed", item=item.id, event_id=item.event_id, attempts=tried,
            error=error[:300],
        )  # fmt: skip
        return Mark(item.id, "received", error, tried)
    log.error(
        "callback.parked", item=item.id, provider=item.provider, event_id=item.event_id,
        attempts=tried, error=error[:300], exc_info=exc,
    )  # fmt: skip
    uow.notifications.add(
        "callback_parked",
        f"{item.provider}: a {item.kind} callback (inbox item {item.id}) could not be "
        f"processed after {tried} attempts ({type(exc).__name__}); it is set aside and "
        "nothing was booked from it — the callbacks behind it go on",
        uow.now,
        provider=item.provider,
        payload={"item": item.id, "event_id": item.event_id, "error": error[:300]},
        dedupe_key=f"callback_parked:{item.id}",
    )
    return Mark(item.id, FAILED, error, tried)


def _book_plain_successes(
    uow: UnitOfWork, services: Services, decoded: Decoded
) -> tuple[list[Mark], Decoded]:
    """Book the batch's plain authenticated successes in bulk; returns their inbox marks
    and the callbacks left for one-by-one handling — all of them when anything in the
    bulk path fails, so that one poisoned callback is isolated by the one-by-one path."""
    try:
        with uow.savepoint():
            chosen = _bulk(uow, services, decoded)
    except ConcurrentUpdate:
        return [], decoded
    except Exception:  # one of them is poisoned: take them one by one, isolated
        log.warning("callback.bulk_failed", items=len(decoded), exc_info=True)
        return [], decoded
    if not chosen:
        return [], decoded
    services.wake()
    rest = [(item, event) for item, event in decoded if item.id not in chosen]
    return [Mark(i.id, PROCESSED, None, i.attempts) for i in chosen.values()], rest


def _bulk(uow: UnitOfWork, services: Services, decoded: Decoded) -> dict[int, InboxItem]:
    """Find and book the plain successes; returns the items booked, by id."""
    candidates = [
        (item, event)
        for item, event in decoded
        if event.kind is K.COLLECTION and is_proof(event) and claims_success(event)
    ]
    wanted: dict[str, list[str]] = {}
    for item, event in candidates:  # one query, whatever the number of accounts
        wanted.setdefault(item.provider, []).append(event.reference)
    found = uow.collections.matching(wanted)
    chosen: dict[int, tuple[InboxItem, Collection, ProviderStatus]] = {}
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
        chosen[item.id] = (item, target, event.status)
    # one posting batch per currency: the ledger posts a batch in one currency, and the
    # accounts of one inbox batch may collect in several
    by_currency: dict[str, list[tuple[Collection, ProviderStatus]]] = {}
    for _, collection, status in chosen.values():
        by_currency.setdefault(collection.amount.currency, []).append((collection, status))
    for batch in by_currency.values():
        book_many(uow, services.policy, batch, source="callback")
    return {item_id: item for item_id, (item, _, _) in chosen.items()}


def _apply(
    uow: UnitOfWork, services: Services, provider: str, event: CallbackEvent
) -> tuple[str, str | None]:
    if event.kind is K.COLLECTION:
        return _collection_callback(uow, services, provider, event)
    if event.kind is K.C2B_CONFIRMATION:
        return _c2b_confirmation(uow, services, provider, event)
    if event.kind in (K.DISBURSEMENT, K.DISBURSEMENT_TIMEOUT):
        return _transfer_callback(uow, services, provider, event)
    # query results go to their query, never through the inbox (older rows did)
    return REJECTED, "not_processed_here"


def _collection_callback(
    uow: UnitOfWork, services: Services, provider: str, event: CallbackEvent
) -> tuple[str, str | None]:
    collection = uow.collections.named(provider, event.reference)
    if collection is None:
        return _unnamed(uow, services, provider, event)
    success = claims_success(event)
    if not is_proof(event):
        return HINT, ask_about_collection(uow, collection, late_success=success)
    expected = ExpectedTransaction(collection.reference, collection.amount, collection.msisdn)
    problems = callback_mismatches(event, expected)
    if "msisdn_mismatch" in problems or "currency_mismatch" in problems:
        ask_about_collection(uow, collection, late_success=success)
        return REJECTED, problems[0]
    if collection.state is CollectionState.FAILED and success:
        # proof contradicting a failure the provider itself reported: ask it again
        return PROCESSED, ask_about_collection(uow, collection, late_success=True)
    apply_collection_status(uow, services.policy, collection, event.status, source="callback")
    if collection.state is not CollectionState.SUCCEEDED and success:
        services.wake()
    return PROCESSED, problems[0] if problems else None


def _unnamed(
    uow: UnitOfWork, services: Services, provider: str, event: CallbackEvent
) -> tuple[str, str | None]:
    """A callback naming nothing of ours. A push whose answer was lost has no provider id
    to be named by, so a success hint may be about one: the pushes of the number and
    amount it claims that nothing named are asked about now (the statement decides; the
    hint's number, amount and id decide nothing). Anything else is refused."""
    status = event.status
    if not claims_success(event) or status.msisdn is None or status.amount is None:
        log.warning(
            "callback.unknown_transaction", provider=provider, kind=event.kind.value,
            reference=event.reference,
        )  # fmt: skip
        return REJECTED, "unknown_transaction"
    window = timedelta(seconds=services.policy.unknown_expiry_s)
    unnamed = uow.collections.unnamed(provider, status.msisdn, status.amount, uow.now - window)
    asked = [ask_about_collection(uow, c, late_success=True) for c in unnamed]
    if not any(what in ("enquiry_scheduled", "late_enquiry") for what in asked):
        return REJECTED, "unknown_transaction"
    return HINT, "unnamed_enquiry"


def _transfer_callback(
    uow: UnitOfWork, services: Services, provider: str, event: CallbackEvent
) -> tuple[str, str | None]:
    transfer = uow.transfers.by_provider_request(provider, event.reference)
    if transfer is None:
        log.warning(
            "callback.unknown_transaction", provider=provider, kind=event.kind.value,
            reference=event.reference,
        )  # fmt: skip
        return REJECTED, "unknown_transaction"
    if not is_proof(event) or event.kind is K.DISBURSEMENT_TIMEOUT:
        # a queue timeout says nothing about the money, whoever sends it
        return HINT, ask_about_transfer(uow, transfer)
    apply_transfer_status(uow, services, transfer, event.status, source="callback")
    return PROCESSED, None


def _c2b_confirmation(
    uow: UnitOfWork, services: Services, provider: str, event: CallbackEvent
) -> tuple[str, str | None]:
    """A customer paid the till or paybill directly. The record starts unconfirmed; the
    resolver asks the provider about the receipt, and only the provider's answer — its
    amount, not the callback's — is booked."""
    status = event.status
    receipt = status.provider_reference or event.reference
    if (
        uow.collections.by_provider_reference(provider, receipt) is not None
        or uow.collections.named(provider, receipt) is not None
    ):
        return (PROCESSED if is_proof(event) else HINT), "duplicate_receipt"
    rules = services.policy.provider(provider)
    if status.amount is None or not status.amount.is_positive:
        return REJECTED, "amount_missing"
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
            reason="unconfirmed",
            next_check_at=now,
            attempts=1,
        )
    )
    if not is_proof(event):
        return HINT, "confirmation_scheduled"
    apply_collection_status(uow, services.policy, collection, status, source="c2b")
    services.wake()
    return PROCESSED, None


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
            "authenticated": event.authenticated,
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
        authenticated=bool(data.get("authenticated", False)),
    )


__all__ = ["Receipt", "StreamKey", "decode", "encode", "inbox_id", "process_inbox", "receive"]
