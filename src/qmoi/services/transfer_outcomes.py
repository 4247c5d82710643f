"""A provider's word about a transfer, applied: the state it moves to, with its ledger
entries, audit record and the owner's notice, in one transaction.

Which state each word leads to is the domain's table
(:mod:`qmoi.domain.transfer_states`); here it is read from a :class:`ProviderStatus`
and carried out. The transfer is saved with a compare-and-set on the state it was read
in, so when a callback and an enquiry race, one moves it and the other is retried on
what is stored now.
"""

from __future__ import annotations

import structlog

from qmoi.domain.errors import InsufficientFunds
from qmoi.domain.retry import next_check_in
from qmoi.domain.states import TransferState
from qmoi.domain.transfer import Transfer, fallback_reference
from qmoi.domain.transfer_states import TransferEvent, contradicts, next_state
from qmoi.providers.base import FailureReason, Outcome, ProviderStatus
from qmoi.services.conflicts import ConcurrentUpdate, retrying
from qmoi.services.context import Services
from qmoi.services.ports import UnitOfWork
from qmoi.services.transfer_books import new_transfer, release, reserve, settle

log = structlog.get_logger("qmoi.services.transfers")

T, E = TransferState, TransferEvent


def event_of(status: ProviderStatus, *, not_sent: bool = False) -> TransferEvent:
    """What a provider's answer tells of a transfer; ``not_sent``: our request never
    left (a final answer still counts as one)."""
    if status.outcome is Outcome.SUCCEEDED:
        return E.PAID
    if status.outcome is Outcome.FAILED:
        return E.REFUSED
    if not_sent:
        return E.NOT_SENT
    return E.ACCEPTED if status.outcome is Outcome.PENDING else E.UNCLEAR


def apply_transfer(
    services: Services,
    reference: str,
    status: ProviderStatus,
    *,
    source: str,
    request_id: str | None = None,
    not_sent: bool = False,
) -> Transfer:
    """Apply a provider's word in a fresh transaction, reloading on a lost race."""

    def step(uow: UnitOfWork) -> Transfer:
        current = uow.transfers.by_reference(reference)
        assert current is not None  # noqa: S101 - transfers are stored before sending
        return apply_transfer_status(
            uow,
            services,
            current,
            status,
            source=source,
            request_id=request_id,
            not_sent=not_sent,
        )

    return retrying(services.uows, reference, step)


def apply_transfer_status(
    uow: UnitOfWork,
    services: Services,
    transfer: Transfer,
    status: ProviderStatus,
    *,
    source: str,
    request_id: str | None = None,
    not_sent: bool = False,
) -> Transfer:
    """Move ``transfer`` as ``status`` says, with its ledger entries, in ``uow``."""
    now = uow.now
    event = event_of(status, not_sent=not_sent)
    if transfer.is_final:
        if contradicts(transfer.state, event):
            _contradiction(uow, transfer, status)
        return transfer
    target = next_state(transfer.state, event)
    changes: dict[str, object] = {
        "provider_code": status.provider_code or transfer.provider_code,
        "provider_message": status.provider_message or transfer.provider_message,
    }
    if request_id and not transfer.provider_request_id:
        changes["provider_request_id"] = request_id
    if target is T.SUCCEEDED:
        updated = transfer.moved_to(
            target,
            now,
            next_check_at=None,
            provider_reference=status.provider_reference,
            fee=status.fee,
            **changes,
        )
        settle(uow, updated, status.fee)
    elif target is T.FAILED:
        reason = status.reason.value if status.reason else "failed"
        updated = transfer.moved_to(target, now, next_check_at=None, reason=reason, **changes)
        release(uow, updated)
    else:
        if event is E.NOT_SENT:
            changes["reason"] = "not_sent"
        updated = transfer.moved_to(
            target,
            now,
            next_check_at=now + next_check_in(transfer.attempts, transfer.reference),
            **changes,
        )
    if not uow.transfers.save(updated, transfer.state):
        raise ConcurrentUpdate(transfer.reference)
    if updated.state is not transfer.state:
        _moved(uow, transfer, updated, status, source)
    if updated.state is T.FAILED:
        _after_failure(uow, services, updated)
    elif updated.state is T.SUCCEEDED:
        uow.notifications.add(
            "transfer_completed",
            f"{updated.provider}: {updated.amount} sent to your wallet ({updated.reference})",
            now,
            provider=updated.provider,
            payload={
                "reference": updated.reference,
                "amount_minor": updated.amount.minor,
                "trigger": updated.trigger,
            },
            dedupe_key=f"transfer_completed:{updated.reference}",
        )
    return updated


def _moved(
    uow: UnitOfWork, was: Transfer, updated: Transfer, status: ProviderStatus, source: str
) -> None:
    uow.audit.append(
        "system",
        f"transfer.{updated.state.value}",
        {
            "reference": was.reference,
            "source": source,
            "provider_code": status.provider_code,
            "provider_reference": updated.provider_reference,
        },
        uow.now,
    )
    log.info(
        "transfer.moved",
        reference=was.reference,
        provider=was.provider,
        was=was.state.value,
        now=updated.state.value,
        source=source,
    )


def _after_failure(uow: UnitOfWork, services: Services, transfer: Transfer) -> None:
    """Tell the owner; a chunk the wallet could not pay goes through the other provider
    when the policy allows (once: a fallback has no fallback)."""
    policy = services.policy
    message = (
        f"{transfer.provider}: transfer {transfer.reference} of {transfer.amount} "
        f"failed ({transfer.reason}); the money is back in the wallet"
    )
    if (
        transfer.reason == FailureReason.INSUFFICIENT_FUNDS.value
        and policy.fallback
        and transfer.fallback_of is None
    ):
        other = next((name for name in policy.providers if name != transfer.provider), None)
        rules = policy.providers.get(other) if other is not None else None
        if rules is not None and rules.currency == transfer.amount.currency:
            fallback = new_transfer(
                rules,
                fallback_reference(transfer.reference),
                transfer.amount,
                transfer.business_day,
                uow.now,
                trigger=transfer.trigger,
                sandbox=transfer.sandbox,
                sequence=transfer.sequence,
                fallback_of=transfer.id,
            )
            try:
                if reserve(uow, fallback) is not None:
                    message += f"; routing it through {other} instead"
            except InsufficientFunds:
                message += f"; {other} cannot cover it either"
    uow.notifications.add(
        "transfer_failed",
        message,
        uow.now,
        provider=transfer.provider,
        payload={
            "reference": transfer.reference,
            "reason": transfer.reason,
            "amount_minor": transfer.amount.minor,
        },
        dedupe_key=f"transfer_failed:{transfer.reference}",
    )


def _contradiction(uow: UnitOfWork, transfer: Transfer, status: ProviderStatus) -> None:
    uow.notifications.add(
        "transfer_contradiction",
        f"{transfer.provider} now reports transfer {transfer.reference} as paid after it had "
        "failed; check the provider statement",
        uow.now,
        provider=transfer.provider,
        payload={"reference": transfer.reference, "provider_code": status.provider_code},
        dedupe_key=f"transfer_contradiction:{transfer.reference}",
    )
