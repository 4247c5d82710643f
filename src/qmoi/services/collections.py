"""Starting collections: a list of payment requests becomes one USSD/STK push each.

Each request is validated and stored (state ``requested``, our reference fixed) before
anything is sent, so a crash mid-send leaves a record the resolver can ask about. The
pushes then go out concurrently; each answer is applied in its own transaction.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

import structlog

from qmoi.domain.collection import Collection, new_reference
from qmoi.domain.errors import DomainError, InvalidAmount
from qmoi.domain.money import Money
from qmoi.domain.retry import next_check_in
from qmoi.domain.states import CollectionState
from qmoi.domain.streams import StreamKey, stream
from qmoi.providers.base import (
    CollectRequest,
    NotSent,
    ProviderError,
    ProviderStatus,
    capabilities_of,
)
from qmoi.services.booking import apply_collection_status
from qmoi.services.conflicts import retrying
from qmoi.services.context import Services
from qmoi.services.ports import UnitOfWork
from qmoi.services.transient import patiently

log = structlog.get_logger("qmoi.services.collections")

#: real seconds a fresh request is left to its sender before the resolver may look at it
SEND_LEASE_S = 90.0
#: sources of a status that answers a push just sent (or one that may have gone out)
SENDS = frozenset({"collect", "resolver"})
MAX_REQUESTS = 500


@dataclass(frozen=True)
class PaymentRequest:
    msisdn: str
    amount: Money
    stream: StreamKey
    reference: str | None = None  # the merchant's own reference, shown to the customer


class InvalidRequest(DomainError):
    """A collection request that cannot be sent (bad number, amount or stream)."""

    code = "invalid_request"

    def __init__(self, index: int, message: str, code: str = "invalid_request") -> None:
        super().__init__(f"request {index}: {message}")
        self.index = index
        self.code = code


def validate(services: Services, provider: str, requests: list[PaymentRequest]) -> None:
    """Refuse the batch at its first bad request. A number in another network's range is
    refused only under QMOI_STRICT_NETWORK; otherwise it is sent (numbers can be ported)
    and a ``collection.network_mismatch`` warning is logged."""
    from qmoi.domain.msisdn import check_msisdn  # the one phone-number rule, shared

    policy = services.policy.provider(provider)
    strict = services.policy.strict_network
    hinted: list[int] = []
    capabilities = capabilities_of(services.providers.get(provider))
    if not requests:
        raise InvalidRequest(0, "give at least one payment request")
    if len(requests) > MAX_REQUESTS:
        raise InvalidRequest(MAX_REQUESTS, f"at most {MAX_REQUESTS} requests at a time")
    for index, request in enumerate(requests):
        checked = check_msisdn(request.msisdn, policy.country, policy.network)
        error = checked.problem or (checked.network_hint if strict else None)
        if error or checked.number != request.msisdn:
            raise InvalidRequest(
                index,
                error or "msisdn must be in international form without '+' (2547…, 2567…)",
                "invalid_msisdn",
            )
        if checked.network_hint is not None:
            hinted.append(index)
        if request.amount.currency != policy.currency or not request.amount.is_positive:
            raise InvalidRequest(
                index, f"amount must be a positive {policy.currency} amount", InvalidAmount.code
            )
        problem = capabilities.amount_problem(request.amount, "takes")
        if problem is not None:
            raise InvalidRequest(index, problem, InvalidAmount.code)
        stream(request.stream)
    for index in hinted:  # logged only once the whole batch is accepted
        log.warning(
            "collection.network_mismatch",
            provider=provider,
            index=index,
            msisdn=requests[index].msisdn,  # masked to its last digits by the log set-up
            country=policy.country,
            expected_network=policy.network,
        )


async def start_collections(
    services: Services, provider: str, requests: list[PaymentRequest], actor: str
) -> list[Collection]:
    """Store then send one push per request; returns them as they stand afterwards."""
    validate(services, provider, requests)
    policy = services.policy
    with services.uows() as uow:
        now = uow.now
        stored = uow.collections.add_many(
            [
                Collection(
                    id=None,
                    reference=new_reference(),
                    provider=provider,
                    msisdn=r.msisdn,
                    amount=r.amount,
                    stream=r.stream,
                    state=CollectionState.REQUESTED,
                    created_at=now,
                    updated_at=now,
                    sandbox=policy.sandbox,
                    account_reference=r.reference,
                    next_check_at=now + policy.lease(SEND_LEASE_S),
                    attempts=1,
                )
                for r in requests
            ]
        )
        uow.audit.append(
            actor,
            "collections.requested",
            {
                "provider": provider,
                "references": [c.reference for c in stored],
                "total_minor": sum(c.amount.minor for c in stored),
            },
            now,
        )
        uow.commit()
    gate = asyncio.Semaphore(16)

    async def one(collection: Collection) -> Collection:
        async with gate:
            return await send_collection(services, collection)

    return list(await asyncio.gather(*(one(c) for c in stored)))


async def send_collection(services: Services, collection: Collection) -> Collection:
    """Send one push and record what the provider said (or that we do not know)."""
    connector = services.providers[collection.provider]
    account_reference = collection.account_reference or services.account_references.get(
        collection.provider, "QMOI"
    )
    request = CollectRequest(
        reference=collection.reference,
        msisdn=collection.msisdn,
        amount=collection.amount,
        account_reference=account_reference[:12],
        description=stream(collection.stream).name,
    )
    try:
        submission = await connector.collect(request)
    except NotSent as exc:
        return _record_not_sent(services, collection, exc)
    except ProviderError as exc:
        status = exc.as_send_status()
        return await record_status(services, collection, status, "collect", request_id=None)
    return await record_status(
        services,
        collection,
        submission.status,
        "collect",
        request_id=submission.provider_request_id,
    )


async def record_status(
    services: Services,
    collection: Collection,
    status: ProviderStatus,
    source: str,
    *,
    request_id: str | None,
) -> Collection:
    """Apply ``status`` in a fresh transaction, reloading if another process got there;
    patient while the database is away (the answer may name a push nothing else does)."""
    return await patiently(
        lambda: _record_status(services, collection, status, source, request_id=request_id),
        "collection status",
    )


def _record_status(
    services: Services,
    collection: Collection,
    status: ProviderStatus,
    source: str,
    *,
    request_id: str | None,
) -> Collection:

    def step(uow: UnitOfWork) -> Collection:
        current = uow.collections.by_reference(collection.reference)
        assert current is not None  # noqa: S101 - stored before sending
        if request_id and not current.provider_request_id:
            current = replace(current, provider_request_id=request_id)
            uow.collections.save(current, current.state)
        if source in SENDS:
            # the push's prompt runs from now, not from the request: it may have been
            # sent again after a refusal, or after its sender died
            current = replace(current, sent_at=uow.now)
        return apply_collection_status(uow, services.policy, current, status, source=source)

    updated = retrying(services.uows, collection.reference, step)
    if updated.state is CollectionState.SUCCEEDED:
        services.wake()
    return updated


def _record_not_sent(services: Services, collection: Collection, exc: NotSent) -> Collection:
    """Nothing left: keep it ``requested``, marked safe to send again with the same id."""
    with services.uows() as uow:
        current = uow.collections.by_reference(collection.reference)
        assert current is not None  # noqa: S101
        updated = current.moved_to(
            CollectionState.REQUESTED,
            uow.now,
            reason="not_sent",
            provider_message=exc.detail,
            next_check_at=uow.now + next_check_in(current.attempts, current.reference),
        )
        uow.collections.save(updated, current.state)
        uow.commit()
    log.warning("collection.not_sent", reference=collection.reference, error=exc.detail)
    return updated
