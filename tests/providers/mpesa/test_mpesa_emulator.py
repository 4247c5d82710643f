"""The M-Pesa connector against QMOI's Daraja emulator over real HTTP on 127.0.0.1:
every operation, every fault of the control API, and the callback checks that keep
forged, mismatched and repeated callbacks out of the books.

The emulator runs at 1000× speed, so a customer "thinking" for 5–30 s answers within
milliseconds; result callbacks reach a receiver that does what QMOI's API layer does
(see ``emulator_support``). Read timeouts are 1 s so held answers fail fast.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from qmoi.config import MpesaSettings
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey
from qmoi.providers.base import (
    AuthenticationFailed,
    CallbackKind,
    CallbackRejected,
    CollectRequest,
    DisburseRequest,
    ExpectedTransaction,
    FailureReason,
    InMemoryResultWaiter,
    NotSent,
    Outcome,
    OutcomeUnknown,
    ProviderStatus,
    Rejected,
)
from qmoi.providers.mpesa import callbacks
from qmoi.providers.mpesa.client import MpesaConnector
from qmoi_sandbox.common.server import serve_in_thread
from qmoi_sandbox.mpesa import MpesaSandboxConfig, create_app

from .emulator_support import (
    APPROVES,
    CANCELS,
    NO_FUNDS,
    SILENT,
    WRONG_PIN,
    Emulator,
    Receiver,
)
from .support import CALLBACK_TOKEN

pytestmark = pytest.mark.mpesa

K = CallbackKind
FAST: dict[str, Any] = {"speed": 1000.0, "seed": 11, "c2b_validation": True}
TIMEOUT = httpx.Timeout(1.0)
MakeSettings = Callable[..., MpesaSettings]


def kes(shillings: int) -> Money:
    return Money(shillings * 100, "KES")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with serve_in_thread(create_app(MpesaSandboxConfig(**FAST))) as url:
        client = Emulator(url)
        yield client
        client.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    hooks = Receiver()
    with serve_in_thread(hooks.app()) as url:
        hooks.url = url
        yield hooks


ConnectorFactory = Callable[..., MpesaConnector]


@pytest.fixture
async def make_live(
    emulator: Emulator, receiver: Receiver, make_settings: MakeSettings
) -> AsyncIterator[ConnectorFactory]:
    """Connectors to the module's emulator (reset first), wired to the receiver; the last
    one built receives the callbacks."""
    emulator.reset()
    certificate = emulator.certificate()
    built: list[MpesaConnector] = []

    def build(
        target: Emulator | None = None, *, settings: MpesaSettings | None = None, **kw: Any
    ) -> MpesaConnector:
        source = target or emulator
        results = InMemoryResultWaiter()
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("result_timeout_s", 3.0)
        kw.setdefault("retry_max_s", 0.05)
        kw.setdefault("callback_base_url", f"{receiver.url}/hooks/{CALLBACK_TOKEN}")
        connector = MpesaConnector(
            settings or make_settings(certificate=source.certificate() if target else certificate),
            results=results,
            base_url=source.url,
            **kw,
        )
        receiver.attach(connector, results, asyncio.get_running_loop())
        built.append(connector)
        return connector

    yield build
    for connector in built:
        await connector.aclose()


@pytest.fixture
def own_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start an emulator with a configuration of its own for one test."""
    stack: list[Any] = []

    def start(**overrides: Any) -> Emulator:
        context = serve_in_thread(create_app(MpesaSandboxConfig(**(FAST | overrides))))
        url = context.__enter__()
        stack.append(context)
        client = Emulator(url)
        stack.append(client)
        return client

    yield start
    for item in reversed(stack):
        if isinstance(item, Emulator):
            item.close()
        else:
            item.__exit__(None, None, None)


def ask(reference: str, msisdn: str, shillings: int = 150, account: str = "AIR000042") -> Any:
    return CollectRequest(reference, msisdn, kes(shillings), account, "Airtime")


def pay_owner(reference: str = "mpesa-20260101-1", shillings: int = 2000) -> DisburseRequest:
    return DisburseRequest(reference, APPROVES, kes(shillings), "owner payout")


async def settled(
    connector: MpesaConnector, reference: str, checkout: str, timeout_s: float = 5.0
) -> ProviderStatus:
    """Poll the STK query until it is final (the engine's resolver does the same)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        status = await connector.collection_status(reference, checkout)
        if status.is_final or asyncio.get_running_loop().time() > deadline:
            return status
        await asyncio.sleep(0.02)


# --- OAuth ----------------------------------------------------------------------------


async def test_the_emulator_issues_a_token_for_the_sandbox_credentials(
    make_live: ConnectorFactory,
) -> None:
    assert await make_live().access_token()


async def test_a_wrong_consumer_secret_is_an_authentication_failure(
    make_live: ConnectorFactory, make_settings: MakeSettings
) -> None:
    from pydantic import SecretStr

    connector = make_live(settings=make_settings(consumer_secret=SecretStr("wrong")))
    with pytest.raises(AuthenticationFailed):
        await connector.collect(ask("col-1", APPROVES))


# --- STK push, callback and query -----------------------------------------------------


async def test_customer_approves_a_paybill_push_and_the_callback_books_the_exact_amount(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    submission = await connector.collect(ask("col-1", APPROVES, 150))
    checkout = submission.provider_request_id
    assert submission.status.outcome is Outcome.PENDING
    [record] = await receiver.wait_for(K.COLLECTION, checkout)
    event = record.event
    assert event is not None
    assert event.status.outcome is Outcome.SUCCEEDED
    assert event.status.amount == kes(150)
    assert event.status.msisdn == APPROVES
    callbacks.verify_against(event, ExpectedTransaction(checkout, kes(150), APPROVES))
    assert record.answer == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert (await connector.collection_status("col-1", checkout)).outcome is Outcome.SUCCEEDED
    truth = emulator.transaction(checkout)
    assert (truth["status"], truth["provider_id"]) == ("succeeded", event.status.provider_reference)


async def test_a_till_push_is_buy_goods_to_the_till_number(
    make_live: ConnectorFactory,
    receiver: Receiver,
    own_emulator: Callable[..., Emulator],
    make_settings: MakeSettings,
) -> None:
    till = own_emulator(till_number="5432101")
    settings = make_settings(
        shortcode_type="till", till_number="5432101", certificate=till.certificate()
    )
    connector = make_live(till, settings=settings)
    submission = await connector.collect(ask("col-till", APPROVES, 300))
    [record] = await receiver.wait_for(K.COLLECTION, submission.provider_request_id)
    assert record.event is not None
    assert record.event.status.amount == kes(300)
    assert till.transaction(submission.provider_request_id)["status"] == "succeeded"


@pytest.mark.parametrize(
    ("msisdn", "code", "reason"),
    [
        (CANCELS, "1032", FailureReason.CANCELLED),
        (NO_FUNDS, "1", FailureReason.INSUFFICIENT_FUNDS),
        (WRONG_PIN, "2001", FailureReason.INVALID_PIN),
        (SILENT, "1037", FailureReason.TIMEOUT),
    ],
)
async def test_customers_who_do_not_pay_are_failures_with_the_reason(
    make_live: ConnectorFactory,
    receiver: Receiver,
    msisdn: str,
    code: str,
    reason: FailureReason,
) -> None:
    connector = make_live()
    submission = await connector.collect(ask("col-2", msisdn))
    [record] = await receiver.wait_for(K.COLLECTION, submission.provider_request_id)
    assert record.event is not None
    status = record.event.status
    assert (status.outcome, status.provider_code, status.reason) == (Outcome.FAILED, code, reason)
    assert status.amount is None
    queried = await connector.collection_status("col-2", submission.provider_request_id)
    assert (queried.outcome, queried.provider_code) == (Outcome.FAILED, code)


async def test_query_while_the_transaction_is_being_processed_is_pending(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    emulator.faults(enquiry_pending_s=1_000_000)
    submission = await connector.collect(ask("col-3", APPROVES))
    await receiver.wait_for(K.COLLECTION, submission.provider_request_id)
    status = await connector.collection_status("col-3", submission.provider_request_id)
    assert status.outcome is Outcome.PENDING
    assert status.provider_code == "500.001.1001"
    assert emulator.injected()["enquiry_pending"] >= 1


async def test_query_of_a_checkout_daraja_never_issued_is_rejected(
    make_live: ConnectorFactory,
) -> None:
    with pytest.raises(Rejected) as caught:
        await make_live().collection_status("col-x", "ws_CO_does_not_exist")
    assert caught.value.provider_code == "400.002.02"


async def test_a_callback_url_naming_mpesa_is_refused_as_daraja_does(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    # The brief's {public_url}/api/mpesa/{token} layout breaks doc §13.5's URL rules.
    connector = make_live(callback_base_url=f"{receiver.url}/api/mpesa/{CALLBACK_TOKEN}")
    with pytest.raises(Rejected) as caught:
        await connector.collect(ask("col-4", APPROVES))
    assert caught.value.provider_code == "400.002.02"
    assert emulator.transactions("collection") == []


# --- C2B ------------------------------------------------------------------------------


async def test_customer_pays_a_known_account_validation_accepts_and_confirmation_books(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    registration = await connector.register_c2b_urls()
    assert registration.response_code == "0"
    emulator.c2b_pay(APPROVES, 450, "air000043")
    [validation] = await receiver.wait_for(K.C2B_VALIDATION)
    assert validation.answer == {"ResultCode": "0", "ResultDesc": "Accepted"}
    [confirmation] = await receiver.wait_for(K.C2B_CONFIRMATION)
    event = confirmation.event
    assert event is not None
    assert confirmation.answer == {"ResultCode": 0, "ResultDesc": "Success"}
    assert event.status.outcome is Outcome.SUCCEEDED
    assert event.status.amount == kes(450)
    assert event.status.msisdn is None  # Daraja masks it; never an identity
    rules, default = connector.settings.c2b_rules, connector.settings.c2b_default_stream
    assert callbacks.c2b_stream(event, rules, default) is StreamKey.AIRTIME_SALES
    confirmed = await connector.confirm(event)
    assert confirmed.outcome is Outcome.SUCCEEDED
    assert callbacks.confirmation_mismatches(event, confirmed) == []


async def test_customer_pays_an_unknown_account_and_validation_refuses_it(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    await connector.register_c2b_urls()
    paid = emulator.c2b_pay(APPROVES, 450, "XYZ999")
    [validation] = await receiver.wait_for(K.C2B_VALIDATION)
    assert validation.answer == {"ResultCode": "C2B00012", "ResultDesc": "Invalid Account Number"}
    emulator.wait_until(lambda: emulator.transaction(paid["id"])["status"] != "pending")
    assert emulator.transaction(paid["id"])["status"] == "failed"
    await asyncio.sleep(0.1)
    assert receiver.events(K.C2B_CONFIRMATION) == []


# --- B2C, balance, status, reversal ---------------------------------------------------


async def test_owner_payout_with_a_credential_from_the_emulators_certificate(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    before = emulator.wallet_minor()
    submission = await connector.disburse(pay_owner("mpesa-20260101-1", 2000))
    assert submission.status.outcome is Outcome.PENDING
    [record] = await receiver.wait_for(K.DISBURSEMENT, "mpesa-20260101-1")
    assert record.event is not None
    status = record.event.status
    assert (status.outcome, status.amount) == (Outcome.SUCCEEDED, kes(2000))
    assert status.provider_reference
    assert emulator.wallet_minor() == before - 200_000 - 2_240  # payout plus the B2C charge
    resolved = await connector.disbursement_status("mpesa-20260101-1", None)
    assert resolved.outcome is Outcome.SUCCEEDED
    assert resolved.provider_reference == status.provider_reference
    assert resolved.fee == Money(2_240, "KES")


async def test_sending_the_same_payout_again_never_pays_twice(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    await connector.disburse(pay_owner("mpesa-20260101-2"))
    await receiver.wait_for(K.DISBURSEMENT, "mpesa-20260101-2")
    after_first = emulator.wallet_minor()
    with pytest.raises(OutcomeUnknown) as caught:
        await connector.disburse(pay_owner("mpesa-20260101-2"))
    assert caught.value.provider_code == "500.002.1001"
    assert emulator.wallet_minor() == after_first
    assert len(emulator.transactions("disbursement")) == 1


async def test_a_wrong_initiator_password_fails_the_payout_and_the_balance(
    make_live: ConnectorFactory,
    receiver: Receiver,
    emulator: Emulator,
    make_settings: MakeSettings,
) -> None:
    from pydantic import SecretStr

    settings = make_settings(
        certificate=emulator.certificate(), initiator_password=SecretStr("Wrong#9999")
    )
    connector = make_live(settings=settings)
    before = emulator.wallet_minor()
    await connector.disburse(pay_owner("mpesa-20260101-3"))
    [record] = await receiver.wait_for(K.DISBURSEMENT, "mpesa-20260101-3")
    assert record.event is not None
    status = record.event.status
    assert (status.outcome, status.reason) == (Outcome.FAILED, FailureReason.AUTHORIZATION)
    assert emulator.wallet_minor() == before
    with pytest.raises(AuthenticationFailed):
        await connector.balance()


async def test_a_payout_bigger_than_the_float_fails_with_insufficient_funds(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    emulator.set_wallet(100_000)  # KES 1,000.00
    await connector.disburse(pay_owner("mpesa-20260101-4", 2000))
    [record] = await receiver.wait_for(K.DISBURSEMENT, "mpesa-20260101-4")
    assert record.event is not None
    status = record.event.status
    assert (status.outcome, status.provider_code, status.reason) == (
        Outcome.FAILED, "1", FailureReason.INSUFFICIENT_FUNDS,
    )  # fmt: skip
    assert emulator.wallet_minor() == 100_000


async def test_balance_is_the_emulators_float(
    make_live: ConnectorFactory, emulator: Emulator
) -> None:
    emulator.set_wallet(123_456_78)
    balance = await make_live().balance()
    assert balance.available == Money(123_456_78, "KES")
    assert balance.raw["account"] == "Utility Account"


async def test_transaction_status_by_receipt_after_a_collection(
    make_live: ConnectorFactory, receiver: Receiver
) -> None:
    connector = make_live()
    submission = await connector.collect(ask("col-5", APPROVES, 175))
    [record] = await receiver.wait_for(K.COLLECTION, submission.provider_request_id)
    assert record.event is not None
    receipt = record.event.status.provider_reference
    assert receipt is not None
    status = await connector.transaction_status(transaction_id=receipt)
    assert (status.outcome, status.amount, status.provider_reference) == (
        Outcome.SUCCEEDED, kes(175), receipt,
    )  # fmt: skip


async def test_a_refund_reverses_once_and_only_a_real_receipt(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    submission = await connector.collect(ask("col-6", APPROVES, 150))
    [record] = await receiver.wait_for(K.COLLECTION, submission.provider_request_id)
    assert record.event is not None
    receipt = record.event.status.provider_reference
    assert receipt is not None
    before = emulator.wallet_minor()
    first = await connector.refund(receipt, kes(150))
    assert first.outcome is Outcome.SUCCEEDED
    assert emulator.wallet_minor() == before - 15_000
    again = await connector.refund(receipt, kes(150))
    assert (again.outcome, again.provider_code, again.reason) == (
        Outcome.FAILED, "R000001", FailureReason.DUPLICATE,
    )  # fmt: skip
    unknown = await connector.refund("SZZ00000ZZ", kes(150))
    assert (unknown.provider_code, unknown.reason) == ("R000002", FailureReason.NOT_FOUND)
    assert emulator.wallet_minor() == before - 15_000


# --- faults ---------------------------------------------------------------------------


async def test_a_5xx_on_a_push_is_never_resent(
    make_live: ConnectorFactory, emulator: Emulator
) -> None:
    connector = make_live()
    await connector.access_token()
    emulator.faults(error_rate=1.0)
    with pytest.raises((NotSent, OutcomeUnknown)):
        await connector.collect(ask("col-7", APPROVES))
    assert emulator.injected()["error"] == 1
    assert emulator.transactions("collection") == []


async def test_a_5xx_on_a_query_is_retried_with_backoff(
    make_live: ConnectorFactory, emulator: Emulator
) -> None:
    connector = make_live(retry_attempts=3)
    submission = await connector.collect(ask("col-8", APPROVES))
    emulator.faults(error_rate=1.0)
    with pytest.raises((NotSent, OutcomeUnknown)):
        await connector.collection_status("col-8", submission.provider_request_id)
    assert emulator.injected()["error"] == 3
    emulator.clear_faults()
    status = await settled(connector, "col-8", submission.provider_request_id)
    assert status.outcome is Outcome.SUCCEEDED


async def test_payout_times_out_after_accept_then_status_tells_the_truth(
    make_live: ConnectorFactory, emulator: Emulator
) -> None:
    connector = make_live()
    await connector.access_token()
    emulator.faults(timeout_after_accept_rate=1.0, timeout_hold_s=2.0)
    with pytest.raises(OutcomeUnknown):
        await connector.disburse(pay_owner("mpesa-20260101-5"))
    emulator.clear_faults()
    emulator.wait_until(lambda: emulator.transactions("disbursement")[0]["status"] != "pending")
    status = await connector.disbursement_status("mpesa-20260101-5", None)
    assert status.outcome is Outcome.SUCCEEDED
    assert status.amount == kes(2000)
    assert len(emulator.transactions("disbursement")) == 1


async def test_push_times_out_after_accept_and_its_callback_matches_nothing_we_know(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    await connector.access_token()
    emulator.faults(timeout_after_accept_rate=1.0, timeout_hold_s=2.0)
    with pytest.raises(OutcomeUnknown):
        await connector.collect(ask("col-9", APPROVES))
    emulator.clear_faults()
    assert (await connector.collection_status("col-9", "")).outcome is Outcome.UNKNOWN
    [record] = await receiver.wait_for(K.COLLECTION)
    assert record.event is not None
    with pytest.raises(CallbackRejected) as caught:
        callbacks.verify_against(record.event, None)  # we never learned the CheckoutRequestID
    assert caught.value.reason == "unknown_reference"


async def test_a_lost_stk_callback_is_found_by_the_query(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    emulator.faults(lost_callback_rate=1.0)
    submission = await connector.collect(ask("col-10", APPROVES))
    status = await settled(connector, "col-10", submission.provider_request_id)
    assert status.outcome is Outcome.SUCCEEDED
    assert receiver.events(K.COLLECTION) == []
    assert [d["fault"] for d in emulator.deliveries()] == ["lost"]


async def test_a_lost_payout_result_is_found_by_transaction_status(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    emulator.faults(lost_callback_rate=1.0)
    await connector.disburse(pay_owner("mpesa-20260101-6"))
    emulator.wait_until(lambda: emulator.transactions("disbursement")[0]["status"] == "succeeded")
    emulator.clear_faults()
    status = await connector.disbursement_status("mpesa-20260101-6", None)
    assert status.outcome is Outcome.SUCCEEDED
    assert receiver.events(K.DISBURSEMENT) == []


async def test_a_lost_status_result_is_unknown_not_failed(
    make_live: ConnectorFactory, emulator: Emulator
) -> None:
    connector = make_live(result_timeout_s=0.3)
    emulator.faults(lost_callback_rate=1.0)
    status = await connector.disbursement_status("mpesa-20260101-404", None)
    assert (status.outcome, status.provider_code) == (Outcome.UNKNOWN, "no_result")


async def test_a_duplicated_callback_has_the_same_event_id_and_is_booked_once(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    emulator.faults(duplicate_callback_rate=1.0)
    submission = await connector.collect(ask("col-11", APPROVES))
    first, second = await receiver.wait_for(K.COLLECTION, submission.provider_request_id, count=2)
    assert first.event is not None
    assert second.event is not None
    assert first.event.event_id == second.event.event_id
    assert (first.duplicate, second.duplicate) == (False, True)
    assert len(receiver.inbox) == 1


async def test_a_late_callback_still_matches_what_the_query_already_said(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    emulator.faults(late_callback_rate=1.0, late_callback_delay_s=800.0)  # 0.8 s here
    submission = await connector.collect(ask("col-12", APPROVES, 220))
    queried = await settled(connector, "col-12", submission.provider_request_id)
    assert queried.outcome is Outcome.SUCCEEDED
    assert receiver.events(K.COLLECTION) == []
    [record] = await receiver.wait_for(K.COLLECTION, submission.provider_request_id)
    assert record.event is not None
    assert callbacks.confirmation_mismatches(record.event, queried) == []
    callbacks.verify_against(
        record.event, ExpectedTransaction(submission.provider_request_id, kes(220), APPROVES)
    )


async def test_a_token_expiring_early_costs_one_refresh_and_the_call_succeeds(
    make_live: ConnectorFactory, emulator: Emulator
) -> None:
    """Whatever the fault's dice say: no early expiry → no refresh; one → exactly one
    refresh and success; two in a row → an authentication failure after one refresh."""
    connector = make_live()
    oauth_calls: list[str] = []
    connector._http.event_hooks["request"].append(  # count what goes on the wire
        lambda request: _record(oauth_calls, request)
    )
    await connector.access_token()
    emulator.faults(early_token_expiry_rate=0.5)
    had_token = True
    for _ in range(60):
        fired_before, fetched_before = emulator.injected()["early_token_expiry"], len(oauth_calls)
        try:
            await connector.register_c2b_urls()
            succeeded = True
        except AuthenticationFailed:
            succeeded = False
        fired = emulator.injected()["early_token_expiry"] - fired_before
        refreshed = len(oauth_calls) - fetched_before - (0 if had_token else 1)
        assert refreshed == min(fired, 1)
        assert succeeded is (fired < 2)
        had_token = succeeded
        if fired == 1:
            break
    else:  # pragma: no cover - (3/4)^60
        pytest.fail("the early-expiry fault never fired exactly once")


async def _record(calls: list[str], request: httpx.Request) -> None:
    if request.url.path == "/oauth/v1/generate":
        calls.append(request.url.path)


async def test_a_token_revoked_by_another_process_costs_one_refresh(
    make_live: ConnectorFactory, own_emulator: Callable[..., Emulator], receiver: Receiver
) -> None:
    target = own_emulator(token_invalidates_previous=True)
    ours = make_live(target)
    await ours.access_token()
    other = make_live(target)
    await other.access_token()  # doc §2: a new token may invalidate the previous one
    receiver.attach(ours, ours._results, asyncio.get_running_loop())
    submission = await ours.collect(ask("col-13", APPROVES))
    await receiver.wait_for(K.COLLECTION, submission.provider_request_id)


async def test_a_queue_timeout_is_unknown_until_status_tells_the_truth(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    emulator.faults(queue_timeout_rate=1.0)
    submission = await connector.disburse(pay_owner("mpesa-20260101-7"))
    [record] = await receiver.wait_for(K.DISBURSEMENT_TIMEOUT)
    assert record.event is not None
    assert record.event.status.outcome is Outcome.UNKNOWN
    assert record.event.reference == "mpesa-20260101-7"
    emulator.clear_faults()
    emulator.wait_until(lambda: emulator.transaction(submission.provider_request_id)["status"]
                        != "pending")  # fmt: skip
    truth = emulator.transaction(submission.provider_request_id)
    status = await connector.confirm(record.event)
    expected = Outcome.SUCCEEDED if truth["status"] == "succeeded" else Outcome.FAILED
    assert status.outcome is expected


# --- callbacks that must not become revenue -------------------------------------------


async def test_a_callback_on_a_wrong_path_token_is_refused(
    make_live: ConnectorFactory, receiver: Receiver
) -> None:
    make_live()
    body = {"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0}}}
    async with httpx.AsyncClient(base_url=receiver.url) as client:
        answer = await client.post("/hooks/not-the-token/stk", json=body)
    assert answer.status_code == 404
    assert [r.rejected for r in receiver.records] == ["bad_token"]


async def test_a_callback_for_another_amount_is_refused(
    make_live: ConnectorFactory, receiver: Receiver
) -> None:
    connector = make_live()
    submission = await connector.collect(ask("col-14", APPROVES, 150))
    [record] = await receiver.wait_for(K.COLLECTION, submission.provider_request_id)
    assert record.event is not None
    expected = ExpectedTransaction(submission.provider_request_id, kes(1500), APPROVES)
    with pytest.raises(CallbackRejected) as caught:
        callbacks.verify_against(record.event, expected)
    assert caught.value.reason == "amount_mismatch"


async def test_a_forged_success_is_contradicted_by_the_status_query(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    connector = make_live()
    emulator.faults(lost_callback_rate=1.0)  # the real "cancelled" callback never arrives
    submission = await connector.collect(ask("col-15", CANCELS, 150))
    checkout = submission.provider_request_id
    emulator.wait_until(lambda: emulator.transaction(checkout)["status"] != "pending")
    forged = {
        "Body": {"stkCallback": {
            "MerchantRequestID": "x", "CheckoutRequestID": checkout, "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {"Item": [
                {"Name": "Amount", "Value": 150},
                {"Name": "MpesaReceiptNumber", "Value": "SFAKE00001"},
                {"Name": "PhoneNumber", "Value": int(CANCELS)},
            ]},
        }}
    }  # fmt: skip
    async with httpx.AsyncClient(base_url=receiver.url) as client:
        await client.post(f"/hooks/{CALLBACK_TOKEN}/stk", content=json.dumps(forged))
    [record] = await receiver.wait_for(K.COLLECTION, checkout)
    assert record.event is not None
    assert record.event.status.outcome is Outcome.SUCCEEDED  # it parses and matches …
    callbacks.verify_against(record.event, ExpectedTransaction(checkout, kes(150), CANCELS))
    confirmed = await connector.confirm(record.event)  # … but the query says otherwise
    assert (confirmed.outcome, confirmed.reason) == (Outcome.FAILED, FailureReason.CANCELLED)
    assert callbacks.confirmation_mismatches(record.event, confirmed) == ["outcome_contradicted"]


async def test_a_malformed_callback_is_rejected_and_still_answered(
    make_live: ConnectorFactory, receiver: Receiver
) -> None:
    make_live()
    async with httpx.AsyncClient(base_url=receiver.url) as client:
        answer = await client.post(f"/hooks/{CALLBACK_TOKEN}/b2c/result", content=b"{not json")
        validation = await client.post(f"/hooks/{CALLBACK_TOKEN}/c2b/validation", content=b"[]")
    assert answer.status_code == 200
    assert answer.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert validation.json()["ResultCode"] == "C2B00016"
    assert [r.rejected for r in receiver.records] == ["malformed_json", "not_an_object"]


async def test_nothing_secret_reaches_any_log_over_real_http(
    make_live: ConnectorFactory, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    import structlog

    caplog.set_level(logging.DEBUG)
    connector = make_live()
    with structlog.testing.capture_logs() as logs:
        token = await connector.access_token()
        submission = await connector.collect(ask("col-16", APPROVES))
        await receiver.wait_for(K.COLLECTION, submission.provider_request_id)
        await connector.disburse(pay_owner("mpesa-20260101-8"))
        await receiver.wait_for(K.DISBURSEMENT, "mpesa-20260101-8")
    # The emulator's own client logs the callback URLs it posts to (it shares this
    # process); those lines are Daraja's side, so they are left out here.
    ours = [r.getMessage() for r in caplog.records if f"/hooks/{CALLBACK_TOKEN}" not in
            r.getMessage() or "HTTP Request: POST" not in r.getMessage()]  # fmt: skip
    text = json.dumps(logs, default=str) + "\n".join(ours)
    for secret in (token, "qmoi-sandbox-secret", "Sandbox#1234", APPROVES, CALLBACK_TOKEN,
                   "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"):  # fmt: skip
        assert secret not in text


async def test_the_statement_names_a_paid_push_by_receipt_number_and_amount(
    make_live: ConnectorFactory, receiver: Receiver, emulator: Emulator
) -> None:
    """What finds a push whose answer and callback were both lost: the paybill's
    statement (Pull Transactions, unconfirmed shape) lists it with its receipt."""
    connector = make_live()
    submission = await connector.collect(ask("col-statement", APPROVES, 175))
    checkout = submission.provider_request_id
    [record] = await receiver.wait_for(K.COLLECTION, checkout)
    assert record.event is not None
    receipt = record.event.status.provider_reference
    truth = emulator.transaction(checkout)
    paid_at = datetime.fromisoformat(truth["completed_at"])

    lines = await connector.statement(
        paid_at - timedelta(minutes=1), paid_at + timedelta(minutes=1)
    )
    (line,) = [s for s in lines if s.provider_reference == receipt]
    assert line.outcome is Outcome.SUCCEEDED
    assert (line.amount, line.msisdn) == (kes(175), APPROVES)
    assert line.completed_at is not None
    assert abs((line.completed_at - paid_at).total_seconds()) < 1
    earlier = await connector.statement(paid_at - timedelta(hours=2), paid_at - timedelta(hours=1))
    assert receipt not in {s.provider_reference for s in earlier}
    # asked within the second it was paid in, up to that very instant: still listed (the
    # query takes whole seconds; cut down to one, the end would fall before the payment)
    if paid_at.microsecond:
        at_once = await connector.statement(paid_at - timedelta(minutes=1), paid_at)
        assert receipt in {s.provider_reference for s in at_once}
