"""The trust rule, on the in-memory store: a callback nobody proved the provider sent
changes nothing — no money, no state — and only brings the enquiry about what it names
forward; the provider's own word moves the money, once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from qmoi.domain import accounts
from qmoi.domain.clock import ManualClock
from qmoi.domain.money import Money
from qmoi.domain.states import CollectionState, TransferState
from qmoi.providers.base import (
    CallbackEvent,
    CallbackKind,
    FailureReason,
    Outcome,
    ProviderStatus,
)
from qmoi.services.callbacks import process_inbox, receive
from qmoi.services.context import Services
from qmoi.services.intake import Intake
from qmoi.services.resolver import resolve_collections, resolve_transfers
from qmoi.services.transfers import plan_auto_transfers
from tests.fakes import PENDING, FakeProvider, succeeded
from tests.unit.services.support import (
    CUSTOMER,
    ask,
    balance,
    collection,
    entries,
    fake,
    kes,
    make_services,
    pay,
    store,
    transfer,
    wallet,
)

pytestmark = [pytest.mark.revenue]

C, T = CollectionState, TransferState


@dataclass
class Posted(FakeProvider):
    """A provider whose callbacks are parsed as the test says (authenticated or not)."""

    events: list[CallbackEvent] = field(default_factory=list)

    def parse_callback(
        self, kind: CallbackKind, headers: Mapping[str, str], body: bytes
    ) -> CallbackEvent:
        return self.events.pop(0)

    def callback_answer(self, event: CallbackEvent | None, accepted: bool) -> dict[str, Any]:
        return {"accepted": accepted}


@pytest.fixture
def services(clock: ManualClock) -> Services:
    return make_services(
        clock,
        providers={"airtel": Posted("airtel"), "mpesa": FakeProvider("mpesa")},
        QMOI_AUTO_TRANSFER_AIRTEL="1000",
    )


def event(
    reference: str,
    status: ProviderStatus,
    *,
    proof: bool,
    kind: CallbackKind = CallbackKind.COLLECTION,
    event_id: str = "EV-1",
) -> CallbackEvent:
    return CallbackEvent("airtel", kind, event_id, reference, status, raw={}, authenticated=proof)


async def post(services: Services, *events: CallbackEvent) -> list[str]:
    """Each callback as the API receives it, then the inbox processed; what was answered."""
    provider = services.providers["airtel"]
    assert isinstance(provider, Posted)
    intake = Intake(services.uows)
    answers = []
    try:
        for e in events:
            provider.events.append(e)
            got = await receive(services, intake, "airtel", e.kind, {}, repr(e).encode())
            answers.append(got.outcome)
    finally:
        await intake.close()
    while process_inbox(services):
        pass
    return answers


def inbox(services: Services) -> list[tuple[str, str | None]]:
    return [(r.status, r.reason) for r in store(services).state.inbox.values()]


def paid(amount: str, receipt: str = "R-1") -> ProviderStatus:
    return replace(succeeded(kes(amount), receipt), msisdn=CUSTOMER["airtel"])


async def test_a_forged_success_books_nothing_but_schedules_an_enquiry(
    services: Services, clock: ManualClock
) -> None:
    made = await ask(services, "airtel", "500")
    before = collection(services, made.reference)
    assert before.next_check_at is not None
    assert before.next_check_at > clock.now()
    assert await post(services, event(made.reference, paid("500"), proof=False)) == ["stored"]
    after = collection(services, made.reference)
    assert after.state is before.state
    assert after.provider_reference is None
    assert after.next_check_at == clock.now()  # asked about now, and that is all
    assert entries(services) == []
    assert wallet(services) == Money.zero()
    assert inbox(services) == [("hint", "enquiry_scheduled")]
    fake(services, "airtel").statuses[made.reference] = PENDING  # the provider says no
    await resolve_collections(services)
    assert entries(services) == []
    fake(services, "airtel").statuses[made.reference] = paid("500", "R-TRUE")
    clock.set(collection(services, made.reference).next_check_at or clock.now())
    await resolve_collections(services)
    assert entries(services) == ["airtel:pay:R-TRUE"]  # its own word: booked


async def test_a_forged_failure_fails_nothing(services: Services, clock: ManualClock) -> None:
    made = await ask(services, "airtel", "500")
    failure = ProviderStatus(Outcome.FAILED, "F", "no", reason=FailureReason.INSUFFICIENT_FUNDS)
    await post(services, event(made.reference, failure, proof=False))
    after = collection(services, made.reference)
    assert after.state is C.PENDING
    assert after.reason is None
    assert after.next_check_at == clock.now()


async def test_a_proven_success_is_booked_once_however_often_it_comes(
    services: Services,
) -> None:
    made = await ask(services, "airtel", "500")
    proven = event(made.reference, paid("500", "R-P"), proof=True)
    assert await post(services, proven, proven) == ["stored", "duplicate"]
    assert collection(services, made.reference).state is C.SUCCEEDED
    assert entries(services) == ["airtel:pay:R-P"]
    assert wallet(services) == kes("500")
    assert inbox(services) == [("processed", None)]


async def test_a_proven_success_for_another_number_is_refused(services: Services) -> None:
    made = await ask(services, "airtel", "500")
    other = replace(paid("500", "R-X"), msisdn="254733999999")
    await post(services, event(made.reference, other, proof=True))
    assert collection(services, made.reference).state is C.PENDING
    assert entries(services) == []
    assert inbox(services) == [("rejected", "msisdn_mismatch")]


async def test_a_forgery_arriving_first_cannot_take_the_genuine_ones_place(
    services: Services,
) -> None:
    made = await ask(services, "airtel", "500")
    forged = event(made.reference, paid("500", "R-F"), proof=False)
    genuine = event(made.reference, paid("500", "R-G"), proof=True)
    assert await post(services, forged, genuine) == ["stored", "stored"]
    assert entries(services) == ["airtel:pay:R-G"]


async def test_a_forged_success_naming_nothing_of_ours_is_refused(services: Services) -> None:
    await post(services, event("QC-nobody", paid("500"), proof=False))
    assert inbox(services) == [("rejected", "unknown_transaction")]
    assert entries(services) == []


async def test_a_forged_payout_result_moves_no_money(
    services: Services, clock: ManualClock
) -> None:
    await pay(services, "airtel", "1000")
    fake(services, "airtel").payouts.append(PENDING)
    (chunk,) = plan_auto_transfers(services, "airtel")
    await resolve_transfers(services)
    sent = transfer(services, chunk.reference)
    assert sent.state is T.SUBMITTED
    forged = event(
        chunk.reference, succeeded(kes("1000"), "PAY-F"), proof=False,
        kind=CallbackKind.DISBURSEMENT, event_id="EV-PAY",
    )  # fmt: skip
    await post(services, forged)
    after = transfer(services, chunk.reference)
    assert after.state is T.SUBMITTED
    assert after.next_check_at == clock.now()
    assert balance(services, accounts.in_transit("airtel")) == kes("1000")
    assert balance(services, accounts.OWNER_DRAWINGS) == Money.zero()
