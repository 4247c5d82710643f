"""A transfer's money in the ledger: reserved before it is sent, then settled or released.

Reserving moves the amount from the wallet to in-transit in the same transaction that
stores the transfer, and the database refuses a reservation the wallet cannot cover. A
paid transfer is settled (in-transit → owner drawings) with the provider's fee; a failed
one is released (in-transit → wallet). A fee the wallet could not cover is owed to the
provider, and paid from the next revenue before anything else is reserved.
"""

from __future__ import annotations

from datetime import date, datetime

from qmoi.domain import accounts
from qmoi.domain import ledger as L
from qmoi.domain.errors import DuplicateReference, InsufficientFunds
from qmoi.domain.money import Money
from qmoi.domain.states import TransferState
from qmoi.domain.transfer import Transfer
from qmoi.services.bookkeeping import record_entries, record_entry
from qmoi.services.conflicts import ConcurrentUpdate
from qmoi.services.policy import ProviderPolicy
from qmoi.services.ports import UnitOfWork


def new_transfer(
    rules: ProviderPolicy,
    reference: str,
    amount: Money,
    day: date,
    now: datetime,
    *,
    trigger: str,
    sandbox: bool,
    sequence: int | None = None,
    actor: str = "system",
    fallback_of: int | None = None,
    next_check_at: datetime | None = None,
    attempts: int = 0,
) -> Transfer:
    """``amount`` to the owner's wallet on ``rules``' provider, not reserved or sent yet:
    the one shape an auto-transfer chunk, a manual transfer and a fallback start in."""
    return Transfer(
        id=None,
        reference=reference,
        provider=rules.name,
        trigger=trigger,
        business_day=day,
        sequence=sequence,
        msisdn=rules.owner_msisdn,
        amount=amount,
        state=TransferState.RESERVED,
        actor=actor,
        created_at=now,
        updated_at=now,
        sandbox=sandbox,
        fallback_of=fallback_of,
        next_check_at=now if next_check_at is None else next_check_at,
        attempts=attempts,
    )


def reserve(uow: UnitOfWork, transfer: Transfer) -> Transfer | None:
    """Reserve the funds and store the transfer, or neither. None if it already exists.
    Fees still owed to the provider are paid from the wallet first."""
    settle_owed_fees(uow, transfer.provider, transfer.amount.currency, sandbox=transfer.sandbox)
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


def settle(uow: UnitOfWork, transfer: Transfer, fee: Money | None) -> None:
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


def release(uow: UnitOfWork, transfer: Transfer) -> None:
    """A failed transfer's money goes back to the wallet."""
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


def book_fee(uow: UnitOfWork, transfer: Transfer, fee: Money) -> None:
    """The fee of a transfer already settled, learnt afterwards; once only."""
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


def settle_owed_fees(uow: UnitOfWork, provider: str, currency: str, *, sandbox: bool) -> None:
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
