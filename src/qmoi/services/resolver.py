"""Resolving what is not final yet by asking the provider — never by sending again.

Collections that are pending past their callback, unknown after a timeout, or whose
callback must be confirmed, and transfers that are reserved, submitted or unknown, are
claimed in batches with a lease (any number of workers), and each is asked about with
the provider's status enquiry. Backoff between enquiries is a pure function of the
attempt count; what never finishes is expired after the policy's bound (a confirmation
arriving later still books it).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime

import structlog

from qmoi.domain.collection import Collection
from qmoi.domain.states import CollectionState
from qmoi.providers.base import DirectPayments, Outcome, ProviderError, ProviderStatus
from qmoi.services.collections import record_status, send_collection
from qmoi.services.context import Services
from qmoi.services.statement import can_read_statement, from_statement, statement_due
from qmoi.services.transfer_sending import advance_transfer, claim_due_transfers

log = structlog.get_logger("qmoi.services.resolver")

#: real seconds a claimed collection is left to the worker that claimed it
CLAIM_LEASE_S = 45.0
#: collections claimed at a time, and asked about at once
BATCH, AT_ONCE = 50, 16


async def resolve_collections(services: Services, limit: int = BATCH) -> int:
    """Ask about every due open collection; returns how many were looked at."""
    with services.uows() as uow:
        due = uow.collections.claim_due(uow.now, services.policy.lease(CLAIM_LEASE_S), limit)
        uow.commit()
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(collection: Collection) -> None:
        async with gate:
            try:
                await resolve_collection(services, collection)
            except Exception:  # one bad item must not stop the others
                log.exception("collection.resolve_failed", reference=collection.reference)

    await asyncio.gather(*(one(c) for c in due))
    return len(due)


async def resolve_collection(services: Services, collection: Collection) -> Collection:
    rules = services.policy.provider(collection.provider)
    if collection.state is CollectionState.REQUESTED and collection.origin == "request":
        if collection.reason == "not_sent":
            # it never left: send it again. A push without an id of ours is first marked
            # as going out, so that if this worker dies before the answer is recorded the
            # next one takes it for interrupted — not for "never left" again (the chaos
            # run found a customer prompted twice that way, the first prompt paid).
            if rules.idempotent_collect or _going_out(services, collection):
                return await send_collection(services, collection)
            return collection
        if not rules.idempotent_collect:
            # It may have gone out before a crash; a second push could charge twice.
            status = ProviderStatus(
                Outcome.UNKNOWN,
                "send_interrupted",
                "the push may have been sent; waiting for its answer or the statement",
            )
            return await record_status(services, collection, status, "resolver", request_id=None)
    if can_read_statement(services, collection):
        due = statement_due(services, collection)
        if due is not None:  # nothing can be asked yet: not an enquiry, no evidence
            return _later(services, collection, due)
    status = await _enquire(services, collection)
    if (
        collection.state is CollectionState.REQUESTED
        and collection.origin == "request"
        and status.reason is not None
        and status.reason.value == "not_found"
    ):
        return await send_collection(services, collection)  # the provider never had it
    return await record_status(services, collection, status, "enquiry", request_id=None)


def _going_out(services: Services, collection: Collection) -> bool:
    """Clear the "never left" mark before sending again; False when the collection has
    moved meanwhile (another worker sends or has sent it)."""
    with services.uows() as uow:
        current = uow.collections.by_reference(collection.reference)
        if (
            current is None
            or current.state is not CollectionState.REQUESTED
            or current.reason != "not_sent"
        ):
            return False
        if not uow.collections.save(replace(current, reason=None), current.state):
            return False
        uow.commit()
    return True


def _later(services: Services, collection: Collection, due: datetime) -> Collection:
    with services.uows() as uow:
        current = uow.collections.by_reference(collection.reference)
        if current is None or current.state is not collection.state:
            return current or collection
        later = replace(current, next_check_at=due)
        if uow.collections.save(later, current.state):
            uow.commit()
    return later


async def _enquire(services: Services, collection: Collection) -> ProviderStatus:
    connector = services.providers[collection.provider]
    if can_read_statement(services, collection):
        return await from_statement(services, collection)
    try:
        if collection.origin == "c2b":
            if not isinstance(connector, DirectPayments) or not collection.provider_request_id:
                return ProviderStatus(Outcome.UNKNOWN, "no_lookup", "cannot confirm C2B")
            return await connector.direct_payment_status(collection.provider_request_id)
        return await connector.collection_status(
            collection.reference, collection.provider_request_id or ""
        )
    except ProviderError as exc:
        return exc.as_status()


async def resolve_transfers(services: Services, limit: int = 5) -> int:
    """Send reserved transfers and ask about the others; returns how many."""
    due = claim_due_transfers(services, limit)
    for transfer in due:  # one at a time: payouts are few and each is money leaving
        try:
            await advance_transfer(services, transfer)
        except Exception:
            log.exception("transfer.advance_failed", reference=transfer.reference)
    return len(due)
