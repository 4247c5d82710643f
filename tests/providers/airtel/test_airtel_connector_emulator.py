"""The Airtel connector against QMOI's Airtel emulator, over real HTTP on 127.0.0.1.

Every operation (token, USSD push with its callback, enquiry, refund, disbursement with
an encrypted PIN, balance, KYC, message signing) and every fault of the emulator's
control API (5xx, timeout after accept, lost / duplicate / late callbacks, early token
expiry, enquiries held in progress or ambiguous). The emulator runs 100× faster than
the wall clock, so a customer answers in 10–20 ms and a prompt times out after 0.2 s.

Each test worker keeps one emulator per configuration and resets it between tests;
callbacks go to a small inbox app that calls ``parse_callback``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from tests.providers.airtel.airtel_connector_kit import CallbackInbox, make_settings

from qmoi.config import AirtelSettings
from qmoi.domain.money import Money
from qmoi.providers.airtel import AirtelConnector
from qmoi.providers.base import (
    AuthenticationFailed,
    CollectRequest,
    DisburseRequest,
    FailureReason,
    NotSent,
    Outcome,
    OutcomeUnknown,
    ProviderStatus,
    Rejected,
)

sandbox_app = pytest.importorskip("qmoi_sandbox.airtel.app")
from qmoi_sandbox.common.server import serve_in_thread  # noqa: E402

pytestmark = pytest.mark.airtel

APPROVES, DECLINES, SILENT, NO_FUNDS, WRONG_PIN = (
    "254733000100",
    "254733000101",
    "254733000102",
    "254733000103",
    "254733000104",
)
CALLBACK_KEY = "integration-callback-key"
FAST: dict[str, Any] = {
    "speed": 100.0,
    "customer_delay_s": (1.0, 2.0),
    "prompt_timeout_s": 20.0,
    "callback_first_retry_s": 5.0,
    "seed": 11,
}
KES = "KES"
TIMEOUT = httpx.Timeout(connect=1.0, read=1.0, write=1.0, pool=1.0)


class Emulator:
    def __init__(self, url: str) -> None:
        self.url = url
        self.control = httpx.Client(base_url=f"{url}/sandbox", timeout=10.0)

    def faults(self, **changes: Any) -> None:
        self.control.put("/faults", json=changes).raise_for_status()

    def injected(self, name: str) -> int:
        return int(self.control.get("/faults/injected").json()["counts"].get(name, 0))

    def wallet_minor(self) -> int:
        return int(self.control.get("/wallet").json()["balance_minor"])

    def set_wallet(self, minor: int) -> None:
        self.control.put("/wallet", json={"balance_minor": minor}).raise_for_status()

    def transaction(self, txid: str) -> dict[str, Any] | None:
        answer = self.control.get(f"/transactions/{txid}")
        return None if answer.status_code == 404 else dict(answer.json())

    def transactions(self, kind: str) -> list[dict[str, Any]]:
        return list(self.control.get("/transactions", params={"kind": kind}).json())

    def public_key(self) -> str:
        return self.control.get("/public-key").text

    def reset(self) -> None:
        self.control.post("/reset").raise_for_status()


@pytest.fixture(scope="session")
def _inbox_server() -> Iterator[CallbackInbox]:
    inbox = CallbackInbox()
    with serve_in_thread(inbox.app) as url:
        inbox.url = f"{url}/api/airtel/callback"
        yield inbox


@pytest.fixture(scope="session")
def emulators(_inbox_server: CallbackInbox) -> Iterator[Callable[..., Emulator]]:
    pool: dict[str, Emulator] = {}
    with ExitStack() as stack:

        def get(**overrides: Any) -> Emulator:
            key = repr(sorted(overrides.items()))
            if key not in pool:
                config = sandbox_app.AirtelSandboxConfig(
                    **(FAST | {"callback_url": _inbox_server.url} | overrides)
                )
                url = stack.enter_context(serve_in_thread(sandbox_app.create_app(config)))
                pool[key] = Emulator(url)
                stack.callback(pool[key].control.close)
            else:
                pool[key].reset()
            return pool[key]

        yield get


@pytest.fixture
def inbox(_inbox_server: CallbackInbox) -> CallbackInbox:
    _inbox_server.clear()
    return _inbox_server


@pytest.fixture
def emulator(emulators: Callable[..., Emulator]) -> Emulator:
    return emulators()


@pytest.fixture
async def connect(inbox: CallbackInbox) -> AsyncIterator[Callable[..., AirtelConnector]]:
    """Connectors for an emulator; the last one built receives the inbox's callbacks."""
    built: list[AirtelConnector] = []

    def build(
        emulator: Emulator, settings: AirtelSettings | None = None, **kw: Any
    ) -> AirtelConnector:
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("retry_attempts", 3)
        kw.setdefault("retry_max_s", 0.01)
        connector = AirtelConnector(settings or make_settings(), base_url=emulator.url, **kw)
        inbox.attach(connector)
        built.append(connector)
        return connector

    yield build
    for connector in built:
        await connector.aclose()


_ids = iter(range(1, 10**9))


def new_id(kind: str = "col") -> str:
    return f"it-{kind}-{time.monotonic_ns() % 10**12}-{next(_ids)}"


def collect_request(msisdn: str = APPROVES, minor: int = 15000) -> CollectRequest:
    return CollectRequest(
        new_id(), msisdn, Money(minor, KES), "QMOI airtime", "QMOI Airtel Revenue"
    )


def disburse_request(msisdn: str = APPROVES, minor: int = 200000) -> DisburseRequest:
    return DisburseRequest(new_id("tr"), msisdn, Money(minor, KES), "owner payout")


async def settle(
    check: Callable[[], Any], *, timeout_s: float = 5.0, final: bool = True
) -> ProviderStatus:
    """Enquire until the answer is final (the engine's poll, compressed)."""
    deadline = time.monotonic() + timeout_s
    status: ProviderStatus = await check()
    while (status.is_final is not final) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        status = await check()
    return status


# ------------------------------------------------------------------------------- token


async def test_token_is_fetched_once_and_reused(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator)
    balance = await connector.balance()
    await connector.balance()
    assert balance.available == Money(emulator.wallet_minor(), KES)
    assert connector.token_fetches == 1


async def test_concurrent_calls_share_one_token(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator)
    await asyncio.gather(*(connector.balance() for _ in range(20)))
    assert connector.token_fetches == 1


async def test_wrong_credentials(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator, make_settings(client_secret="wrong"))
    with pytest.raises(AuthenticationFailed) as caught:
        await connector.collect(collect_request())
    assert caught.value.provider_code == "invalid_client"
    assert emulator.transactions("collection") == []


async def test_token_outliving_the_emulator_clock_is_refreshed_once(
    emulators: Callable[..., Emulator], connect: Callable[..., AirtelConnector]
) -> None:
    """The emulator's 180 s token lasts 0.3 s here; we believe it for 150 s, get 403
    invalid_token, refresh once and carry on."""
    emulator = emulators(speed=600.0)
    connector = connect(emulator)
    await connector.balance()
    await asyncio.sleep(0.4)
    await connector.balance()
    assert connector.token_fetches == 2


# --------------------------------------------------------------------------- collections


async def test_collect_callback_and_enquiry_agree(
    emulator: Emulator, connect: Callable[..., AirtelConnector], inbox: CallbackInbox
) -> None:
    connector = connect(emulator)
    request = collect_request()
    submission = await connector.collect(request)
    assert submission.status.outcome is Outcome.PENDING
    assert submission.provider_request_id == request.reference

    (event,) = await inbox.wait_for(request.reference)
    assert event.status.outcome is Outcome.SUCCEEDED
    assert event.status.provider_code == "TS"
    assert event.event_id == f"airtel:collection:{request.reference}:TS"
    assert inbox.answers[-1]["status"]["success"] is True

    status = await settle(lambda: connector.collection_status(request.reference, request.reference))
    assert status.outcome is Outcome.SUCCEEDED
    assert status.provider_reference == event.status.provider_reference
    truth = emulator.transaction(request.reference)
    assert truth is not None
    assert (truth["status"], truth["provider_id"]) == ("succeeded", status.provider_reference)
    assert truth["msisdn"] == APPROVES
    assert truth["amount_minor"] == 15000


@pytest.mark.parametrize(
    ("msisdn", "reasons"),
    [
        (DECLINES, {FailureReason.CANCELLED}),
        (SILENT, {FailureReason.TIMEOUT, FailureReason.EXPIRED}),
        (NO_FUNDS, {FailureReason.INSUFFICIENT_FUNDS}),
        (WRONG_PIN, {FailureReason.INVALID_PIN}),
    ],
)
async def test_collect_failures_carry_their_reason(
    emulator: Emulator,
    connect: Callable[..., AirtelConnector],
    inbox: CallbackInbox,
    msisdn: str,
    reasons: set[FailureReason],
) -> None:
    connector = connect(emulator)
    request = collect_request(msisdn)
    assert (await connector.collect(request)).status.outcome is Outcome.PENDING
    status = await settle(lambda: connector.collection_status(request.reference, request.reference))
    assert status.outcome is Outcome.FAILED
    assert status.reason in reasons, (status.provider_code, status.provider_message)
    (event,) = await inbox.wait_for(request.reference)
    assert event.status.outcome is Outcome.FAILED
    assert event.status.reason in reasons, event.status.provider_message


async def test_same_id_twice_is_one_payment(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator)
    request = collect_request()
    await connector.collect(request)
    again = await connector.collect(request)  # a retry of the same intent, same id
    assert again.status.outcome in (Outcome.PENDING, Outcome.SUCCEEDED)
    ids = [t["id"] for t in emulator.transactions("collection")]
    assert ids.count(request.reference) == 1


async def test_unknown_id_enquiry_is_not_found(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    status = await connect(emulator).collection_status("it-never-sent", "it-never-sent")
    assert (status.outcome, status.reason) == (Outcome.UNKNOWN, FailureReason.NOT_FOUND)


async def test_invalid_number_refused_before_sending(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    with pytest.raises(Rejected, match="before sending"):
        await connect(emulator).collect(collect_request("2547330001"))
    assert emulator.transactions("collection") == []


async def test_refund_of_a_paid_collection(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator)
    request = collect_request()
    await connector.collect(request)
    paid = await settle(lambda: connector.collection_status(request.reference, request.reference))
    assert paid.provider_reference is not None
    before = emulator.wallet_minor()
    refund = await connector.refund(paid.provider_reference, request.amount)
    assert refund.outcome in (Outcome.SUCCEEDED, Outcome.PENDING)
    assert refund.provider_reference
    assert emulator.wallet_minor() == before - 15000


# ---------------------------------------------------------------------------- payouts


async def test_disburse_with_fetched_key(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator)
    before = emulator.wallet_minor()
    request = disburse_request()
    submission = await connector.disburse(request)
    assert submission.status.outcome in (Outcome.SUCCEEDED, Outcome.PENDING)
    status = await settle(
        lambda: connector.disbursement_status(request.reference, submission.provider_request_id)
    )
    assert status.outcome is Outcome.SUCCEEDED
    assert status.provider_reference
    assert emulator.wallet_minor() == before - 200000
    truth = emulator.transaction(request.reference)
    assert truth is not None
    assert truth["status"] == "succeeded"


async def test_disburse_with_configured_pem(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator, make_settings(public_key=emulator.public_key()))
    submission = await connector.disburse(disburse_request())
    assert submission.status.outcome in (Outcome.SUCCEEDED, Outcome.PENDING)


async def test_wrong_pin(emulator: Emulator, connect: Callable[..., AirtelConnector]) -> None:
    before = emulator.wallet_minor()
    connector = connect(emulator, make_settings(pin="9999"))
    submission = await connector.disburse(disburse_request())
    assert submission.status.outcome is Outcome.FAILED
    assert submission.status.reason is FailureReason.INVALID_PIN
    assert emulator.wallet_minor() == before


async def test_insufficient_funds(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    emulator.set_wallet(100_000)
    submission = await connect(emulator).disburse(disburse_request(minor=200_000))
    assert submission.status.outcome is Outcome.FAILED
    assert submission.status.reason is FailureReason.INSUFFICIENT_FUNDS
    assert emulator.wallet_minor() == 100_000


async def test_balance_and_user_enquiry(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator)
    emulator.set_wallet(12_345_67)
    assert (await connector.balance()).available == Money(12_345_67, KES)
    subscriber = await connector.user_enquiry(APPROVES)
    assert subscriber.msisdn == APPROVES
    assert subscriber.registered
    assert not subscriber.barred


# ------------------------------------------------------------------------ message signing


async def test_signed_v2_collect_and_disburse(
    emulators: Callable[..., Emulator], connect: Callable[..., AirtelConnector]
) -> None:
    emulator = emulators(signing_required=True)
    connector = connect(emulator, make_settings(message_signing=True))
    assert connector.api_version == 2
    assert (await connector.collect(collect_request())).status.outcome is Outcome.PENDING
    payout = await connector.disburse(disburse_request())
    assert payout.status.outcome in (Outcome.SUCCEEDED, Outcome.PENDING)


async def test_unsigned_v2_is_refused_where_signing_is_required(
    emulators: Callable[..., Emulator], connect: Callable[..., AirtelConnector]
) -> None:
    emulator = emulators(signing_required=True)
    connector = connect(emulator, make_settings(message_signing=False), api_version=2)
    with pytest.raises(Rejected) as caught:
        await connector.collect(collect_request())
    assert caught.value.provider_code == "DP00800001026"


# ----------------------------------------------------------------------- callback hash


async def test_hashed_callbacks_verify(
    emulators: Callable[..., Emulator],
    connect: Callable[..., AirtelConnector],
    inbox: CallbackInbox,
) -> None:
    emulator = emulators(callback_auth=True, callback_key=CALLBACK_KEY)
    settings = make_settings(callback_auth=True, callback_secret=CALLBACK_KEY)
    connector = connect(emulator, settings)
    request = collect_request()
    await connector.collect(request)
    (event,) = await inbox.wait_for(request.reference)
    assert event.status.outcome is Outcome.SUCCEEDED
    assert connector.callback_problems(event, None) == ["unknown_transaction"]


async def test_callbacks_with_a_wrong_key_are_rejected(
    emulators: Callable[..., Emulator],
    connect: Callable[..., AirtelConnector],
    inbox: CallbackInbox,
) -> None:
    emulator = emulators(callback_auth=True, callback_key=CALLBACK_KEY)
    settings = make_settings(callback_auth=True, callback_secret="not-the-key")
    connector = connect(emulator, settings)
    request = collect_request()
    await connector.collect(request)
    deadline = time.monotonic() + 5
    while not inbox.rejections and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert inbox.rejections[0][0] == "hash_mismatch"
    assert inbox.for_reference(request.reference) == []


# ---------------------------------------------------------------------------- faults


async def test_server_error_on_push_is_unknown_and_nothing_happened(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator)
    await connector.balance()  # token first, so the fault hits the push itself
    emulator.faults(error_rate=1.0)
    request = collect_request()
    with pytest.raises(OutcomeUnknown) as caught:
        await connector.collect(request)
    assert "money may have moved" in str(caught.value)
    emulator.faults(error_rate=0.0)
    status = await connector.collection_status(request.reference, request.reference)
    assert status.reason is FailureReason.NOT_FOUND
    assert emulator.transaction(request.reference) is None


async def test_server_errors_on_reads_are_retried_then_unknown(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator, retry_attempts=3)
    await connector.balance()
    emulator.faults(error_rate=1.0)
    with pytest.raises(OutcomeUnknown):
        await connector.balance()
    assert emulator.injected("error") == 3


async def test_token_endpoint_errors_mean_not_sent(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    emulator.faults(error_rate=1.0)
    with pytest.raises(NotSent):
        await connect(emulator).collect(collect_request())
    emulator.faults(error_rate=0.0)
    assert emulator.transactions("collection") == []


async def test_push_timeout_after_accept_then_enquiry_tells_the_truth(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator, timeout=httpx.Timeout(1.0, read=0.3))
    await connector.balance()
    emulator.faults(timeout_after_accept_rate=1.0, timeout_hold_s=3.0)
    request = collect_request()
    with pytest.raises(OutcomeUnknown) as caught:
        await connector.collect(request)
    assert caught.value.reference == request.reference
    emulator.faults(timeout_after_accept_rate=0.0)
    status = await settle(lambda: connector.collection_status(request.reference, request.reference))
    assert status.outcome is Outcome.SUCCEEDED
    assert (
        len([t for t in emulator.transactions("collection") if t["id"] == request.reference]) == 1
    )


async def test_payout_timeout_after_accept_is_paid_exactly_once(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    """Airtel payout times out, enquiry says paid → one debit, nothing resent."""
    connector = connect(emulator, timeout=httpx.Timeout(1.0, read=0.3))
    await connector.balance()
    before = emulator.wallet_minor()
    emulator.faults(timeout_after_accept_rate=1.0, timeout_hold_s=3.0)
    request = disburse_request()
    with pytest.raises(OutcomeUnknown):
        await connector.disburse(request)
    emulator.faults(timeout_after_accept_rate=0.0)
    status = await settle(lambda: connector.disbursement_status(request.reference, None))
    assert status.outcome is Outcome.SUCCEEDED
    assert emulator.wallet_minor() == before - 200000
    # the engine retrying the same intent with the same id: duplicate → enquiry → paid
    again = await connector.disburse(request)
    assert again.status.outcome is Outcome.SUCCEEDED
    assert emulator.wallet_minor() == before - 200000


async def test_gateway_timeout_answer_is_unknown(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    """The emulator's 504 ROUTER117 after a short hold (our read timeout is longer)."""
    connector = connect(emulator)
    await connector.balance()
    emulator.faults(timeout_after_accept_rate=1.0, timeout_hold_s=0.05)
    with pytest.raises(OutcomeUnknown) as caught:
        await connector.collect(collect_request())
    assert caught.value.provider_code in ("HTTP504", "ROUTER117")


async def test_lost_callback_found_by_enquiry(
    emulator: Emulator, connect: Callable[..., AirtelConnector], inbox: CallbackInbox
) -> None:
    emulator.faults(lost_callback_rate=1.0)
    connector = connect(emulator)
    request = collect_request()
    await connector.collect(request)
    status = await settle(lambda: connector.collection_status(request.reference, request.reference))
    assert status.outcome is Outcome.SUCCEEDED
    await asyncio.sleep(0.1)
    assert inbox.for_reference(request.reference) == []
    assert emulator.injected("lost_callback") >= 1


async def test_duplicate_callbacks_share_an_event_id(
    emulator: Emulator, connect: Callable[..., AirtelConnector], inbox: CallbackInbox
) -> None:
    emulator.faults(duplicate_callback_rate=1.0)
    connector = connect(emulator)
    request = collect_request()
    await connector.collect(request)
    first, second = await inbox.wait_for(request.reference, count=2)
    assert first.event_id == second.event_id
    assert first.status == second.status


async def test_late_callback_after_the_enquiry(
    emulator: Emulator, connect: Callable[..., AirtelConnector], inbox: CallbackInbox
) -> None:
    emulator.faults(late_callback_rate=1.0, late_callback_delay_s=30.0)  # 0.3 s real
    connector = connect(emulator)
    request = collect_request()
    await connector.collect(request)
    status = await settle(lambda: connector.collection_status(request.reference, request.reference))
    assert status.outcome is Outcome.SUCCEEDED
    assert inbox.for_reference(request.reference) == []
    (event,) = await inbox.wait_for(request.reference)
    assert event.status.outcome is Outcome.SUCCEEDED
    assert event.status.provider_reference == status.provider_reference


async def test_early_token_expiry_one_refresh_and_success(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator)
    await connector.balance()
    assert connector.token_fetches == 1
    # slow answers give room to switch the fault off after its first refusal
    emulator.faults(early_token_expiry_rate=1.0, latency_ms=150)
    call = asyncio.create_task(connector.balance())
    deadline = time.monotonic() + 5
    while emulator.injected("early_token_expiry") < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    emulator.faults(early_token_expiry_rate=0.0)
    balance = await call
    assert balance.available.currency == KES
    assert connector.token_fetches == 2
    assert emulator.injected("early_token_expiry") == 1


async def test_token_refused_again_after_refresh_gives_up(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator)
    await connector.balance()
    emulator.faults(early_token_expiry_rate=1.0)
    with pytest.raises(AuthenticationFailed):
        await connector.balance()
    assert connector.token_fetches == 2


async def test_enquiry_held_in_progress_is_pending(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    emulator.faults(enquiry_pending_s=40.0)  # 0.4 s real after the customer answered
    connector = connect(emulator)
    request = collect_request()
    await connector.collect(request)
    await asyncio.sleep(0.1)
    status = await connector.collection_status(request.reference, request.reference)
    assert status.outcome is Outcome.PENDING
    assert status.provider_code == "TIP"
    final = await settle(lambda: connector.collection_status(request.reference, request.reference))
    assert final.outcome is Outcome.SUCCEEDED


async def test_ambiguous_enquiry_is_unknown(
    emulator: Emulator, connect: Callable[..., AirtelConnector]
) -> None:
    connector = connect(emulator)
    request = collect_request()
    await connector.collect(request)
    await asyncio.sleep(0.1)
    emulator.faults(ambiguous_enquiry_rate=1.0)
    status = await connector.collection_status(request.reference, request.reference)
    assert status.outcome is Outcome.UNKNOWN
    assert status.provider_code == "TA"
