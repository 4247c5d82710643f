"""Paying the owner, on the in-memory store: the auto-transfer rule, and the transfer
state machine driven through the services (send, enquiry, settle, release, fallback)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qmoi.domain import accounts
from qmoi.domain.clock import ManualClock
from qmoi.domain.errors import InsufficientFunds
from qmoi.domain.money import Money
from qmoi.domain.states import TransferState
from qmoi.domain.transfer import Transfer
from qmoi.providers.base import FailureReason, NotSent
from qmoi.services.booking import ConcurrentUpdate
from qmoi.services.context import Services
from qmoi.services.resolver import resolve_transfers
from qmoi.services.transfer_outcomes import apply_transfer_status
from qmoi.services.transfer_sending import advance_transfer, claim_due_transfers
from qmoi.services.transfers import TransferRefused, manual_transfer, plan_auto_transfers
from tests.fakes import NOT_FOUND, PENDING, failed, succeeded, timeout_after_sending
from tests.unit.services.support import (
    balance,
    entries,
    fake,
    kes,
    make_services,
    notices,
    pay,
    transfer,
    wallet,
)

pytestmark = [pytest.mark.transfer]

T = TransferState


@pytest.fixture
def services(clock: ManualClock) -> Services:
    return make_services(clock)


def due_now(services: Services, reference: str) -> None:
    with services.uows() as uow:
        current = uow.transfers.by_reference(reference)
        assert current is not None
        assert uow.transfers.save(replace(current, next_check_at=uow.now), current.state)
        uow.commit()


# --- planning --------------------------------------------------------------------------


async def test_the_rule_reserves_one_chunk_per_2000_earned_once(services: Services) -> None:
    for amount in ("2500", "2500", "2300"):
        await pay(services, "airtel", amount)
    planned = plan_auto_transfers(services, "airtel")
    assert [t.reference for t in planned] == [
        "QMOI-AT-20261129-0001",
        "QMOI-AT-20261129-0002",
        "QMOI-AT-20261129-0003",
    ]
    assert all(t.state is T.RESERVED and t.amount == kes("2000") for t in planned)
    assert plan_auto_transfers(services, "airtel") == []  # planning twice plans nothing
    assert wallet(services) == kes("1300")
    assert balance(services, accounts.in_transit("airtel")) == kes("6000")
    await pay(services, "airtel", "700")  # 8,000 earned: the fourth chunk
    assert [t.sequence for t in plan_auto_transfers(services, "airtel")] == [4]


async def test_nothing_is_reserved_below_a_chunk(services: Services) -> None:
    await pay(services, "airtel", "1999")
    assert plan_auto_transfers(services, "airtel") == []
    assert wallet(services) == kes("1999")


async def test_auto_transfers_off_plan_nothing(clock: ManualClock) -> None:
    services = make_services(clock, QMOI_AUTO_TRANSFER="false")
    await pay(services, "airtel", "5000")
    assert plan_auto_transfers(services, "airtel") == []


# --- the state machine -----------------------------------------------------------------


async def test_a_paid_chunk_is_settled_to_the_owner(services: Services) -> None:
    await pay(services, "airtel", "2000")
    (chunk,) = plan_auto_transfers(services, "airtel")
    await resolve_transfers(services)
    done = transfer(services, chunk.reference)
    assert done.state is T.SUCCEEDED
    assert balance(services, accounts.OWNER_DRAWINGS) == kes("2000")
    assert balance(services, accounts.in_transit("airtel")) == Money.zero()
    assert "transfer_completed" in notices(services)
    assert len(fake(services, "airtel").paid) == 1


async def test_a_timed_out_payout_is_asked_about_and_settled_once(services: Services) -> None:
    await pay(services, "airtel", "2000")
    provider = fake(services, "airtel")
    provider.payouts.append(timeout_after_sending())
    (chunk,) = plan_auto_transfers(services, "airtel")
    await resolve_transfers(services)
    assert transfer(services, chunk.reference).state is T.UNKNOWN
    provider.statuses[chunk.reference] = succeeded(kes("2000"), "PAID-1")
    due_now(services, chunk.reference)
    await resolve_transfers(services)
    assert len(provider.paid) == 1  # asked about, never sent again
    assert transfer(services, chunk.reference).state is T.SUCCEEDED
    assert entries(services).count(f"{chunk.reference}:settle") == 1
    assert transfer(services, chunk.reference).next_check_at is None


async def test_a_refused_payout_is_released_to_the_wallet(services: Services) -> None:
    await pay(services, "airtel", "2000")
    fake(services, "airtel").payouts.append(failed(FailureReason.INVALID_REQUEST))
    (chunk,) = plan_auto_transfers(services, "airtel")
    await resolve_transfers(services)
    assert transfer(services, chunk.reference).state is T.FAILED
    assert wallet(services) == kes("2000")
    assert balance(services, accounts.in_transit("airtel")) == Money.zero()
    assert "transfer_failed" in notices(services)


async def test_a_wallet_short_of_funds_falls_back_to_the_other_provider(
    clock: ManualClock,
) -> None:
    services = make_services(clock, QMOI_TRANSFER_FALLBACK="true")
    await pay(services, "airtel", "2000")
    await pay(services, "mpesa", "2500")
    fake(services, "airtel").payouts.append(failed(FailureReason.INSUFFICIENT_FUNDS))
    (chunk,) = plan_auto_transfers(services, "airtel")
    await resolve_transfers(services)  # airtel refuses: released, fallback reserved on mpesa
    await resolve_transfers(services)  # the fallback goes out on mpesa
    assert transfer(services, chunk.reference).state is T.FAILED
    fallback = transfer(services, chunk.reference + "-FB")
    assert fallback.state is T.SUCCEEDED
    assert fallback.provider == "mpesa"
    assert wallet(services, "airtel") == kes("2000")
    assert wallet(services, "mpesa") == kes("500")
    assert plan_auto_transfers(services, "airtel") == []  # the chunk is carried


async def test_an_unsent_payout_stays_reserved_and_goes_out_later(services: Services) -> None:
    await pay(services, "airtel", "2000")
    provider = fake(services, "airtel")
    provider.payouts.append(NotSent("airtel", "disburse", "connection refused"))
    (chunk,) = plan_auto_transfers(services, "airtel")
    await resolve_transfers(services)
    held = transfer(services, chunk.reference)
    assert held.state is T.RESERVED
    assert held.reason == "not_sent"
    assert balance(services, accounts.in_transit("airtel")) == kes("2000")
    provider.statuses[chunk.reference] = NOT_FOUND
    due_now(services, chunk.reference)
    await resolve_transfers(services)  # the provider never had it: sent again
    assert transfer(services, chunk.reference).state is T.SUCCEEDED
    assert len(provider.paid) == 2


async def test_a_success_after_a_failure_moves_no_money_and_is_told(services: Services) -> None:
    await pay(services, "airtel", "2000")
    fake(services, "airtel").payouts.append(failed(FailureReason.INVALID_REQUEST))
    (chunk,) = plan_auto_transfers(services, "airtel")
    await resolve_transfers(services)
    refused = transfer(services, chunk.reference)
    with services.uows() as uow:
        kept = apply_transfer_status(
            uow, services, refused, succeeded(kes("2000"), "LATE"), source="callback"
        )
        uow.commit()
    assert kept.state is T.FAILED
    assert wallet(services) == kes("2000")
    assert balance(services, accounts.OWNER_DRAWINGS) == Money.zero()
    assert "transfer_contradiction" in notices(services)


async def test_a_stale_transfer_cannot_be_moved_twice(services: Services) -> None:
    await pay(services, "airtel", "2000")
    fake(services, "airtel").payouts.append(PENDING)
    (chunk,) = plan_auto_transfers(services, "airtel")
    await resolve_transfers(services)
    seen: Transfer = transfer(services, chunk.reference)
    assert seen.state is T.SUBMITTED
    with services.uows() as uow:
        apply_transfer_status(uow, services, seen, succeeded(kes("2000"), "P1"), source="callback")
        uow.commit()
    with services.uows() as uow, pytest.raises(ConcurrentUpdate):
        apply_transfer_status(uow, services, seen, PENDING, source="enquiry")
    with services.uows() as uow, pytest.raises(InsufficientFunds):  # nothing left to release
        apply_transfer_status(
            uow, services, seen, failed(FailureReason.INVALID_REQUEST), source="enquiry"
        )
    assert transfer(services, chunk.reference).state is T.SUCCEEDED
    assert balance(services, accounts.OWNER_DRAWINGS) == kes("2000")
    assert wallet(services) == Money.zero()


async def test_a_manual_transfer_above_what_is_available_changes_nothing(
    services: Services,
) -> None:
    await pay(services, "airtel", "1000")
    with pytest.raises(TransferRefused) as refused:
        await manual_transfer(services, "airtel", kes("1500"), "owner")
    assert refused.value.code == "insufficient_funds"
    assert wallet(services) == kes("1000")
    made = await manual_transfer(services, "airtel", kes("400"), "owner", "key-1")
    again = await manual_transfer(services, "airtel", kes("400"), "owner", "key-1")
    assert made.reference == again.reference
    assert len(fake(services, "airtel").paid) == 1
    assert wallet(services) == kes("600")


async def test_only_the_latest_claim_may_send_a_payout_again(services: Services) -> None:
    """Two workers hold claims on a payout that never went out; the one whose claim is
    stale finds it taken and leaves it, so the owner is paid once."""
    await pay(services, "airtel", "2000")
    provider = fake(services, "airtel")
    provider.payouts.append(NotSent("airtel", "disburse", "connection refused"))
    (chunk,) = plan_auto_transfers(services, "airtel")
    await resolve_transfers(services)
    provider.statuses[chunk.reference] = NOT_FOUND
    due_now(services, chunk.reference)
    (stale,) = claim_due_transfers(services)
    due_now(services, chunk.reference)  # its lease ran out: another worker claims it
    (latest,) = claim_due_transfers(services)
    assert await advance_transfer(services, stale) == stale  # taken: left alone
    assert len(provider.paid) == 1
    await advance_transfer(services, latest)
    assert len(provider.paid) == 2  # the one send after the first never left
    assert transfer(services, chunk.reference).state is T.SUCCEEDED
    assert balance(services, accounts.OWNER_DRAWINGS) == kes("2000")
