"""The daily reconciliation pass on the real store (SQLite and PostgreSQL), against a
provider whose balance, statement and Transaction Status the test writes: the float
check with its opening float, and the statement's lines that no collection owns —
an STK payment booked without its receipt, a lost C2B confirmation (booked once, at
the provider's amount), and a stray line (told, never booked)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest

from qmoi.bootstrap import build_services
from qmoi.config import RawValues, build_settings
from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain import accounts
from qmoi.domain.clock import ManualClock
from qmoi.domain.money import Money
from qmoi.domain.states import CollectionState
from qmoi.domain.streams import StreamKey
from qmoi.providers.base import (
    Balance,
    FailureReason,
    Outcome,
    PaymentProvider,
    ProviderStatus,
)
from qmoi.services.collections import PaymentRequest, start_collections
from qmoi.services.context import Services
from qmoi.services.reconcile import opening_key, reconcile, record_opening
from qmoi.services.resolver import resolve_collections
from tests.fakes import FakeProvider, succeeded

pytestmark = [pytest.mark.revenue, pytest.mark.mpesa]

OPENING = 100_000_000  # the float the provider held before QMOI: KES 1,000,000
NUMBER = "254708000777"


@dataclass
class Daraja(FakeProvider):
    """A provider with a statement and Transaction Status by receipt."""

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


def make(uows: UnitOfWorkFactory, clock: ManualClock, mpesa: PaymentProvider) -> Services:
    built, report = build_settings(RawValues({"QMOI_AUTO_TRANSFER": "false"}))
    assert built is not None, report.problems
    services = build_services(
        built,
        uows,
        clock,
        providers={"airtel": FakeProvider("airtel"), "mpesa": mpesa},
        channels={},
    )
    return replace(services, policy=replace(services.policy, sandbox=True))


@pytest.fixture
def services(uows: UnitOfWorkFactory, clock: ManualClock) -> Services:
    return make(uows, clock, Daraja("mpesa", balance_minor=OPENING))


def daraja(services: Services) -> Daraja:
    found = services.providers["mpesa"]
    assert isinstance(found, Daraja)
    return found


async def paid_push(services: Services, kes: int, *, receipt: str | None) -> str:
    """A push paid and confirmed by its query; ``receipt`` None: the STK query, which
    names none."""
    (made,) = await start_collections(
        services,
        "mpesa",
        [PaymentRequest(NUMBER, Money(kes * 100, "KES"), StreamKey.AIRTIME_SALES)],
        "t",
    )
    daraja(services).statuses[made.reference] = succeeded(made.amount, receipt=receipt)  # type: ignore[arg-type]
    with services.uows() as uow:
        current = uow.collections.by_reference(made.reference)
        assert current is not None
        uow.collections.save(replace(current, next_check_at=uow.now), current.state)
        uow.commit()
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
    day = services.policy.day(clock.now())
    found = await reconcile(services, "mpesa", day)
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


async def test_a_float_the_books_cannot_explain_is_told_to_the_owner_never_booked(
    services: Services, clock: ManualClock
) -> None:
    await record_opening(services)
    daraja(services).balance_minor -= 12_345  # taken by the provider, nothing in QMOI knows
    found = await reconcile(services, "mpesa", services.policy.day(clock.now()))
    assert found.float.verdict == "differs"
    assert found.float.unexplained_minor == -12_345
    assert not found.settled
    with services.uows(read_only=True) as uow:
        assert uow.ledger.entry_count() == 0
        notes = [n for n in uow.notifications.recent() if n.kind == "reconciliation_difference"]
    assert len(notes) == 1
    assert "123.45" in notes[0].message
    await reconcile(services, "mpesa", services.policy.day(clock.now()))  # told once a day
    with services.uows(read_only=True) as uow:
        again = [n for n in uow.notifications.recent() if n.kind == "reconciliation_difference"]
    assert len(again) == 1


async def test_the_statement_books_a_lost_c2b_payment_once_and_leaves_the_rest_alone(
    services: Services, clock: ManualClock
) -> None:
    await record_opening(services)
    owned = await paid_push(services, 500, receipt="RCPTOWNED1")
    await paid_push(services, 750, receipt=None)  # its STK query named no receipt
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
    outcomes = {x.receipt: x.outcome for x in found.lines}
    assert outcomes == {
        "RCPTSTK750": "push_paid_without_receipt",
        "RCPTC2B001": "booked",
        "RCPTSTRAY1": "not_direct",
    }
    assert found.owned == 1
    assert provider.asked == ["RCPTC2B001", "RCPTSTRAY1"]  # never about explained lines
    (booked,) = found.booked
    with services.uows(read_only=True) as uow:
        c2b = uow.collections.by_reference(booked.collection or "")
        assert c2b is not None
        assert (c2b.state, c2b.origin, c2b.stream) == (
            CollectionState.SUCCEEDED, "c2b", StreamKey.DATA_PACKAGES,
        )  # fmt: skip
        assert c2b.amount == Money(120_000, "KES")
        assert uow.ledger.balance(accounts.wallet("mpesa")) == Money(
            50_000 + 75_000 + 120_000, "KES"
        )
        kinds = [n.kind for n in uow.notifications.recent()]
    assert "reconciliation_booked" in kinds
    assert "reconciliation_difference" in kinds  # the stray line, for the owner
    # the float: 90 KES the stray brought are real money the books do not hold
    assert found.float.unexplained_minor == 9_000
    provider.asked.clear()
    again = await reconcile(services, "mpesa", day)  # a second pass books nothing more
    assert not again.booked
    assert {x.receipt for x in again.lines} == {"RCPTSTK750", "RCPTSTRAY1"}
    with services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("mpesa")) == Money(245_000, "KES")
    assert owned


async def test_an_unowned_line_an_unnamed_push_may_own_is_left_to_the_statement_rule(
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


@dataclass
class Unanswering(Daraja):
    """A provider whose balance answer never comes (Daraja's comes by callback)."""

    asked_balance: asyncio.Event = field(default_factory=asyncio.Event)

    async def balance(self) -> Balance:
        self.asked_balance.set()
        await asyncio.Event().wait()  # never
        raise AssertionError("unreachable")


async def test_a_reconciliation_waiting_for_the_provider_never_holds_up_the_worker(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Regression: the pass waited for M-Pesa's balance inside the worker's round, so a
    balance answer that was slow or lost held up the inbox and every payout behind it."""
    from qmoi.worker.main import Worker

    stuck = Unanswering("mpesa")
    services = make(uows, clock, stuck)
    worker = Worker(services)
    await asyncio.wait_for(worker.round(force=True), timeout=30)
    await asyncio.wait_for(stuck.asked_balance.wait(), timeout=30)  # it did ask…
    await asyncio.wait_for(worker.round(force=True), timeout=30)  # …and the loop goes on
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(worker.run(stop), timeout=30)  # and stops, the pass cancelled
