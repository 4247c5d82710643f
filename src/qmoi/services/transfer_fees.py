"""The fees of paid transfers whose result named none, asked for afterwards.

Some providers' payout results carry no fee (Daraja's B2C result; its Transaction
Status names it): the policy marks them ``fee_by_enquiry``. Each such transfer is asked
about once it is paid, its fee posted once (reference ``{transfer}:fee``) and recorded
on the transfer — 0 when the provider names none.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from qmoi.domain.money import Money
from qmoi.domain.transfer import Transfer
from qmoi.providers.base import Outcome, ProviderError
from qmoi.services.context import Services
from qmoi.services.transfer_books import book_fee

#: how soon an unanswered fee question is asked again: doubling between these
FEE_RETRY_MIN_S, FEE_RETRY_MAX_S = 2.0, 300.0


async def collect_fees(services: Services, limit: int = 10) -> int:
    """Book the fees of paid transfers whose result did not carry one. A question left
    unanswered is asked again later and later (2 s doubling to 5 min): each can hold
    the worker for as long as the provider takes to call back."""
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
                    book_fee(uow, current, fee)
                uow.transfers.save(replace(current, fee=fee, updated_at=uow.now), current.state)
                uow.commit()
            done += 1
    return done


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
