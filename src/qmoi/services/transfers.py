"""Paying the owner: auto-transfer chunks, manual transfers, and what providers say.

Every transfer is reserved before it is sent: a ledger entry moves the amount from the
wallet to in-transit in the same transaction that stores the transfer, and the database
refuses a reservation the wallet cannot cover. The reference sent to the provider is
the idempotency key — ``QMOI-AT-20261129-0003`` for the third Airtel chunk of a day —
so a retry, a crash or a second worker can only ever ask for the same payment again,
which the provider refuses as a duplicate. A transfer whose outcome is unknown is only
ever resolved by asking the provider.

    reserved ──send──▶ submitted ──▶ succeeded (settle: in-transit → owner drawings)
        │                 │   ▲
        │                 ▼   │ enquiry
        └──timeout──▶  unknown ──▶ failed (release: in-transit → wallet;
                                           fallback on the other provider when allowed)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import structlog

from qmoi.domain import accounts
from qmoi.domain import ledger as L
from qmoi.domain.autotransfer import chunk_id, chunks_due
from qmoi.domain.errors import DomainError, DuplicateReference, InsufficientFunds, InvalidAmount
from qmoi.domain.money import Money
from qmoi.domain.retry import next_check_in
from qmoi.domain.states import TransferState
from qmoi.domain.transfer import Transfer, fallback_reference, manual_reference
from qmoi.providers.base import (
    AuthenticationFailed,
    DisburseRequest,
    FailureReason,
    NotSent,
    Outcome,
    OutcomeUnknown,
    ProviderError,
    ProviderStatus,
    Rejected,
)
from qmoi.services.booking import ConcurrentUpdate
from qmoi.services.bookkeeping import record_entries, record_entry
from qmoi.services.context import Services
from qmoi.services.ports import UnitOfWork

log = structlog.get_logger("qmoi.services.transfers")

T = TransferState
#: real seconds a claimed transfer is left to the worker sending or resolving it
CLAIM_LEASE_S = 60.0
#: how soon an unanswered fee question is asked again: doubling between these
FEE_RETRY_MIN_S, FEE_RETRY_MAX_S = 2.0, 300.0


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
            _settle_owed_fees(uow, provider, rules.currency, sandbox=policy.sandbox)
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
            transfer = Transfer(
                id=None,
                reference=reference,
                provider=provider,
                trigger="auto",
                business_day=day,
                sequence=sequence,
                msisdn=rules.owner_msisdn,
                amount=rules.chunk,
                state=T.RESERVED,
                actor="system",
                created_at=now,
                updated_at=now,
                sandbox=policy.sandbox,
                next_check_at=now,
            )
            try:
                stored = _reserve(uow, transfer)
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


def _reserve(uow: UnitOfWork, transfer: Transfer) -> Transfer | None:
    """Reserve the funds and store the transfer, or neither. None if it already exists.
    Fees still owed to the provider are paid from the wallet first."""
    _settle_owed_fees(uow, transfer.provider, transfer.amount.currency, sandbox=transfer.sandbox)
    entry = L.transfer_reserved(
        transfer.provider, transfer.amount, transfer.reference, uow.now, sandbox=transfer.sandbox
    )
    try:
        record_entry(uow, entry, transfer.actor)
    except DuplicateReference:
        return None
    stored = uow.transfers.add(transfer)
    if stored is None:
        raise ConcurrentUpdate(transfer.reference)
    uow.audit.append(
        transfer.actor,
        f"transfer.{transfer.trigger}.reserved",
        {
            "reference": transfer.reference,
            "provider": transfer.provider,
            "msisdn": transfer.msisdn,
            "amount_minor": transfer.amount.minor,
            "currency": transfer.amount.currency,
        },
        uow.now,
    )
    return stored


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
    if provider == "mpesa" and amount.minor % 100:
        raise TransferRefused(InvalidAmount.code, "M-Pesa pays whole shillings only")
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
        transfer = Transfer(
            id=None,
            reference=reference,
            provider=provider,
            trigger="manual",
            business_day=services.policy.day(now),
            sequence=None,
            msisdn=rules.owner_msisdn,
            amount=amount,
            state=T.RESERVED,
            actor=actor,
            created_at=now,
            updated_at=now,
            sandbox=services.policy.sandbox,
            next_check_at=now + services.policy.lease(CLAIM_LEASE_S),
            attempts=1,
        )
        try:
            stored = _reserve(uow, transfer)
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


# --- sending and resolving -------------------------------------------------------------


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
    if transfer.state is T.RESERVED and transfer.attempts <= 1:
        return await send_transfer(services, transfer)
    connector = services.providers[transfer.provider]
    try:
        status = await connector.disbursement_status(
            transfer.reference, transfer.provider_request_id
        )
    except ProviderError as exc:
        status = ProviderStatus(Outcome.UNKNOWN, exc.provider_code or exc.code, exc.detail)
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
    if transfer.state is T.RESERVED:
        return True  # our send was interrupted before any answer: nothing to wait for
    if transfer.state is not T.UNKNOWN or transfer.provider_request_id is not None:
        return False  # the provider acknowledged it: wait for its answer
    quiet = (services.clock.now() - transfer.updated_at).total_seconds()
    return quiet >= services.policy.not_found_grace_s


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
    except NotSent as exc:
        status = ProviderStatus(Outcome.PENDING, "not_sent", exc.detail)
        return apply_transfer(services, transfer.reference, status, source="send", not_sent=True)
    except OutcomeUnknown as exc:
        status = ProviderStatus(Outcome.UNKNOWN, exc.provider_code or "unknown", exc.detail)
        return apply_transfer(services, transfer.reference, status, source="send")
    except (Rejected, AuthenticationFailed) as exc:
        reason = (
            FailureReason.AUTHORIZATION
            if isinstance(exc, AuthenticationFailed)
            else FailureReason.INVALID_REQUEST
        )
        status = ProviderStatus(
            Outcome.FAILED, exc.provider_code or exc.code, exc.detail, reason=reason
        )
        return apply_transfer(services, transfer.reference, status, source="send")
    except ProviderError as exc:
        status = ProviderStatus(Outcome.UNKNOWN, exc.provider_code or exc.code, exc.detail)
        return apply_transfer(services, transfer.reference, status, source="send")
    return apply_transfer(
        services,
        transfer.reference,
        submission.status,
        source="send",
        request_id=submission.provider_request_id,
    )


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
    for _ in range(3):
        with services.uows() as uow:
            current = uow.transfers.by_reference(reference)
            assert current is not None  # noqa: S101 - transfers are stored before sending
            try:
                updated = apply_transfer_status(
                    uow,
                    services,
                    current,
                    status,
                    source=source,
                    request_id=request_id,
                    not_sent=not_sent,
                )
            except ConcurrentUpdate:
                continue
            uow.commit()
        return updated
    raise ConcurrentUpdate(reference)


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
    if transfer.is_final:
        if status.outcome is Outcome.SUCCEEDED and transfer.state is T.FAILED:
            _contradiction(uow, transfer, status)
        return transfer
    changes: dict[str, object] = {
        "provider_code": status.provider_code or transfer.provider_code,
        "provider_message": status.provider_message or transfer.provider_message,
    }
    if request_id and not transfer.provider_request_id:
        changes["provider_request_id"] = request_id
    if status.outcome is Outcome.SUCCEEDED:
        updated = transfer.moved_to(
            T.SUCCEEDED,
            now,
            next_check_at=None,
            provider_reference=status.provider_reference,
            fee=status.fee,
            **changes,
        )
        _settle(uow, updated, status.fee)
    elif status.outcome is Outcome.FAILED:
        updated = transfer.moved_to(
            T.FAILED,
            now,
            next_check_at=None,
            reason=status.reason.value if status.reason else "failed",
            **changes,
        )
        _release(uow, updated)
    elif not_sent:
        updated = transfer.moved_to(
            transfer.state,
            now,
            reason="not_sent",
            next_check_at=now + next_check_in(transfer.attempts, transfer.reference),
            **changes,
        )
    else:
        target = T.SUBMITTED if status.outcome is Outcome.PENDING else T.UNKNOWN
        if transfer.state is T.UNKNOWN and target is T.UNKNOWN:
            target = T.UNKNOWN
        elif transfer.state is T.SUBMITTED and status.outcome is Outcome.UNKNOWN:
            target = T.SUBMITTED  # an unclear enquiry does not make a sent transfer unknown
        updated = transfer.moved_to(
            target,
            now,
            next_check_at=now + next_check_in(transfer.attempts, transfer.reference),
            **changes,
        )
    if not uow.transfers.save(updated, transfer.state):
        raise ConcurrentUpdate(transfer.reference)
    if updated.state is not transfer.state:
        uow.audit.append(
            "system",
            f"transfer.{updated.state.value}",
            {
                "reference": transfer.reference,
                "source": source,
                "provider_code": status.provider_code,
                "provider_reference": updated.provider_reference,
            },
            now,
        )
        log.info(
            "transfer.moved",
            reference=transfer.reference,
            provider=transfer.provider,
            was=transfer.state.value,
            now=updated.state.value,
            source=source,
        )
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


def _settle(uow: UnitOfWork, transfer: Transfer, fee: Money | None) -> None:
    """Settle the transfer, with its fee when the provider named one. Both entries are
    posted as one, so their accounts are locked in the ledger's one order: posted one
    after the other they locked in-transit before the wallet, a concurrent reservation
    the other way round, and PostgreSQL found a deadlock (three workers, M-Pesa)."""
    settled = L.transfer_settled(
        transfer.provider, transfer.amount, transfer.reference, uow.now, sandbox=transfer.sandbox
    )
    if fee is None or not fee.is_positive:
        record_entry(uow, settled, "system")
        return
    reference = f"{transfer.reference}:fee"
    charged = L.fee_charged(transfer.provider, fee, reference, uow.now, sandbox=transfer.sandbox)
    try:
        record_entries(uow, [settled, charged], "system")
    except InsufficientFunds:
        # the provider took the fee from float our books do not hold: owe it instead
        owed = L.fee_payable(transfer.provider, fee, reference, uow.now, sandbox=transfer.sandbox)
        record_entries(uow, [settled, owed], "system")


def _book_fee(uow: UnitOfWork, transfer: Transfer, fee: Money) -> None:
    reference = f"{transfer.reference}:fee"
    if uow.ledger.has_reference(reference):
        return
    entry = L.fee_charged(transfer.provider, fee, reference, uow.now, sandbox=transfer.sandbox)
    try:
        record_entry(uow, entry, "system")
    except InsufficientFunds:
        # The provider took the fee from float our books do not hold: owe it instead of
        # letting the wallet go below zero.
        record_entry(
            uow,
            L.fee_payable(transfer.provider, fee, reference, uow.now, sandbox=transfer.sandbox),
            "system",
        )


def _settle_owed_fees(uow: UnitOfWork, provider: str, currency: str, *, sandbox: bool) -> None:
    """A fee booked while the wallet was fully reserved was owed (``fees_payable``):
    the provider took it from float our books did not hold. Revenue booked since is
    that float, so it pays the fee before anything else is reserved — otherwise the
    books' wallet would stay above the provider's by the fee. Oldest first, one entry
    per fee (a deterministic reference: two workers cannot settle one fee twice)."""
    for reference, fee in uow.ledger.owed(accounts.fees_payable(provider), currency):
        try:
            record_entry(
                uow, L.fee_settled(provider, fee, reference, uow.now, sandbox=sandbox), "system"
            )
        except DuplicateReference:
            continue
        except InsufficientFunds:
            return


def _release(uow: UnitOfWork, transfer: Transfer) -> None:
    record_entry(
        uow,
        L.transfer_released(
            transfer.provider,
            transfer.amount,
            transfer.reference,
            uow.now,
            sandbox=transfer.sandbox,
        ),
        "system",
    )


def _after_failure(uow: UnitOfWork, services: Services, transfer: Transfer) -> None:
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
        other = "mpesa" if transfer.provider == "airtel" else "airtel"
        rules = policy.providers.get(other)
        if rules is not None and rules.currency == transfer.amount.currency:
            fallback = Transfer(
                id=None,
                reference=fallback_reference(transfer.reference),
                provider=other,
                trigger=transfer.trigger,
                business_day=transfer.business_day,
                sequence=transfer.sequence,
                msisdn=rules.owner_msisdn,
                amount=transfer.amount,
                state=T.RESERVED,
                actor="system",
                created_at=uow.now,
                updated_at=uow.now,
                sandbox=transfer.sandbox,
                fallback_of=transfer.id,
                next_check_at=uow.now,
            )
            try:
                if _reserve(uow, fallback) is not None:
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


def _ask_fee_later(services: Services, transfer: Transfer) -> None:
    with services.uows() as uow:
        current = uow.transfers.by_reference(transfer.reference, for_update=True)
        if current is None or current.fee is not None:
            return
        waited = (uow.now - current.updated_at).total_seconds()
        delay = timedelta(seconds=min(max(2 * waited, FEE_RETRY_MIN_S), FEE_RETRY_MAX_S))
        uow.transfers.save(
            replace(current, next_check_at=uow.now + delay, updated_at=uow.now), current.state
        )
        uow.commit()


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


async def collect_fees(services: Services, limit: int = 10) -> int:
    """Book the fees of paid transfers whose result did not carry one (M-Pesa): ask the
    provider's status, post the fee once (reference ``{transfer}:fee``), and record it on
    the transfer (0 when the provider names none). A question left unanswered is asked
    again later and later (2 s doubling to 5 min): each can hold the worker for as long
    as the provider takes to call back."""
    done = 0
    for provider, rules in services.policy.providers.items():
        if not rules.fee_by_enquiry:
            continue
        with services.uows(read_only=True) as uow:
            pending = uow.transfers.fee_unknown(provider, limit, uow.now)
        for transfer in pending:
            try:
                status = await services.providers[provider].disbursement_status(
                    transfer.reference, transfer.provider_request_id
                )
            except ProviderError:
                _ask_fee_later(services, transfer)
                continue
            if status.outcome is not Outcome.SUCCEEDED:
                _ask_fee_later(services, transfer)
                continue
            fee = status.fee or Money.zero(transfer.amount.currency)
            with services.uows() as uow:
                # another worker may be booking the same fee: the lock makes one wait
                current = uow.transfers.by_reference(transfer.reference, for_update=True)
                if current is None or current.fee is not None:
                    continue
                if fee.is_positive:
                    _book_fee(uow, current, fee)
                uow.transfers.save(replace(current, fee=fee, updated_at=uow.now), current.state)
                uow.commit()
            done += 1
    return done
