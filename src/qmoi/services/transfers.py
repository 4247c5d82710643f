"""Paying the owner: auto-transfer chunks and manual transfers, reserved then sent.

Every transfer is reserved before it is sent (:mod:`~qmoi.services.transfer_books`): a
ledger entry moves the amount from the wallet to in-transit in the same transaction
that stores the transfer, and the database refuses a reservation the wallet cannot
cover. The reference sent to the provider is the idempotency key —
``QMOI-AT-20261129-0003`` for the third Airtel chunk of a day — so a retry, a crash or
a second worker can only ever ask for the same payment again, which the provider
refuses as a duplicate. A transfer whose outcome is unknown is only ever resolved by
asking the provider (:mod:`~qmoi.services.transfer_sending`); what each answer does is
the domain's table (:mod:`qmoi.domain.transfer_states`):

    reserved ──send──▶ submitted ──▶ succeeded (settle: in-transit → owner drawings)
        │                 │   ▲
        │                 ▼   │ enquiry
        └──timeout──▶  unknown ──▶ failed (release: in-transit → wallet;
                                           fallback on the other provider when allowed)

This module plans and starts transfers; applying the provider's word is
:mod:`~qmoi.services.transfer_outcomes`, and fees learnt later
:mod:`~qmoi.services.transfer_fees`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import structlog

from qmoi.domain import accounts
from qmoi.domain.autotransfer import chunk_id, chunks_due
from qmoi.domain.errors import DomainError, InsufficientFunds, InvalidAmount
from qmoi.domain.money import Money
from qmoi.domain.transfer import Transfer, manual_reference
from qmoi.providers.base import ProviderError, capabilities_of
from qmoi.services.conflicts import ConcurrentUpdate
from qmoi.services.context import Services
from qmoi.services.transfer_books import new_transfer, reserve, settle_owed_fees
from qmoi.services.transfer_fees import collect_fees
from qmoi.services.transfer_sending import CLAIM_LEASE_S, send_transfer

log = structlog.get_logger("qmoi.services.transfers")

__all__ = [
    "Available",
    "TransferRefused",
    "available_funds",
    "collect_fees",
    "manual_transfer",
    "plan_auto_transfers",
]


# --- planning --------------------------------------------------------------------------


def plan_auto_transfers(
    services: Services, provider: str, day: date | None = None
) -> list[Transfer]:
    """Reserve every chunk the rule prescribes now for ``provider``; returns the new ones.

    Plans today's chunks — and those of any earlier day not closed yet, so a chunk earned
    at 23:59 is not lost to the turn of the day. Safe to run from any number of
    processes at once: chunk identities are deterministic and unique in the database, so
    a second planner's insert fails and its transaction rolls back.
    """
    if not services.policy.auto_transfer:
        return []
    if day is not None:
        return _plan_day(services, provider, day)
    with services.uows(read_only=True) as uow:
        today = services.policy.day(uow.now)
        earlier = uow.totals.open_days(provider, today)
        # A chunk the provider refused stays owed after its day closes (the chaos run
        # found one refused for want of float just after midnight, never paid).
        refused = uow.transfers.days_with_refused_chunks(provider, today)
    planned: list[Transfer] = []
    for open_day in sorted({*earlier, *refused}) + [today]:
        planned += _plan_day(services, provider, open_day)
    return planned


def _plan_day(services: Services, provider: str, day: date) -> list[Transfer]:
    policy = services.policy
    rules = policy.provider(provider)
    planned: list[Transfer] = []
    with services.uows() as uow:
        now = uow.now
        earned = Money(sum(uow.totals.by_stream(day, provider).values()), rules.currency)
        covered = uow.transfers.covered_chunks(provider, day)
        due = chunks_due(earned, rules.chunk, len(covered))
        if due == 0:
            # no chunk to reserve, but fees owed are paid as soon as revenue allows
            settle_owed_fees(uow, provider, rules.currency, sandbox=policy.sandbox)
            uow.commit()
            return []
        last_failure = uow.transfers.latest_failed_auto(provider, day)
        if (
            last_failure is not None
            and (now - last_failure.updated_at).total_seconds() < policy.transfer_retry_s
        ):
            return []  # the provider refused a chunk recently: wait before asking again
        free = (n for n in range(1, len(covered) + due + 1) if n not in covered)
        for sequence in list(free)[:due]:
            attempt = uow.transfers.failed_auto_attempts(provider, day, sequence)
            reference = chunk_id(provider, day, sequence) + (f"-R{attempt}" if attempt else "")
            transfer = new_transfer(
                rules,
                reference,
                rules.chunk,
                day,
                now,
                trigger="auto",
                sandbox=policy.sandbox,
                sequence=sequence,
            )
            try:
                stored = reserve(uow, transfer)
            except InsufficientFunds:
                log.info("transfer.waiting_for_funds", provider=provider, chunk=reference)
                break
            if stored is None:
                return []  # another worker planned it; our transaction rolls back
            planned.append(stored)
        uow.commit()
    for transfer in planned:
        log.info(
            "transfer.planned",
            reference=transfer.reference,
            provider=provider,
            amount=str(transfer.amount),
        )
    return planned


# --- manual transfers ------------------------------------------------------------------


class TransferRefused(DomainError):
    """A manual transfer that cannot be made (amount, funds, provider balance)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Available:
    ledger: Money  # wallet balance in our books (already net of reservations)
    provider: Money | None  # what the provider says the wallet holds, if it answered


async def manual_transfer(
    services: Services, provider: str, amount: Money, actor: str, idempotency_key: str | None = None
) -> Transfer:
    """Transfer ``amount`` to the owner now, if both our books and the provider's balance
    cover it. The same idempotency key always names the same transfer."""
    rules = services.policy.provider(provider)
    if amount.currency != rules.currency or not amount.is_positive:
        raise TransferRefused(
            InvalidAmount.code, f"the amount must be a positive {rules.currency} amount"
        )
    problem = capabilities_of(services.providers.get(provider)).amount_problem(amount, "pays")
    if problem is not None:
        raise TransferRefused(InvalidAmount.code, problem)
    reference = manual_reference(provider, idempotency_key)
    with services.uows(read_only=True) as uow:
        existing = uow.transfers.by_reference(reference)
    if existing is not None:
        return existing
    available = await available_funds(services, provider)
    if amount > available.ledger:
        raise TransferRefused(
            "insufficient_funds",
            f"only {available.ledger} is available on {provider} "
            f"(earned and not yet transferred or reserved)",
        )
    if available.provider is not None and amount > available.provider:
        raise TransferRefused(
            "insufficient_funds", f"{provider} reports only {available.provider} in the wallet"
        )
    with services.uows() as uow:
        now = uow.now
        transfer = new_transfer(
            rules,
            reference,
            amount,
            services.policy.day(now),
            now,
            trigger="manual",
            sandbox=services.policy.sandbox,
            actor=actor,
            next_check_at=now + services.policy.lease(CLAIM_LEASE_S),
            attempts=1,
        )
        try:
            stored = reserve(uow, transfer)
        except InsufficientFunds as exc:
            raise TransferRefused("insufficient_funds", str(exc)) from exc
        except ConcurrentUpdate:
            stored = None
        if stored is None:
            uow.rollback()
            with services.uows(read_only=True) as again:
                found = again.transfers.by_reference(reference)
            assert found is not None  # noqa: S101 - it exists: that is why we lost
            return found
        uow.commit()
    return await send_transfer(services, stored)


async def available_funds(services: Services, provider: str) -> Available:
    rules = services.policy.provider(provider)
    with services.uows(read_only=True) as uow:
        ledger = uow.ledger.balance(accounts.wallet(provider), rules.currency)
    try:
        reported = (await services.providers[provider].balance()).available
    except ProviderError as exc:
        log.warning("balance.unavailable", provider=provider, error=exc.detail)
        reported = None
    return Available(ledger, reported)
