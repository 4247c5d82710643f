"""Sending transfers and asking about them — the only code that asks a provider to pay.

Due transfers are claimed with a lease (any number of workers). A reserved transfer on
its first attempt is sent; any other may have gone out before, so the provider is asked
first, and it is sent again — under the same reference, which the provider refuses as a
duplicate — only when the domain's rule allows (:func:`may_send_again`).
"""

from __future__ import annotations

import structlog

from qmoi.domain.transfer import Transfer
from qmoi.domain.transfer_states import first_send, may_send_again
from qmoi.providers.base import (
    DisburseRequest,
    FailureReason,
    NotSent,
    Outcome,
    ProviderError,
    ProviderStatus,
)
from qmoi.services.context import Services
from qmoi.services.transfer_outcomes import apply_transfer

log = structlog.get_logger("qmoi.services.transfers")

#: real seconds a claimed transfer is left to the worker sending or resolving it
CLAIM_LEASE_S = 60.0


def claim_due_transfers(services: Services, limit: int = 5) -> list[Transfer]:
    with services.uows() as uow:
        claimed = uow.transfers.claim_due(uow.now, services.policy.lease(CLAIM_LEASE_S), limit)
        uow.commit()
    return claimed


async def advance_transfer(services: Services, transfer: Transfer) -> Transfer:
    """Do the next safe thing for a claimed transfer: send it the first time; otherwise
    (it may have been sent before) ask the provider. Only when the provider says it has
    no such transaction — and long enough after our last attempt that it would know — is
    it sent again, under the same reference, which the provider refuses as a duplicate
    should it exist after all. A transfer the provider acknowledged is never re-sent."""
    if first_send(transfer.state, transfer.attempts):
        return await send_transfer(services, transfer)
    connector = services.providers[transfer.provider]
    try:
        status = await connector.disbursement_status(
            transfer.reference, transfer.provider_request_id
        )
    except ProviderError as exc:
        status = exc.as_status()
    if _never_arrived(services, transfer, status):
        if not _claim_resend(services, transfer):
            log.info("transfer.resend_taken", reference=transfer.reference)
            return transfer  # another worker claimed it since: it decides
        return await send_transfer(services, transfer)
    return apply_transfer(services, transfer.reference, status, source="enquiry")


def _claim_resend(services: Services, transfer: Transfer) -> bool:
    """Only one worker may send again: the one whose claim is still the latest."""
    with services.uows() as uow:
        mine = uow.transfers.claim_resend(transfer, uow.now)
        uow.commit()
    return mine


def _never_arrived(services: Services, transfer: Transfer, status: ProviderStatus) -> bool:
    if status.reason is not FailureReason.NOT_FOUND or status.outcome is Outcome.SUCCEEDED:
        return False
    return may_send_again(
        transfer.state,
        acknowledged=transfer.provider_request_id is not None,
        quiet_s=(services.clock.now() - transfer.updated_at).total_seconds(),
        grace_s=services.policy.not_found_grace_s,
    )


async def send_transfer(services: Services, transfer: Transfer) -> Transfer:
    connector = services.providers[transfer.provider]
    request = DisburseRequest(
        reference=transfer.reference,
        msisdn=transfer.msisdn,
        amount=transfer.amount,
        remarks="QMOI payout",
    )
    log.info("transfer.sending", reference=transfer.reference, provider=transfer.provider)
    try:
        submission = await connector.disburse(request)
    except ProviderError as exc:
        return apply_transfer(
            services,
            transfer.reference,
            exc.as_send_status(),
            source="send",
            not_sent=isinstance(exc, NotSent),
        )
    return apply_transfer(
        services,
        transfer.reference,
        submission.status,
        source="send",
        request_id=submission.provider_request_id,
    )
