"""Booking a confirmed collection, on the in-memory store: once, whoever reports it,
at the amount asked — anything else is held in suspense, never revenue."""

from __future__ import annotations

import pytest

from qmoi.domain import accounts
from qmoi.domain.clock import ManualClock
from qmoi.domain.states import CollectionState
from qmoi.domain.streams import StreamKey
from qmoi.services.booking import ConcurrentUpdate, apply_collection_status
from qmoi.services.context import Services
from qmoi.services.resolver import resolve_collections
from tests.fakes import succeeded
from tests.unit.services.support import (
    actions,
    ask,
    balance,
    collection,
    due_now,
    entries,
    fake,
    kes,
    make_services,
    notices,
    pay,
    wallet,
)

pytestmark = [pytest.mark.revenue]


@pytest.fixture
def services(clock: ManualClock) -> Services:
    return make_services(clock)


async def test_a_confirmed_payment_is_booked_with_its_audit_record_and_totals(
    services: Services,
) -> None:
    reference = await pay(services, "airtel", "1,250.50", receipt="R-1")
    paid = collection(services, reference)
    assert paid.state is CollectionState.SUCCEEDED
    assert paid.provider_reference == "R-1"
    assert paid.entry_id is not None
    assert wallet(services) == kes("1250.50")
    assert balance(services, accounts.income(StreamKey.AIRTIME_SALES)).minor == -125050
    assert entries(services) == ["airtel:pay:R-1"]
    assert "ledger.collection" in actions(services)
    with services.uows(read_only=True) as uow:
        day = services.policy.day(uow.now)
        assert uow.totals.by_stream(day, "airtel") == {("airtel", "airtime_sales"): 125050}
        assert uow.ledger.verify() == []


async def test_a_payment_reported_again_is_not_booked_again(services: Services) -> None:
    reference = await pay(services, "airtel", "500", receipt="R-2")
    paid = collection(services, reference)
    with services.uows() as uow:  # a callback after the enquiry: same receipt
        again = apply_collection_status(
            uow, services.policy, paid, succeeded(kes("500"), "R-2"), source="callback"
        )
        uow.commit()
    assert again == paid
    assert entries(services) == ["airtel:pay:R-2"]
    assert wallet(services) == kes("500")


async def test_a_stale_copy_cannot_book_what_another_process_moved(services: Services) -> None:
    made = await ask(services, "airtel", "300")
    seen = collection(services, made.reference)
    with services.uows() as uow:  # another process books it first
        apply_collection_status(
            uow, services.policy, seen, succeeded(kes("300"), "R-3"), source="callback"
        )
        uow.commit()
    with services.uows() as uow, pytest.raises(ConcurrentUpdate):
        apply_collection_status(
            uow, services.policy, seen, succeeded(kes("300"), "R-3b"), source="enquiry"
        )
    assert entries(services) == ["airtel:pay:R-3"]
    assert wallet(services) == kes("300")


async def test_a_different_amount_is_held_in_suspense(services: Services) -> None:
    made = await ask(services, "airtel", "1000")
    fake(services, "airtel").statuses[made.reference] = succeeded(kes("999"), "R-4")
    due_now(services, made)
    await resolve_collections(services)
    held = collection(services, made.reference)
    assert held.state is CollectionState.SUCCEEDED
    assert held.reason == "amount_mismatch"
    assert balance(services, accounts.SUSPENSE).minor == -99900  # held, owed to someone
    with services.uows(read_only=True) as uow:
        assert uow.totals.by_stream(services.policy.day(uow.now), "airtel") == {}
    assert entries(services) == ["airtel:suspense:R-4"]
    assert "suspense" in notices(services)


async def test_one_receipt_named_for_two_requests_is_counted_once(services: Services) -> None:
    first = await pay(services, "airtel", "200", receipt="R-5")
    second = await ask(services, "airtel", "200")
    fake(services, "airtel").statuses[second.reference] = succeeded(kes("200"), "R-5")
    due_now(services, second)
    await resolve_collections(services)
    closed = collection(services, second.reference)
    assert closed.state is CollectionState.SUCCEEDED
    assert closed.reason == "receipt_booked_elsewhere"
    assert collection(services, first).entry_id is not None
    assert wallet(services) == kes("200")
    assert "receipt_conflict" in notices(services)


async def test_an_unfinished_unit_of_work_leaves_nothing(services: Services) -> None:
    made = await ask(services, "airtel", "100")
    with services.uows() as uow:  # no commit: rolled back
        apply_collection_status(
            uow, services.policy, made, succeeded(kes("100"), "R-6"), source="callback"
        )
    assert collection(services, made.reference).state is not CollectionState.SUCCEEDED
    assert entries(services) == []
