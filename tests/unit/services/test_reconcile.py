"""Reconciliation, on the in-memory store: the float against the provider's balance
(with the opening float taken at a quiet moment), and the statement's lines no
collection owns — booked only when the provider confirms a direct payment, once."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest

from qmoi.domain.clock import ManualClock
from qmoi.domain.money import Money
from qmoi.domain.states import CollectionState
from qmoi.domain.streams import StreamKey
from qmoi.providers.base import FailureReason, Outcome, ProviderStatus
from qmoi.services.collections import PaymentRequest, start_collections
from qmoi.services.context import Services
from qmoi.services.reconcile import opening_key, reconcile, record_opening
from qmoi.services.resolver import resolve_collections
from tests.fakes import FakeProvider, succeeded
from tests.unit.services.support import (
    collection,
    due_now,
    entries,
    make_services,
    notices,
    wallet,
)

pytestmark = [pytest.mark.revenue]

OPENING = 100_000_000  # the float the provider held before QMOI: KES 1,000,000
NUMBER = "254708000777"


@dataclass
class Daraja(FakeProvider):
    """A provider with a statement and a lookup of direct payments by receipt."""

    lines: list[ProviderStatus] = field(default_factory=list)
    direct: dict[str, ProviderStatus] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def statement(self, since: datetime, until: datetime) -> list[ProviderStatus]:
        return [x for x in self.lines if x.completed_at is None or since <= x.completed_at <= until]

    async def direct_payment_status(self, receipt: str) -> ProviderStatus:
        self.asked.append(receipt)
        return self.direct.get(
            receipt, ProviderStatus(Outcome.UNKNOWN, "25", "?", reason=FailureReason.NOT_FOUND)
        )


def line(
    receipt: str, kes: int, at: datetime, msisdn: str | None = NUMBER, bill: str = ""
) -> ProviderStatus:
    return ProviderStatus(
        Outcome.SUCCEEDED, "0", "on the statement", provider_reference=receipt,
        amount=Money(kes * 100, "KES"), msisdn=msisdn, completed_at=at,
        account_reference=bill or None,
    )  # fmt: skip


@pytest.fixture
def services(clock: ManualClock) -> Services:
    return make_services(
        clock,
        providers={
            "airtel": FakeProvider("airtel"),
            "mpesa": Daraja("mpesa", balance_minor=OPENING),
        },
        QMOI_AUTO_TRANSFER="false",
    )


def daraja(services: Services) -> Daraja:
    found = services.providers["mpesa"]
    assert isinstance(found, Daraja)
    return found


async def paid_push(services: Services, kes: int, *, receipt: str | None) -> str:
    """A push paid and confirmed by its query; ``receipt`` None: the query named none."""
    (made,) = await start_collections(
        services,
        "mpesa",
        [PaymentRequest(NUMBER, Money(kes * 100, "KES"), StreamKey.AIRTIME_SALES)],
        "t",
    )
    status = replace(succeeded(made.amount), provider_reference=receipt)
    daraja(services).statuses[made.reference] = status
    due_now(services, made)
    await resolve_collections(services)
    daraja(services).balance_minor += kes * 100
    return made.reference


async def test_the_first_quiet_pass_records_the_opening_float_and_later_ones_agree(
    services: Services, clock: ManualClock
) -> None:
    assert await record_opening(services) == ["airtel", "mpesa"]
    with services.uows(read_only=True) as uow:
        assert uow.meta.get(opening_key("mpesa")) == str(OPENING)
    await paid_push(services, 500, receipt="RCPT000001")
    found = await reconcile(services, "mpesa", services.policy.day(clock.now()))
    assert found.float.verdict == "agrees"
    assert (found.float.provider_minor, found.float.books_minor) == (OPENING + 50_000, 50_000)
    assert found.settled


async def test_no_opening_float_is_taken_while_work_is_in_flight(
    services: Services, clock: ManualClock
) -> None:
    await start_collections(
        services,
        "mpesa",
        [PaymentRequest(NUMBER, Money(10_000, "KES"), StreamKey.AIRTIME_SALES)],
        "t",
    )
    found = await reconcile(services, "mpesa", services.policy.day(clock.now()))
    assert found.float.verdict == "no_baseline_yet"
    with services.uows(read_only=True) as uow:
        assert uow.meta.get(opening_key("mpesa")) is None


async def test_a_float_the_books_cannot_explain_is_told_once_and_never_booked(
    services: Services, clock: ManualClock
) -> None:
    await record_opening(services)
    daraja(services).balance_minor -= 12_345  # taken by the provider, nothing in QMOI knows
    found = await reconcile(services, "mpesa", services.policy.day(clock.now()))
    assert found.float.verdict == "differs"
    assert found.float.unexplained_minor == -12_345
    assert not found.settled
    assert entries(services) == []
    await reconcile(services, "mpesa", services.policy.day(clock.now()))  # told once a day
    assert notices(services).count("reconciliation_difference") == 1


async def test_the_statement_books_a_lost_direct_payment_once_and_leaves_the_rest_alone(
    services: Services, clock: ManualClock
) -> None:
    await record_opening(services)
    await paid_push(services, 500, receipt="RCPTOWNED1")
    await paid_push(services, 750, receipt=None)  # its query named no receipt
    now = clock.now() - timedelta(minutes=5)
    provider = daraja(services)
    provider.lines = [
        line("RCPTOWNED1", 500, now),
        line("RCPTSTK750", 750, now),  # the receipt of the push booked without one
        line("RCPTC2B001", 1200, now, msisdn="2547******21", bill="DATA-42"),  # lost C2B
        line("RCPTSTRAY1", 90, now + timedelta(seconds=5), msisdn="254708000999"),
    ]
    provider.direct["RCPTC2B001"] = succeeded(Money(120_000, "KES"), receipt="RCPTC2B001")
    provider.balance_minor += 120_000 + 9_000
    day = services.policy.day(now)
    found = await reconcile(services, "mpesa", day)
    assert {x.receipt: x.outcome for x in found.lines} == {
        "RCPTSTK750": "push_paid_without_receipt",
        "RCPTC2B001": "booked",
        "RCPTSTRAY1": "not_direct",
    }
    assert found.owned == 1
    assert provider.asked == ["RCPTC2B001", "RCPTSTRAY1"]  # never about explained lines
    (booked,) = found.booked
    c2b = collection(services, booked.collection or "")
    assert (c2b.state, c2b.origin, c2b.stream) == (
        CollectionState.SUCCEEDED, "c2b", StreamKey.DATA_PACKAGES,
    )  # fmt: skip
    assert c2b.amount == Money(120_000, "KES")
    assert wallet(services, "mpesa") == Money(245_000, "KES")
    assert "reconciliation_booked" in notices(services)
    assert "reconciliation_difference" in notices(services)  # the stray line
    assert found.float.unexplained_minor == 9_000  # the stray's money, not in the books
    again = await reconcile(services, "mpesa", day)  # a second pass books nothing more
    assert not again.booked
    assert {x.receipt for x in again.lines} == {"RCPTSTK750", "RCPTSTRAY1"}
    assert wallet(services, "mpesa") == Money(245_000, "KES")


async def test_a_line_an_unnamed_push_may_own_is_left_to_the_statement_rule(
    services: Services, clock: ManualClock
) -> None:
    (made,) = await start_collections(
        services,
        "mpesa",
        [PaymentRequest(NUMBER, Money(30_000, "KES"), StreamKey.AIRTIME_SALES)],
        "t",
    )
    with services.uows() as uow:  # its answer was lost: nothing names it
        uow.collections.save(
            replace(made, state=CollectionState.UNKNOWN, provider_request_id=None), made.state
        )
        uow.commit()
    daraja(services).lines = [line("RCPTUNNAMED", 300, clock.now() - timedelta(seconds=30))]
    found = await reconcile(services, "mpesa", services.policy.day(clock.now()))
    assert [x.outcome for x in found.lines] == ["left_to_push"]
    assert not found.booked
    assert entries(services) == []
