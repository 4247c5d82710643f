"""The trust rule on the real store (SQLite and PostgreSQL): forged callbacks, posted as
an attacker would post them, change nothing — each of the attacks that once worked is
replayed here — while what the provider itself says still moves the money, once.

Callbacks go through ``receive`` (the API's path: the Airtel parser, the inbox) and
``process_inbox``; the provider's answers to enquiries are scripted (``ScriptedAirtel``),
so each test says exactly what the provider knows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from qmoi.bootstrap import build_services
from qmoi.config import RawValues, build_settings
from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain import accounts
from qmoi.domain.clock import ManualClock
from qmoi.domain.collection import Collection
from qmoi.domain.money import Money
from qmoi.domain.states import CollectionState, TransferState
from qmoi.domain.streams import StreamKey
from qmoi.domain.transfer import Transfer
from qmoi.providers.airtel import callbacks as airtel_callbacks
from qmoi.providers.airtel import crypto as airtel_crypto
from qmoi.providers.base import (
    CallbackEvent,
    CallbackKind,
    CollectRequest,
    FailureReason,
    NotSent,
    Outcome,
    PaymentProvider,
    ProviderStatus,
    Submission,
)
from qmoi.services.callbacks import encode, process_inbox, receive
from qmoi.services.collections import PaymentRequest, record_status, start_collections
from qmoi.services.context import Services
from qmoi.services.intake import Intake
from qmoi.services.resolver import resolve_collections, resolve_transfers
from qmoi.services.statement import from_statement
from qmoi.services.transfers import plan_auto_transfers
from tests.fakes import PENDING, FakeProvider, failed, succeeded, timeout_after_sending

pytestmark = [pytest.mark.revenue, pytest.mark.transfer]

CUSTOMER = "254733000100"
KEY = "airtel-callback-key"


@dataclass
class ScriptedAirtel(FakeProvider):
    """Airtel's real callback parser (hash checked when a key is set, required when
    ``require_hash``); enquiries answered from the script."""

    key: str | None = None
    require_hash: bool = False

    def parse_callback(
        self, kind: CallbackKind, headers: Mapping[str, str], body: bytes
    ) -> CallbackEvent:
        event, _ = airtel_callbacks.parse(
            kind, body, currency="KES", country="KE", secret=self.key,
            require_hash=self.require_hash,
        )  # fmt: skip
        return event


def make(
    uows: UnitOfWorkFactory,
    clock: ManualClock,
    *,
    mpesa: PaymentProvider | None = None,
    speed: float | None = None,
    **settings: str,
) -> Services:
    """Services over ``uows``; ``mpesa``: the M-Pesa fake (default: a plain one);
    ``speed``: the sandbox clock's speed the policy assumes (default: the clock's)."""
    built, report = build_settings(RawValues({"QMOI_AUTO_TRANSFER_AIRTEL": "1000", **settings}))
    assert built is not None, report.problems
    services = build_services(
        built,
        uows,
        clock,
        providers={
            "airtel": ScriptedAirtel("airtel", key=KEY),
            "mpesa": FakeProvider("mpesa") if mpesa is None else mpesa,
        },
        channels={},
    )
    policy = replace(services.policy, sandbox=True)
    return replace(services, policy=policy if speed is None else replace(policy, speed=speed))


def airtel(services: Services) -> ScriptedAirtel:
    found = services.providers["airtel"]
    assert isinstance(found, ScriptedAirtel)
    return found


def body(transaction: dict[str, Any], *, key: str | None = None) -> bytes:
    """An Airtel callback; hashed as Airtel hashes it when ``key`` is given."""
    data: dict[str, Any] = {"transaction": transaction}
    if key is not None:
        data["hash"] = airtel_crypto.callback_hash(
            json.dumps(data, separators=(",", ":")).encode(), key
        )
    return json.dumps(data).encode()


async def post(services: Services, kind: CallbackKind, raw: bytes) -> str:
    """POST a callback as the API route does, then process the inbox; returns what the
    API answered (stored, duplicate, rejected…)."""
    intake = Intake(services.uows)
    try:
        receipt = await receive(services, intake, "airtel", kind, {}, raw)
    finally:
        await intake.close()
    while process_inbox(services):
        pass
    return receipt.outcome


def collection(services: Services, reference: str) -> Collection:
    with services.uows(read_only=True) as uow:
        found = uow.collections.by_reference(reference)
    assert found is not None
    return found


def transfer(services: Services, reference: str) -> Transfer:
    with services.uows(read_only=True) as uow:
        found = uow.transfers.by_reference(reference)
    assert found is not None
    return found


def wallet(services: Services, provider: str = "airtel") -> Money:
    with services.uows(read_only=True) as uow:
        return uow.ledger.balance(accounts.wallet(provider))


def inbox(services: Services) -> dict[str, int]:
    with services.uows(read_only=True) as uow:
        return uow.inbox.counts()


async def ask(services: Services, kes: int, msisdn: str = CUSTOMER) -> Collection:
    (made,) = await start_collections(
        services,
        "airtel",
        [PaymentRequest(msisdn, Money(kes * 100, "KES"), StreamKey.AIRTIME_SALES)],
        actor="test",
    )
    return made


async def earn(services: Services, kes: int) -> Collection:
    """A payment the provider confirms to our enquiry: booked."""
    made = await ask(services, kes)
    airtel(services).statuses[made.reference] = succeeded(
        made.amount, receipt=f"MP-{made.reference[-6:]}"
    )
    await enquire_now(services, made.reference)
    assert collection(services, made.reference).state is CollectionState.SUCCEEDED
    return made


def lose_answer(services: Services, made: Collection) -> None:
    """The push went out but its answer never came: unknown, and nothing names it."""
    with services.uows() as uow:
        current = uow.collections.by_reference(made.reference)
        assert current is not None
        lost = replace(current, state=CollectionState.UNKNOWN, provider_request_id=None)
        uow.collections.save(lost, current.state)
        uow.commit()


async def enquire_now(services: Services, reference: str) -> None:
    with services.uows() as uow:
        current = uow.collections.by_reference(reference)
        assert current is not None
        uow.collections.save(replace(current, next_check_at=uow.now), current.state)
        uow.commit()
    await resolve_collections(services)


async def a_chunk_whose_answer_was_lost(services: Services) -> Transfer:
    """KES 1,500 earned, one KES 1,000 chunk reserved and sent; its answer never came
    (the provider did pay it: its enquiry will say so)."""
    await earn(services, 1500)
    (chunk,) = plan_auto_transfers(services, "airtel")
    provider = airtel(services)
    provider.payouts.append(timeout_after_sending())
    provider.statuses[chunk.reference] = succeeded(chunk.amount, receipt="MP-PAYOUT-1")
    await resolve_transfers(services)
    sent = transfer(services, chunk.reference)
    assert sent.state is TransferState.UNKNOWN
    return sent


# --- attack 1: the owner paid twice -----------------------------------------------------


async def test_a_forged_payout_failure_neither_releases_the_funds_nor_pays_again(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Attack 1: a forged "TF" for a chunk whose send answer was lost used to fail it and
    release its funds; the chunk was planned again as …-R1 and paid — 200 KES paid out of
    150 earned. Now the forgery only brings the enquiry forward, which finds it paid."""
    services = make(uows, clock)
    chunk = await a_chunk_whose_answer_was_lost(services)
    forged = {"id": chunk.reference, "status_code": "TF", "message": "Transaction failed"}
    assert await post(services, CallbackKind.DISBURSEMENT, body(forged)) == "stored"
    still = transfer(services, chunk.reference)
    assert still.state is TransferState.UNKNOWN  # nothing changed on its word…
    assert still.next_check_at == clock.now()  # …but the provider is asked now
    assert inbox(services) == {"hint": 1}
    with services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.in_transit("airtel")) == chunk.amount
    await resolve_transfers(services)
    assert transfer(services, chunk.reference).state is TransferState.SUCCEEDED
    assert plan_auto_transfers(services, "airtel") == []  # no …-R1
    assert [p.reference for p in airtel(services).paid] == [chunk.reference]
    assert wallet(services) == Money(50_000, "KES")  # 1,500 earned − 1,000 paid


async def test_a_forged_insufficient_funds_does_not_route_the_chunk_elsewhere(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    services = make(uows, clock, QMOI_TRANSFER_FALLBACK="true")
    chunk = await a_chunk_whose_answer_was_lost(services)
    forged = {"id": chunk.reference, "status_code": "TF", "message": "Insufficient funds"}
    await post(services, CallbackKind.DISBURSEMENT, body(forged))
    with services.uows(read_only=True) as uow:
        assert uow.transfers.by_reference(f"{chunk.reference}-FB") is None
        assert uow.transfers.open_count() == 1
    assert services.providers["mpesa"].paid == []  # type: ignore[attr-defined]


async def test_a_forged_payout_success_books_no_payout(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """A forged "TS" for a chunk the provider never paid books nothing: the enquiry
    says the provider refused it, so its funds come back."""
    services = make(uows, clock)
    chunk = await a_chunk_whose_answer_was_lost(services)
    airtel(services).statuses[chunk.reference] = failed(FailureReason.INSUFFICIENT_FUNDS)
    forged = {"id": chunk.reference, "status_code": "TS", "airtel_money_id": "MP-FAKE"}
    await post(services, CallbackKind.DISBURSEMENT, body(forged))
    assert transfer(services, chunk.reference).state is TransferState.UNKNOWN
    await resolve_transfers(services)
    settled = transfer(services, chunk.reference)
    assert settled.state is TransferState.FAILED
    assert settled.provider_reference is None
    with services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.OWNER_DRAWINGS).is_positive is False
    assert wallet(services) == Money(150_000, "KES")


async def test_an_authenticated_payout_callback_still_settles_at_once(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    services = make(uows, clock)
    chunk = await a_chunk_whose_answer_was_lost(services)
    genuine = {"id": chunk.reference, "status_code": "TS", "airtel_money_id": "MP-PAYOUT-1"}
    await post(services, CallbackKind.DISBURSEMENT, body(genuine, key=KEY))
    assert transfer(services, chunk.reference).state is TransferState.SUCCEEDED
    assert inbox(services) == {"processed": 1}


# --- attack 2: a customer's real payment dropped ----------------------------------------


async def test_a_forged_failure_cannot_drop_a_customers_real_payment(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Attack 2: a forged "TF" for a pending collection used to fail it; the customer
    approved seconds later and Airtel's genuine "TS" was then ignored — nothing booked,
    no notice. Now the forgery changes nothing and the genuine word books it."""
    services = make(uows, clock)
    made = await ask(services, 500)
    forged = {"id": made.reference, "status_code": "TF", "message": "Cancelled by user"}
    await post(services, CallbackKind.COLLECTION, body(forged))
    assert collection(services, made.reference).state is CollectionState.PENDING
    await resolve_collections(services)  # the enquiry: still waiting for the customer
    assert collection(services, made.reference).state is CollectionState.PENDING
    # the customer approves; Airtel's genuine callback (no hash configured: a hint too)
    airtel(services).statuses[made.reference] = succeeded(made.amount, receipt="MP-REAL-2")
    genuine = {"id": made.reference, "status_code": "TS", "airtel_money_id": "MP-REAL-2"}
    await post(services, CallbackKind.COLLECTION, body(genuine))
    await resolve_collections(services)
    paid = collection(services, made.reference)
    assert (paid.state, paid.provider_reference) == (CollectionState.SUCCEEDED, "MP-REAL-2")
    assert wallet(services) == made.amount


@pytest.mark.parametrize("proven", [False, True])
async def test_a_success_reported_after_the_provider_failed_it_is_asked_about_and_booked(
    uows: UnitOfWorkFactory, clock: ManualClock, proven: bool
) -> None:
    """Late truth, no attacker: an enquiry failed the collection, then a success arrives
    (a hint, or even a hashed callback). It is asked about — never ignored — and when
    the provider confirms the money it is booked and the owner told."""
    services = make(uows, clock)
    made = await ask(services, 700)
    airtel(services).statuses[made.reference] = failed(FailureReason.CANCELLED)
    await enquire_now(services, made.reference)
    assert collection(services, made.reference).state is CollectionState.FAILED
    airtel(services).statuses[made.reference] = succeeded(made.amount, receipt="MP-LATE-1")
    late = {"id": made.reference, "status_code": "TS", "airtel_money_id": "MP-LATE-1"}
    await post(services, CallbackKind.COLLECTION, body(late, key=KEY if proven else None))
    asked = collection(services, made.reference)
    assert asked.state is CollectionState.FAILED  # nothing moved on the callback's word
    assert asked.next_check_at == clock.now()
    await resolve_collections(services)
    booked = collection(services, made.reference)
    assert (booked.state, booked.provider_reference) == (CollectionState.SUCCEEDED, "MP-LATE-1")
    assert wallet(services) == made.amount
    with services.uows(read_only=True) as uow:
        assert "late_payment" in [n.kind for n in uow.notifications.recent()]


async def test_a_late_success_the_provider_denies_books_nothing_and_stops_asking(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    services = make(uows, clock)
    made = await ask(services, 300)
    airtel(services).statuses[made.reference] = failed(FailureReason.CANCELLED)
    await enquire_now(services, made.reference)
    forged = {"id": made.reference, "status_code": "TS", "airtel_money_id": "MP-FORGED"}
    await post(services, CallbackKind.COLLECTION, body(forged))
    await resolve_collections(services)
    denied = collection(services, made.reference)
    assert denied.state is CollectionState.FAILED
    assert denied.next_check_at is None
    assert wallet(services) == Money(0, "KES")


async def test_a_late_success_the_provider_cannot_answer_about_is_told_to_the_owner(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    services = make(uows, clock)
    made = await ask(services, 300)
    airtel(services).statuses[made.reference] = failed(FailureReason.TIMEOUT)
    await enquire_now(services, made.reference)
    airtel(services).statuses[made.reference] = ProviderStatus(Outcome.UNKNOWN, "TA", "?")
    late = {"id": made.reference, "status_code": "TS", "airtel_money_id": "MP-LATE-2"}
    await post(services, CallbackKind.COLLECTION, body(late))
    for _ in range(10):
        due = collection(services, made.reference).next_check_at
        if due is None:
            break
        clock.set(due)
        await resolve_collections(services)
    assert collection(services, made.reference).next_check_at is None
    with services.uows(read_only=True) as uow:
        kinds = [n.kind for n in uow.notifications.recent()]
    assert "late_payment_unconfirmed" in kinds


# --- attack 3: a push taken over ---------------------------------------------------------


async def test_a_forged_success_with_an_invented_id_cannot_take_a_push_over(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Attack 3: for a push whose answer was lost, a forged "TS" carrying the customer's
    number and amount and an invented id rebound the collection to that id; the enquiry
    then asked about the invented id ("not found") and the real payment was never
    booked. Now the hint binds nothing: the push is asked about by our own id."""
    services = make(uows, clock)
    made = await ask(services, 850)
    lose_answer(services, made)
    invented = {
        "id": "MP-INVENTED-9",
        "status_code": "TS",
        "airtel_money_id": "MP-INVENTED-9",
        "msisdn": CUSTOMER,
        "amount": "850",
    }
    await post(services, CallbackKind.COLLECTION, body(invented))
    assert inbox(services) == {"hint": 1}
    woken = collection(services, made.reference)
    assert woken.provider_request_id is None  # not rebound
    assert woken.next_check_at == clock.now()
    airtel(services).statuses[made.reference] = succeeded(made.amount, receipt="MP-TRUE-3")
    await resolve_collections(services)
    paid = collection(services, made.reference)
    assert (paid.state, paid.provider_reference) == (CollectionState.SUCCEEDED, "MP-TRUE-3")
    assert wallet(services) == made.amount


async def test_a_forged_failure_for_another_providers_collection_names_nothing(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Lookups by reference include the provider: an M-Pesa hint naming an Airtel
    collection is about nothing of M-Pesa's."""
    services = make(uows, clock)
    made = await ask(services, 100)
    event = CallbackEvent(
        "mpesa", CallbackKind.COLLECTION, f"stk:{made.reference}", made.reference,
        failed(FailureReason.CANCELLED),
    )  # fmt: skip
    with services.uows() as uow:
        uow.inbox.add("mpesa", "collection", event.event_id, encode(event), uow.now)
        uow.commit()
    while process_inbox(services):
        pass
    assert inbox(services) == {"rejected": 1}
    unchanged = collection(services, made.reference)
    assert (unchanged.state, unchanged.next_check_at) == (made.state, made.next_check_at)


# --- a forgery cannot take the genuine callback's place ---------------------------------


async def test_a_forgery_that_arrives_first_does_not_make_the_genuine_callback_a_duplicate(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    services = make(uows, clock)
    made = await ask(services, 640)
    forged = {"id": made.reference, "status_code": "TF", "message": "Failed"}
    genuine = {"id": made.reference, "status_code": "TS", "airtel_money_id": "MP-REAL-4"}
    assert await post(services, CallbackKind.COLLECTION, body(forged)) == "stored"
    # a forgery of the success, unhashed, under the genuine event's id
    forged_success = {**genuine, "airtel_money_id": "MP-FORGED-4"}
    assert await post(services, CallbackKind.COLLECTION, body(forged_success)) == "stored"
    assert await post(services, CallbackKind.COLLECTION, body(genuine, key=KEY)) == "stored"
    assert await post(services, CallbackKind.COLLECTION, body(genuine, key=KEY)) == "duplicate"
    paid = collection(services, made.reference)
    assert (paid.state, paid.provider_reference) == (CollectionState.SUCCEEDED, "MP-REAL-4")
    assert inbox(services) == {"hint": 2, "processed": 1}


async def test_with_callback_auth_on_an_unhashed_callback_is_refused(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    services = make(uows, clock)
    airtel(services).require_hash = True
    made = await ask(services, 120)
    forged = {"id": made.reference, "status_code": "TF", "message": "Failed"}
    assert await post(services, CallbackKind.COLLECTION, body(forged)) == "rejected"
    assert await post(services, CallbackKind.COLLECTION, body(forged, key="wrong")) == "rejected"
    assert collection(services, made.reference).state is CollectionState.PENDING


# --- attack 4: one payment booked twice by statement reconciliation ----------------------


@dataclass
class WithStatement(FakeProvider):
    lines: list[ProviderStatus] | None = None

    async def statement(self, since: datetime, until: datetime) -> list[ProviderStatus]:
        return list(self.lines or [])


async def test_an_unnamed_push_cannot_take_its_named_retrys_statement_line(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Attack 4: an unnamed push (its answer lost) and the customer's named retry, still
    pending, for the same number and amount; the statement holds one line — the
    retry's. The line went to the unnamed push, then the retry's own query booked it
    again: KES 1,000 in the wallet for one KES 500 payment. Now the line is ambiguous
    while the retry is open or paid without a receipt, and the payment is booked once."""
    mpesa = WithStatement("mpesa")
    services = make(uows, clock, mpesa=mpesa)
    number, amount = "254708000321", Money(50_000, "KES")
    request = [PaymentRequest(number, amount, StreamKey.AIRTIME_SALES)]
    (unnamed,) = await start_collections(services, "mpesa", request, actor="test")
    lose_answer(services, unnamed)
    clock.advance(timedelta(seconds=40))
    (retry,) = await start_collections(services, "mpesa", request, actor="test")
    assert collection(services, retry.reference).provider_request_id is not None
    mpesa.lines = [
        ProviderStatus(
            Outcome.SUCCEEDED, "0", "on the statement", provider_reference="ULRETRY01",
            amount=amount, msisdn=number, completed_at=clock.now(),
        )
    ]  # fmt: skip
    clock.advance(timedelta(hours=1))  # both prompts long over
    verdict = await from_statement(services, collection(services, unnamed.reference))
    assert (verdict.outcome, verdict.provider_code) == (Outcome.UNKNOWN, "ambiguous_statement")
    await enquire_now(services, unnamed.reference)
    assert collection(services, unnamed.reference).state is CollectionState.UNKNOWN
    # the retry's own query: paid (Daraja's STK query names no receipt)
    mpesa.statuses[retry.reference] = succeeded(None, receipt=None)  # type: ignore[arg-type]
    await enquire_now(services, retry.reference)
    assert collection(services, retry.reference).state is CollectionState.SUCCEEDED
    await enquire_now(services, unnamed.reference)  # the next statement pass: still no
    assert collection(services, unnamed.reference).state is CollectionState.UNKNOWN
    assert wallet(services, "mpesa") == amount


# --- attack 5: the inbox stopped for good -----------------------------------------------


async def test_a_receipt_already_booked_elsewhere_is_never_booked_again(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Attack 5's trigger: a callback carrying a receipt already booked on another
    collection raised on the unique provider reference and stopped the inbox. Now the
    second claim books nothing, the owner is told, and the inbox goes on."""
    services = make(uows, clock)
    first = await earn(services, 400)
    second = await ask(services, 400)
    receipt = collection(services, first.reference).provider_reference
    assert receipt is not None
    late = {"id": second.reference, "status_code": "TS", "airtel_money_id": receipt}
    after = await ask(services, 90)
    await post(services, CallbackKind.COLLECTION, body(late, key=KEY))
    on_time = {"id": after.reference, "status_code": "TS", "airtel_money_id": "MP-AFTER"}
    await post(services, CallbackKind.COLLECTION, body(on_time, key=KEY))
    closed = collection(services, second.reference)
    assert (closed.state, closed.reason) == (CollectionState.SUCCEEDED, "receipt_booked_elsewhere")
    assert closed.entry_id is None
    assert collection(services, after.reference).state is CollectionState.SUCCEEDED
    assert wallet(services) == Money(40_000 + 9_000, "KES")
    with services.uows(read_only=True) as uow:
        assert "receipt_conflict" in [n.kind for n in uow.notifications.recent()]
        assert uow.inbox.counts() == {"processed": 2}


async def test_one_poisoned_callback_is_parked_and_a_thousand_behind_it_are_booked(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """A callback whose processing fails every time — here it names a collection whose
    stored row cannot be read — is tried a few times, then parked with its error and
    the owner told; the 1,000 good callbacks behind it are all booked."""
    services = make(uows, clock)
    bad = await ask(services, 10)
    with services.uows() as uow:  # a row no code path can read any more
        uow.session.execute(  # type: ignore[attr-defined]
            __import__("sqlalchemy").text(
                "UPDATE collections SET stream = 'no_such_stream' WHERE reference = :r"
            ),
            {"r": bad.reference},
        )
        uow.commit()
    requests = [
        PaymentRequest(CUSTOMER, Money((100 + i) * 100, "KES"), StreamKey.DATA_PACKAGES)
        for i in range(1000)
    ]
    good = []
    for start in range(0, 1000, 500):
        good += await start_collections(services, "airtel", requests[start : start + 500], "t")
    with services.uows() as uow:
        poisoned = CallbackEvent(
            "airtel", CallbackKind.COLLECTION, "poisoned", bad.reference,
            succeeded(bad.amount, receipt="MP-POISON"), authenticated=True,
        )  # fmt: skip
        uow.inbox.add("airtel", "collection", "poisoned", encode(poisoned), uow.now)
        for c in good:
            event = CallbackEvent(
                "airtel", CallbackKind.COLLECTION, f"ok:{c.reference}", c.reference,
                succeeded(c.amount, receipt=f"MP-{c.reference}"), authenticated=True,
            )  # fmt: skip
            uow.inbox.add("airtel", "collection", event.event_id, encode(event), uow.now)
        uow.commit()
    rounds = 0
    while process_inbox(services):
        rounds += 1
        assert rounds < 50
    with services.uows(read_only=True) as uow:
        counts = uow.inbox.counts()
        notes = [n for n in uow.notifications.recent() if n.kind == "callback_parked"]
    assert counts == {"processed": 1000, "failed": 1}
    assert len(notes) == 1
    assert wallet(services) == Money(sum(c.amount.minor for c in good), "KES")


def test_pending_is_what_the_fake_answers_by_default() -> None:
    assert FakeProvider("airtel").statuses.get("anything", PENDING) is PENDING


async def test_a_request_made_hours_after_a_lost_push_cannot_own_the_pushs_line(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Regression (chaos run, SQLite): on a fast sandbox clock the statement window of a
    lost push spans simulated hours; a request for the same number and amount made ten
    hours later, still open, was taken as a rival for a line paid minutes after the
    push, and the customer's payment expired unbooked. A request can only own a line
    whose moment its own window holds."""
    mpesa = WithStatement("mpesa")
    services = make(uows, clock, mpesa=mpesa, speed=4608.0)
    number, amount = "254716562002", Money(62_600, "KES")
    request = [PaymentRequest(number, amount, StreamKey.AIRTIME_SALES)]
    (lost,) = await start_collections(services, "mpesa", request, actor="test")
    lose_answer(services, lost)
    paid_at = clock.now() + timedelta(minutes=8)
    clock.advance(timedelta(hours=10))
    (later,) = await start_collections(services, "mpesa", request, actor="test")
    assert collection(services, later.reference).state is CollectionState.PENDING
    mpesa.lines = [
        ProviderStatus(
            Outcome.SUCCEEDED, "0", "on the statement", provider_reference="ULITZX95EQ",
            amount=amount, msisdn=number, completed_at=paid_at,
        )
    ]  # fmt: skip
    clock.advance(timedelta(hours=4))
    found = await from_statement(services, collection(services, lost.reference))
    assert (found.outcome, found.provider_reference) == (Outcome.SUCCEEDED, "ULITZX95EQ")


async def test_a_hint_only_moves_the_next_enquiry_never_what_it_read_before(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """A hint writes the next check's time and nothing else: what another process wrote
    to the collection since the hint's transaction read it stays as written."""
    from qmoi.services.trust import ask_about_collection

    services = make(uows, clock)
    made = await ask(services, 400)
    stale = collection(services, made.reference)
    with services.uows() as other:  # meanwhile, an enquiry's answer is recorded
        fresh = replace(stale, provider_code="DP00800001000", provider_message="in progress")
        assert other.collections.save(fresh, stale.state)
        other.commit()
    with services.uows() as uow:
        assert ask_about_collection(uow, stale, late_success=False) == "enquiry_scheduled"
        uow.commit()
    now = collection(services, made.reference)
    assert now.next_check_at == clock.now()
    assert (now.provider_code, now.provider_message) == ("DP00800001000", "in progress")


async def test_a_customers_second_equal_payment_does_not_hide_the_first_from_its_push(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Regression (chaos run): a push whose answer was lost, and 21 simulated minutes
    later the same customer's named push for the same amount, paid and confirmed by its
    query (no receipt). The statement holds both payments. The named push cannot have
    made the first (it was asked for after it), so the first is the lost push's; the
    second, which either could have made, is left alone."""
    mpesa = WithStatement("mpesa")
    services = make(uows, clock, mpesa=mpesa, speed=2419.2)
    number, amount = "254709919316", Money(94_700, "KES")
    request = [PaymentRequest(number, amount, StreamKey.AIRTIME_SALES)]
    (lost,) = await start_collections(services, "mpesa", request, actor="test")
    lose_answer(services, lost)
    first_paid = clock.now() + timedelta(seconds=23)
    clock.advance(timedelta(minutes=21))
    (named,) = await start_collections(services, "mpesa", request, actor="test")
    mpesa.statuses[named.reference] = succeeded(None, receipt=None)  # type: ignore[arg-type]
    await enquire_now(services, named.reference)
    assert collection(services, named.reference).state is CollectionState.SUCCEEDED
    mpesa.lines = [
        ProviderStatus(
            Outcome.SUCCEEDED, "0", "on the statement", provider_reference=receipt,
            amount=amount, msisdn=number, completed_at=at,
        )
        for receipt, at in (
            ("ULVYHB5TZN", first_paid),
            ("ULBZAU8SKV", clock.now() + timedelta(seconds=12)),
        )
    ]  # fmt: skip
    clock.advance(timedelta(hours=8))
    found = await from_statement(services, collection(services, lost.reference))
    assert (found.outcome, found.provider_reference) == (Outcome.SUCCEEDED, "ULVYHB5TZN")


async def test_a_push_sent_again_long_after_its_request_is_found_in_its_own_window(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Regression (chaos run): a push refused by the gateway's spike arrest (nothing
    sent) went out again 14 simulated hours later, its answer was lost, and the
    statement was read in the window of its request: "not on the statement", failed —
    the customer had paid. The window runs from when the push last went out."""
    mpesa = WithStatement("mpesa")
    services = make(uows, clock, mpesa=mpesa, speed=2419.2)
    number, amount = "254794946239", Money(10_800, "KES")
    (made,) = await start_collections(
        services, "mpesa", [PaymentRequest(number, amount, StreamKey.AIRTIME_SALES)], "test"
    )
    clock.advance(timedelta(hours=14))
    # sent again now; its answer never came
    await record_status(
        services, made, ProviderStatus(Outcome.UNKNOWN, "504", "answer withheld"), "collect",
        request_id=None,
    )  # fmt: skip
    lose_answer(services, made)
    assert collection(services, made.reference).sent_at == clock.now()
    mpesa.lines = [
        ProviderStatus(
            Outcome.SUCCEEDED, "0", "on the statement", provider_reference="ULZPY8DTSB",
            amount=amount, msisdn=number, completed_at=clock.now() + timedelta(seconds=32),
        )
    ]  # fmt: skip
    clock.advance(timedelta(hours=8))
    found = await from_statement(services, collection(services, made.reference))
    assert (found.outcome, found.provider_reference) == (Outcome.SUCCEEDED, "ULZPY8DTSB")


async def test_waiting_for_a_pushs_prompt_to_end_is_no_enquiry_and_expires_nothing(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Regression (chaos run): pushes whose send was cut short were marked sent when
    the resolver found them, days (simulated) after their request; each pass that found
    the statement not yet readable counted as an enquiry that said nothing, and after
    three the paid pushes were given up. Waiting is not asking."""
    mpesa = WithStatement("mpesa")
    services = make(uows, clock, mpesa=mpesa)
    number, amount = "254722295642", Money(68_200, "KES")
    (made,) = await start_collections(
        services, "mpesa", [PaymentRequest(number, amount, StreamKey.AIRTIME_SALES)], "test"
    )
    paid_at = clock.now() + timedelta(minutes=2)
    clock.advance(timedelta(days=7))  # long past every window of its request
    await record_status(
        services, made, ProviderStatus(Outcome.UNKNOWN, "send_interrupted", "may have gone"),
        "resolver", request_id=None,
    )  # fmt: skip
    lose_answer(services, made)
    for _ in range(5):
        await enquire_now(services, made.reference)
        waiting = collection(services, made.reference)
        assert waiting.state is CollectionState.UNKNOWN
        assert waiting.next_check_at is not None
        assert waiting.next_check_at > clock.now()
    mpesa.lines = [
        ProviderStatus(
            Outcome.SUCCEEDED, "0", "on the statement", provider_reference="ULLG7AFXJ1",
            amount=amount, msisdn=number, completed_at=paid_at,
        )
    ]  # fmt: skip
    clock.set(waiting.next_check_at)
    await resolve_collections(services)
    booked = collection(services, made.reference)
    assert (booked.state, booked.provider_reference) == (CollectionState.SUCCEEDED, "ULLG7AFXJ1")


async def test_a_push_confirmed_paid_hours_before_a_payment_cannot_have_made_it(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Regression (chaos run): a customer's named push, confirmed paid by its query (no
    receipt) at 03:19, was taken as a possible owner of the same amount paid at 07:55 to
    the same customer's later push whose answer was lost — its window, on a fast clock,
    spanned hours — and the later payment expired unbooked. A payment confirmed at 03:19
    was made before it."""
    mpesa = WithStatement("mpesa")
    services = make(uows, clock, mpesa=mpesa, speed=2419.2)
    number, amount = "254796732614", Money(62_600, "KES")
    request = [PaymentRequest(number, amount, StreamKey.AIRTIME_SALES)]
    (early,) = await start_collections(services, "mpesa", request, actor="test")
    clock.advance(timedelta(minutes=47))
    mpesa.statuses[early.reference] = succeeded(None, receipt=None)  # type: ignore[arg-type]
    await enquire_now(services, early.reference)
    assert collection(services, early.reference).state is CollectionState.SUCCEEDED
    clock.advance(timedelta(hours=4, minutes=35))
    (later,) = await start_collections(services, "mpesa", request, actor="test")
    lose_answer(services, later)
    mpesa.lines = [
        ProviderStatus(
            Outcome.SUCCEEDED, "0", "on the statement", provider_reference="ULP51ULPBL",
            amount=amount, msisdn=number, completed_at=clock.now() + timedelta(seconds=58),
        )
    ]  # fmt: skip
    clock.advance(timedelta(hours=9))
    found = await from_statement(services, collection(services, later.reference))
    assert (found.outcome, found.provider_reference) == (Outcome.SUCCEEDED, "ULP51ULPBL")


@dataclass
class Refusing(FakeProvider):
    """Refuses the first push before sending it; dies in the middle of the second."""

    pushes: int = 0

    async def collect(self, request: CollectRequest) -> Submission:
        self.pushes += 1
        if self.pushes == 1:
            raise NotSent("mpesa", "collect", "Spike Arrest Violation")
        raise RuntimeError("the worker died while the push was going out")


async def test_a_push_sent_again_after_a_refusal_is_never_sent_a_third_time(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    """Regression (chaos run): a push refused by the gateway (nothing sent) was sent
    again by the resolver, whose worker was killed before the answer was recorded; the
    collection still said "never left", so the next worker sent it once more — the
    customer was prompted twice and paid the first. An M-Pesa push has no id of ours:
    it is marked as going out before it is sent again, and a cut-short send is only
    ever looked for, never repeated."""
    mpesa = Refusing("mpesa")
    services = make(uows, clock, mpesa=mpesa)
    request = [PaymentRequest("254709865012", Money(133_800, "KES"), StreamKey.DATA_PACKAGES)]
    (made,) = await start_collections(services, "mpesa", request, actor="test")
    assert collection(services, made.reference).reason == "not_sent"
    await enquire_now(services, made.reference)  # sent again; the worker dies
    await enquire_now(services, made.reference)  # the next one: interrupted, not resent
    interrupted = collection(services, made.reference)
    assert (interrupted.state, interrupted.provider_code) == (
        CollectionState.UNKNOWN, "send_interrupted",
    )  # fmt: skip
    await enquire_now(services, made.reference)
    assert mpesa.pushes == 2
