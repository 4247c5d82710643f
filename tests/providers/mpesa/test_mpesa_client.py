"""The connector's behaviour against a scripted Daraja (httpx.MockTransport): tokens,
payloads, how failures are classed, results awaited through the ResultWaiter."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric import padding

from qmoi.config import Environment, MpesaSettings
from qmoi.domain.clock import ManualClock
from qmoi.domain.errors import CurrencyMismatch, InvalidAmount
from qmoi.domain.money import Money
from qmoi.errors import ConfigError
from qmoi.providers.base import (
    AuthenticationFailed,
    CallbackKind,
    CollectRequest,
    DisburseRequest,
    FailureReason,
    InMemoryResultWaiter,
    NotSent,
    Outcome,
    OutcomeUnknown,
    PaymentProvider,
    Rejected,
)
from qmoi.providers.mpesa import callbacks, crypto
from qmoi.providers.mpesa.client import MpesaConnector

from .support import CALLBACK_BASE, PUBLIC_SANDBOX_PASSKEY, FakeDaraja, KeyPair

pytestmark = pytest.mark.mpesa

MakeConnector = Callable[..., MpesaConnector]
STK = "/mpesa/stkpush/v1/processrequest"
QUERY = "/mpesa/stkpushquery/v1/query"
OAUTH = "/oauth/v1/generate"
B2C = "/mpesa/b2c/v3/paymentrequest"
STATUS = "/mpesa/transactionstatus/v1/query"
BALANCE = "/mpesa/accountbalance/v1/query"
REVERSAL = "/mpesa/reversal/v1/request"
OWNER = "254708000100"


def kes(shillings: int) -> Money:
    return Money(shillings * 100, "KES")


def collect_request(**overrides: Any) -> CollectRequest:
    values: dict[str, Any] = {
        "reference": "col-1",
        "msisdn": "254708374149",
        "amount": kes(150),
        "account_reference": "AIR000042",
        "description": "Airtime",
    }
    values.update(overrides)
    return CollectRequest(**values)


def payout(**overrides: Any) -> DisburseRequest:
    values: dict[str, Any] = {
        "reference": "mpesa-20260101-1",
        "msisdn": OWNER,
        "amount": kes(2000),
        "remarks": "owner payout",
    }
    values.update(overrides)
    return DisburseRequest(**values)


STK_ACK = {
    "MerchantRequestID": "2654-4b64-97ff-b827b542881d3130",
    "CheckoutRequestID": "ws_CO_1007202409152617172396192",
    "ResponseCode": "0",
    "ResponseDescription": "Success. Request accepted for processing",
    "CustomerMessage": "Success. Request accepted for processing",
}


def query_answer(result_code: str) -> dict[str, Any]:
    return {
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successfully",
        "MerchantRequestID": "22205-34066-1",
        "CheckoutRequestID": "ws_CO_1007202409152617172396192",
        "ResultCode": result_code,
        "ResultDesc": "Request cancelled by user" if result_code == "1032" else "ok",
    }


_conversations = itertools.count(1)


def answer_by_callback(
    fake: FakeDaraja,
    path: str,
    result_body: Callable[[str, dict[str, Any]], dict[str, Any] | None],
    *,
    kind: CallbackKind,
    delay_s: float = 0.01,
) -> None:
    """Acknowledge an initiator request, then deliver its result to the waiter as the
    API layer would; ``result_body`` returning None means the callback is lost."""

    async def handler(request: httpx.Request) -> httpx.Response:
        conversation = f"AG_{next(_conversations)}"
        sent = json.loads(request.content)
        body = result_body(conversation, sent)
        if body is not None:
            event = callbacks.parse_callback(kind, json.dumps(body).encode())
            url = sent[
                "QueueTimeOutURL" if kind is CallbackKind.DISBURSEMENT_TIMEOUT else "ResultURL"
            ]
            delivery = callbacks.waiter_delivery(event, url.rsplit("/", 1)[-1])
            assert delivery is not None
            asyncio.get_running_loop().call_later(delay_s, fake.results.deliver, *delivery)
        return httpx.Response(
            200,
            json={
                "OriginatorConversationID": sent.get("OriginatorConversationID", "5118-1"),
                "ConversationID": conversation,
                "ResponseCode": "0",
                "ResponseDescription": "Accept the service request successfully.",
            },
        )

    fake.routes[path] = handler


def envelope(conversation: str, code: Any, parameters: list[tuple[str, Any]] = ()) -> Any:
    result: dict[str, Any] = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": "desc",
        "OriginatorConversationID": "5118-1",
        "ConversationID": conversation,
        "TransactionID": "SAB12CD34J",
    }
    if parameters:
        result["ResultParameters"] = {
            "ResultParameter": [{"Key": k, "Value": v} for k, v in parameters]
        }
    return {"Result": result}


# --- construction ---------------------------------------------------------------------


def test_the_connector_is_a_payment_provider(make_connector: MakeConnector) -> None:
    connector = make_connector()
    assert isinstance(connector, PaymentProvider)
    assert (connector.name, connector.currency) == ("mpesa", "KES")


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        (Environment.STAGING, "https://sandbox.safaricom.co.ke"),
        (Environment.PRODUCTION, "https://api.safaricom.co.ke"),
    ],
)
async def test_live_environments_default_to_daraja_hosts(
    make_settings: Callable[..., MpesaSettings], environment: Environment, expected: str
) -> None:
    connector = MpesaConnector(
        make_settings(environment=environment),
        callback_base_url="https://pay.example/hooks/x",
        results=InMemoryResultWaiter(),
    )
    assert connector.base_url == expected
    await connector.aclose()


async def test_base_url_argument_beats_settings_and_sandbox_requires_one(
    make_settings: Callable[..., MpesaSettings],
) -> None:
    with pytest.raises(ConfigError, match="MPESA_BASE_URL"):
        MpesaConnector(make_settings(), callback_base_url="x", results=InMemoryResultWaiter())
    settings = make_settings(base_url="http://127.0.0.1:9/")
    connector = MpesaConnector(settings, callback_base_url="x", results=InMemoryResultWaiter())
    assert connector.base_url == "http://127.0.0.1:9"
    other = MpesaConnector(
        settings, callback_base_url="x", results=InMemoryResultWaiter(), base_url="http://h:1"
    )
    assert other.base_url == "http://h:1"
    await connector.aclose()
    await other.aclose()


def test_a_bad_allowlist_is_a_configuration_error(
    make_connector: MakeConnector, make_settings: Callable[..., MpesaSettings]
) -> None:
    with pytest.raises(ConfigError, match="MPESA_CALLBACK_ALLOWLIST"):
        make_connector(make_settings(callback_allowlist=("1.2.3.999",)))


def test_a_callback_url_daraja_would_refuse_is_warned_about_in_live_environments(
    make_settings: Callable[..., MpesaSettings],
) -> None:
    with structlog.testing.capture_logs() as logs:
        MpesaConnector(
            make_settings(environment=Environment.PRODUCTION),
            callback_base_url="https://pay.example/api/mpesa/tok",
            results=InMemoryResultWaiter(),
        )
    assert any("refuses" in entry["event"] for entry in logs)


# --- OAuth ----------------------------------------------------------------------------


async def test_concurrent_callers_share_one_token_request(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    fake.token_delay_s = 0.05
    fake.answer(QUERY, 200, query_answer("0"))
    connector = make_connector()
    statuses = await asyncio.gather(
        *(connector.collection_status(f"c{i}", f"ws_CO_{i}") for i in range(20))
    )
    assert all(s.outcome is Outcome.SUCCEEDED for s in statuses)
    assert fake.count(OAUTH) == 1
    auth = {r.headers["Authorization"] for r in fake.requests if r.url.path == QUERY}
    assert auth == {"Bearer tok-1"}


async def test_token_request_uses_basic_auth_and_client_credentials(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    await make_connector().access_token()
    request = next(r for r in fake.requests if r.url.path == OAUTH)
    assert request.method == "GET"
    assert request.url.params["grant_type"] == "client_credentials"
    expected = base64.b64encode(b"qmoi-sandbox:qmoi-sandbox-secret").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


async def test_token_is_reused_and_replaced_a_minute_before_it_expires(
    make_connector: MakeConnector, fake: FakeDaraja, clock: ManualClock
) -> None:
    connector = make_connector()
    assert await connector.access_token() == "tok-1"
    clock.advance(timedelta(seconds=3500))
    assert await connector.access_token() == "tok-1"
    clock.advance(timedelta(seconds=40))  # 3540 s: inside the 60-s margin of 3599
    assert await connector.access_token() == "tok-2"
    assert fake.count(OAUTH) == 2


async def test_expires_in_as_a_number_is_understood(
    make_connector: MakeConnector, fake: FakeDaraja, clock: ManualClock
) -> None:
    fake.answer(OAUTH, 200, {"access_token": "num", "expires_in": 120})
    connector = make_connector()
    await connector.access_token()
    clock.advance(timedelta(seconds=59))
    await connector.access_token()
    assert fake.count(OAUTH) == 1
    clock.advance(timedelta(seconds=2))  # past 120 - min(60, 60)
    await connector.access_token()
    assert fake.count(OAUTH) == 2


async def test_an_invalid_token_answer_refreshes_once_and_the_push_goes_through(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    async def stk(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer tok-1":
            return httpx.Response(
                404, json={"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
            )
        return httpx.Response(200, json=STK_ACK)

    fake.routes[STK] = stk
    submission = await make_connector().collect(collect_request())
    assert submission.provider_request_id == STK_ACK["CheckoutRequestID"]
    assert fake.count(OAUTH) == 2
    assert fake.count(STK) == 2


async def test_concurrent_callers_refused_the_same_token_share_one_refresh(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    fake.token_delay_s = 0.02

    async def query(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer tok-1":
            return httpx.Response(
                400, json={"errorCode": "400.003.01", "errorMessage": "Invalid Access Token"}
            )
        return httpx.Response(200, json=query_answer("0"))

    fake.routes[QUERY] = query
    connector = make_connector()
    await connector.access_token()
    await asyncio.gather(*(connector.collection_status(f"c{i}", f"ws{i}") for i in range(10)))
    assert fake.count(OAUTH) == 2


async def test_a_token_refused_twice_is_an_authentication_failure_not_a_loop(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    fake.answer(STK, 401, {"errorCode": "401.002.01", "errorMessage": "Invalid Access Token"})
    with pytest.raises(AuthenticationFailed):
        await make_connector().collect(collect_request())
    assert fake.count(STK) == 2


async def test_wrong_consumer_credentials_fail_fast(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    fake.answer(OAUTH, 400, {"errorCode": "400.008.01", "errorMessage": "Invalid Authentication"})
    with pytest.raises(AuthenticationFailed) as caught:
        await make_connector().collect(collect_request())
    assert caught.value.provider_code == "400.008.01"
    assert fake.count(OAUTH) == 1  # credentials are not retried
    assert fake.count(STK) == 0


async def test_token_endpoint_outage_is_retried_with_backoff(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    calls = itertools.count()

    async def flaky(request: httpx.Request) -> httpx.Response:
        if next(calls) < 2:
            return httpx.Response(503, text="upstream down")
        return httpx.Response(200, json={"access_token": "late", "expires_in": "3599"})

    fake.routes[OAUTH] = flaky
    assert await make_connector().access_token() == "late"
    assert fake.count(OAUTH) == 3


# --- STK push -------------------------------------------------------------------------


async def test_stk_push_paybill_payload_follows_the_doc(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    fake.answer(STK, 200, STK_ACK)
    submission = await make_connector().collect(collect_request())
    assert submission.status.outcome is Outcome.PENDING
    assert submission.provider_request_id == "ws_CO_1007202409152617172396192"
    [sent] = fake.bodies(STK)
    assert sent == {
        "BusinessShortCode": 174379,
        "Password": base64.b64encode(
            f"174379{PUBLIC_SANDBOX_PASSKEY}20260101093015".encode()
        ).decode(),
        "Timestamp": "20260101093015",  # 06:30:15 UTC is 09:30:15 in Nairobi
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 150,
        "PartyA": 254708374149,
        "PartyB": 174379,
        "PhoneNumber": 254708374149,
        "CallBackURL": f"{CALLBACK_BASE}/stk",
        "AccountReference": "AIR000042",
        "TransactionDesc": "Airtime",
    }
    request = next(r for r in fake.requests if r.url.path == STK)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer tok-1"


async def test_stk_push_to_a_till_is_buy_goods_with_the_till_as_party_b(
    make_connector: MakeConnector, fake: FakeDaraja, make_settings: Callable[..., MpesaSettings]
) -> None:
    fake.answer(STK, 200, STK_ACK)
    settings = make_settings(shortcode_type="till", shortcode="174379", till_number="5432101")
    await make_connector(settings).collect(collect_request(description="A very long description"))
    [sent] = fake.bodies(STK)
    assert sent["TransactionType"] == "CustomerBuyGoodsOnline"
    assert sent["BusinessShortCode"] == 174379
    assert sent["PartyB"] == 5432101
    assert len(sent["TransactionDesc"]) <= 13


@pytest.mark.parametrize(
    ("request_overrides", "error"),
    [
        ({"amount": Money(15050, "KES")}, InvalidAmount),
        ({"amount": kes(250_001)}, InvalidAmount),
        ({"amount": Money(15000, "UGX")}, CurrencyMismatch),
        ({"msisdn": "0708374149"}, Rejected),
        ({"msisdn": "+254708374149"}, Rejected),
        ({"account_reference": "ACCOUNT-REF-13"}, Rejected),
    ],
)
async def test_requests_daraja_would_refuse_are_refused_before_sending(
    make_connector: MakeConnector,
    fake: FakeDaraja,
    request_overrides: dict[str, Any],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await make_connector().collect(collect_request(**request_overrides))
    assert fake.count(STK) == 0


@pytest.mark.parametrize(
    ("exception", "error"),
    [
        (httpx.ConnectError("refused"), NotSent),
        (httpx.ConnectTimeout("slow connect"), NotSent),
        (httpx.ReadTimeout("no answer"), OutcomeUnknown),
        (httpx.WriteTimeout("half sent"), OutcomeUnknown),
        (httpx.RemoteProtocolError("dropped"), OutcomeUnknown),
    ],
)
async def test_stk_push_transport_failures_are_classed_and_never_resent(
    make_connector: MakeConnector,
    fake: FakeDaraja,
    exception: Exception,
    error: type[Exception],
) -> None:
    async def fail(request: httpx.Request) -> httpx.Response:
        raise exception

    fake.routes[STK] = fail
    with pytest.raises(error) as caught:
        await make_connector().collect(collect_request())
    assert fake.count(STK) == 1
    assert caught.value.reference == "col-1"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (500, {"errorCode": "500.003.1001", "errorMessage": "Internal Server Error"},
         OutcomeUnknown, "500.003.1001"),
        (502, None, OutcomeUnknown, None),
        (200, None, OutcomeUnknown, None),
        (200, {"unexpected": True}, OutcomeUnknown, None),
        (500, {"errorCode": "500.003.02", "errorMessage": "Spike Arrest Violation"},
         NotSent, "500.003.02"),
        (500, {"errorCode": "500.001.1001", "errorMessage": "Unable to lock subscriber, a "
               "transaction is already in process for the current subscriber"},
         Rejected, "500.001.1001"),
        (500, {"errorCode": "500.001.1001", "errorMessage": "Wrong credentials"},
         AuthenticationFailed, "500.001.1001"),
        (500, {"errorCode": "500.001.1001", "errorMessage": "Merchant does not exist"},
         Rejected, "500.001.1001"),
        (400, {"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid PhoneNumber"},
         Rejected, "400.002.02"),
        (200, {**STK_ACK, "ResponseCode": "1"}, Rejected, "1"),
        (200, {**STK_ACK, "CheckoutRequestID": None}, OutcomeUnknown, None),
    ],
)  # fmt: skip
async def test_stk_push_answers_are_classed_by_what_we_know_about_the_money(
    make_connector: MakeConnector,
    fake: FakeDaraja,
    status: int,
    body: dict[str, Any] | None,
    error: type[Exception],
    code: str | None,
) -> None:
    async def answer(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, text="<html>gateway</html>")
        return httpx.Response(status, json=body)

    fake.routes[STK] = answer
    with pytest.raises(error) as caught:
        await make_connector().collect(collect_request())
    assert caught.value.provider_code == code  # type: ignore[attr-defined]
    assert fake.count(STK) == 1


# --- STK query ------------------------------------------------------------------------


async def test_query_while_the_customer_decides_is_pending(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    fake.answer(
        QUERY,
        500,
        {
            "requestId": "ws_CO_20022018230142206",
            "errorCode": "500.001.1001",
            "errorMessage": "The transaction is being processed",
        },
    )
    status = await make_connector().collection_status("col-1", "ws_CO_1")
    assert status.outcome is Outcome.PENDING
    assert status.provider_code == "500.001.1001"
    assert fake.count(QUERY) == 1


async def test_query_verdict_is_the_string_result_code(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    fake.answer(QUERY, 200, query_answer("1032"))
    status = await make_connector().collection_status("col-1", "ws_CO_1")
    assert (status.outcome, status.reason) == (Outcome.FAILED, FailureReason.CANCELLED)
    [sent] = fake.bodies(QUERY)
    assert sent["CheckoutRequestID"] == "ws_CO_1"
    assert sent["BusinessShortCode"] == "174379"
    assert sent["Password"] == crypto.stk_password(
        "174379", PUBLIC_SANDBOX_PASSKEY, sent["Timestamp"]
    )


async def test_query_is_retried_through_an_outage(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    calls = itertools.count()

    async def flaky(request: httpx.Request) -> httpx.Response:
        if next(calls) < 2:
            raise httpx.ReadTimeout("slow")
        return httpx.Response(200, json=query_answer("0"))

    fake.routes[QUERY] = flaky
    status = await make_connector().collection_status("col-1", "ws_CO_1")
    assert status.outcome is Outcome.SUCCEEDED
    assert fake.count(QUERY) == 3


async def test_query_of_a_push_never_acknowledged_is_unknown_without_asking(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    status = await make_connector().collection_status("col-1", "")
    assert status.outcome is Outcome.UNKNOWN
    assert fake.count(QUERY) == 0


# --- B2C ------------------------------------------------------------------------------


async def test_b2c_uses_our_reference_as_originator_conversation_id(
    make_connector: MakeConnector, fake: FakeDaraja, key_pair: KeyPair
) -> None:
    answer_by_callback(fake, B2C, lambda c, s: None, kind=CallbackKind.DISBURSEMENT)
    submission = await make_connector(b2c_shortcode="600992").disburse(payout())
    assert submission.status.outcome is Outcome.PENDING
    assert submission.provider_request_id.startswith("AG_")
    [sent] = fake.bodies(B2C)
    credential = sent.pop("SecurityCredential")
    assert sent == {
        "OriginatorConversationID": "mpesa-20260101-1",
        "InitiatorName": "qmoi_initiator",
        "CommandID": "BusinessPayment",
        "Amount": 2000,
        "PartyA": 600992,
        "PartyB": 254708000100,
        "Remarks": "owner payout",
        "QueueTimeOutURL": f"{CALLBACK_BASE}/b2c/timeout",
        "ResultURL": f"{CALLBACK_BASE}/b2c/result",
        "Occassion": "",
    }
    plain = key_pair.private_key.decrypt(base64.b64decode(credential), padding.PKCS1v15())
    assert plain == b"Sandbox#1234"


async def test_b2c_duplicate_answer_means_the_first_payout_may_have_paid(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    fake.answer(
        B2C,
        500,
        {
            "requestId": "11728-2929992-1",
            "errorCode": "500.002.1001",
            "errorMessage": "Duplicate OriginatorConversationID.",
        },
    )
    with pytest.raises(OutcomeUnknown) as caught:
        await make_connector().disburse(payout())
    assert caught.value.provider_code == "500.002.1001"
    assert caught.value.reference == "mpesa-20260101-1"


async def test_b2c_timeout_after_sending_is_unknown_and_sent_once(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("held")

    fake.routes[B2C] = slow
    with pytest.raises(OutcomeUnknown):
        await make_connector().disburse(payout())
    assert fake.count(B2C) == 1


async def test_b2c_without_initiator_configuration_is_a_clear_config_error(
    make_connector: MakeConnector, fake: FakeDaraja, make_settings: Callable[..., MpesaSettings]
) -> None:
    with pytest.raises(ConfigError, match="MPESA_INITIATOR_PASSWORD"):
        await make_connector(make_settings(initiator_password=None)).disburse(payout())
    with pytest.raises(ConfigError, match="MPESA_CERTIFICATE"):
        await make_connector(make_settings(certificate="garbage")).disburse(payout())
    assert fake.count(B2C) == 0


# --- status / balance / reversal through the ResultWaiter ----------------------------


STATUS_COMPLETED = [
    ("TransactionStatus", "Completed"),
    ("Amount", 2000),
    ("ReceiptNo", "SAB12CD34G"),
    ("DebitPartyCharges", "Fee For B2C Payment|KES|22.40"),
    ("FinalisedTime", 20260101102031),
]


async def test_unknown_payout_is_resolved_by_status_on_our_reference(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    answer_by_callback(
        fake, STATUS, lambda c, s: envelope(c, 0, STATUS_COMPLETED),
        kind=CallbackKind.STATUS_RESULT,
    )  # fmt: skip
    status = await make_connector(b2c_shortcode="600992").disbursement_status(
        "mpesa-20260101-1", None
    )
    assert status.outcome is Outcome.SUCCEEDED
    assert status.amount == kes(2000)
    assert status.fee == Money(2240, "KES")
    assert status.provider_reference == "SAB12CD34G"
    [sent] = fake.bodies(STATUS)
    assert sent["OriginalConversationID"] == "mpesa-20260101-1"
    assert "TransactionID" not in sent
    assert sent["CommandID"] == "TransactionStatusQuery"
    assert sent["PartyA"] == 600992
    assert sent["IdentifierType"] == "4"
    assert sent["Occasion"] == ""
    # each query gets URLs of its own, tagged with what only Daraja learns
    result_url, timeout_url = sent["ResultURL"], sent["QueueTimeOutURL"]
    tag = result_url.rsplit("/", 1)[-1]
    assert result_url == f"{CALLBACK_BASE}/status/result/{tag}"
    assert timeout_url == f"{CALLBACK_BASE}/status/timeout/{tag}"
    assert callbacks.route(f"/status/result/{tag}") == (CallbackKind.STATUS_RESULT, tag)


async def test_a_result_at_our_tagged_url_naming_another_conversation_is_not_ours(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    """The tag of a result URL can show in a proxy's log, and a result Daraja could not
    deliver can then be posted by whoever read it; the ConversationID of our request is
    only in Daraja's answer to us, so a "Completed" naming another is ignored."""
    answer_by_callback(
        fake, STATUS, lambda c, s: envelope("AG_forged_elsewhere", 0, STATUS_COMPLETED),
        kind=CallbackKind.STATUS_RESULT,
    )  # fmt: skip
    connector = make_connector(b2c_shortcode="600992", result_timeout_s=0.2)
    status = await connector.disbursement_status("mpesa-20260101-1", None)
    assert status.outcome is Outcome.UNKNOWN
    assert status.provider_code == "no_result"


async def test_status_without_a_result_in_time_is_unknown(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    answer_by_callback(fake, STATUS, lambda c, s: None, kind=CallbackKind.STATUS_RESULT)
    status = await make_connector(result_timeout_s=0.05).transaction_status(
        transaction_id="SAB12CD34G"
    )
    assert status.outcome is Outcome.UNKNOWN
    assert status.provider_code == "no_result"


async def test_status_queue_timeout_is_unknown(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    answer_by_callback(
        fake, STATUS, lambda c, s: envelope(c, 1), kind=CallbackKind.DISBURSEMENT_TIMEOUT
    )
    status = await make_connector().transaction_status(transaction_id="SAB12CD34G")
    assert (status.outcome, status.provider_code) == (Outcome.UNKNOWN, "queue_timeout")


async def test_status_refused_for_our_credentials_is_an_authentication_failure(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    answer_by_callback(
        fake, STATUS, lambda c, s: envelope(c, 2001), kind=CallbackKind.STATUS_RESULT
    )
    with pytest.raises(AuthenticationFailed) as caught:
        await make_connector().transaction_status(transaction_id="SAB12CD34G")
    assert caught.value.provider_code == "2001"


async def test_status_needs_exactly_one_key(make_connector: MakeConnector) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        await make_connector().transaction_status()
    with pytest.raises(ValueError, match="exactly one"):
        await make_connector().transaction_status(transaction_id="a", original_conversation_id="b")


BALANCE_TEXT = (
    "Working Account|KES|700000.00|700000.00|0.00|0.00&Utility Account|KES|228037.00|"
    "228037.00|0.00|0.00&Merchant Account|KES|1500.50|1500.50|0.00|0.00&"
    "Charges Paid Account|KES|-1540.00|-1540.00|0.00|0.00"
)


async def test_balance_of_a_paybill_is_its_utility_account(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    answer_by_callback(
        fake, BALANCE,
        lambda c, s: envelope(c, "0", [("AccountBalance", BALANCE_TEXT),
                                       ("BOCompletedTime", 20260101102000)]),
        kind=CallbackKind.BALANCE_RESULT,
    )  # fmt: skip
    balance = await make_connector().balance()
    assert balance.available == kes(228037)
    assert balance.raw["account"] == "Utility Account"
    assert [a["name"] for a in balance.raw["accounts"]][0] == "Working Account"
    [sent] = fake.bodies(BALANCE)
    assert (sent["CommandID"], sent["IdentifierType"], sent["PartyA"]) == (
        "AccountBalance", "4", 174379,
    )  # fmt: skip


async def test_balance_of_a_till_is_its_merchant_account(
    make_connector: MakeConnector, fake: FakeDaraja, make_settings: Callable[..., MpesaSettings]
) -> None:
    answer_by_callback(
        fake, BALANCE, lambda c, s: envelope(c, "0", [("AccountBalance", BALANCE_TEXT)]),
        kind=CallbackKind.BALANCE_RESULT,
    )  # fmt: skip
    balance = await make_connector(make_settings(shortcode_type="till")).balance()
    assert balance.available == Money(150050, "KES")


async def test_balance_without_a_result_is_an_unknown_outcome(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    answer_by_callback(fake, BALANCE, lambda c, s: None, kind=CallbackKind.BALANCE_RESULT)
    with pytest.raises(OutcomeUnknown, match="no balance result"):
        await make_connector(result_timeout_s=0.05).balance()


async def test_balance_with_a_wrong_credential_is_an_authentication_failure(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    answer_by_callback(
        fake, BALANCE, lambda c, s: envelope(c, 2001), kind=CallbackKind.BALANCE_RESULT
    )
    with pytest.raises(AuthenticationFailed):
        await make_connector().balance()


async def test_refund_reverses_by_receipt_and_reads_the_string_result_code(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    answer_by_callback(
        fake, REVERSAL, lambda c, s: envelope(c, "R000002"), kind=CallbackKind.REVERSAL_RESULT
    )
    status = await make_connector().refund("SAB12CD34F", kes(150))
    assert (status.outcome, status.reason) == (Outcome.FAILED, FailureReason.NOT_FOUND)
    [sent] = fake.bodies(REVERSAL)
    assert sent["TransactionID"] == "SAB12CD34F"
    assert sent["Amount"] == 150
    assert sent["ReceiverParty"] == 174379
    assert sent["RecieverIdentifierType"] == "11"
    assert sent["CommandID"] == "TransactionReversal"


async def test_refund_timeout_after_sending_is_unknown_and_sent_once(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    async def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="busy")

    fake.routes[REVERSAL] = down
    with pytest.raises(OutcomeUnknown):
        await make_connector().refund("SAB12CD34F", kes(150))
    assert fake.count(REVERSAL) == 1


async def test_refund_of_fractional_shillings_is_refused(make_connector: MakeConnector) -> None:
    with pytest.raises(InvalidAmount):
        await make_connector().refund("SAB12CD34F", Money(15001, "KES"))


# --- C2B registration -----------------------------------------------------------------


async def test_c2b_registration_sends_our_urls_and_reads_the_misspelt_id(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    fake.answer(
        "/mpesa/c2b/v1/registerurl",
        200,
        {"OriginatorCoversationID": "7619-37765134-1", "ResponseCode": "0",
         "ResponseDescription": "success"},
    )  # fmt: skip
    registration = await make_connector().register_c2b_urls()
    assert registration.conversation_id == "7619-37765134-1"
    [sent] = fake.bodies("/mpesa/c2b/v1/registerurl")
    assert sent == {
        "ShortCode": "174379",
        "ResponseType": "Completed",
        "ConfirmationURL": f"{CALLBACK_BASE}/c2b/confirmation",
        "ValidationURL": f"{CALLBACK_BASE}/c2b/validation",
    }


async def test_c2b_registration_twice_in_production_is_rejected(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    fake.answer(
        "/mpesa/c2b/v2/registerurl",
        500,
        {"errorCode": "500.003.1001", "errorMessage": "Urls are already registered"},
    )
    with pytest.raises(Rejected, match="already registered"):
        await make_connector().register_c2b_urls(version="v2", response_type="Cancelled")
    assert fake.bodies("/mpesa/c2b/v2/registerurl")[0]["ResponseType"] == "Cancelled"


# --- user enquiry, callbacks, confirmation --------------------------------------------


async def test_user_enquiry_is_refused_because_daraja_has_no_lookup(
    make_connector: MakeConnector,
) -> None:
    connector = make_connector()
    with pytest.raises(Rejected, match="no subscriber lookup"):
        await connector.user_enquiry("0708374149")
    with pytest.raises(Rejected, match="not a valid Safaricom number"):
        await connector.user_enquiry("0733123456")  # an Airtel number


C2B_BODY = {
    "TransactionType": "Pay Bill",
    "TransID": "SAB12CD34F",
    "TransTime": "20260101101530",
    "TransAmount": "150.00",
    "BusinessShortCode": "174379",
    "BillRefNumber": "AIR000043",
    "MSISDN": "2547 ***** 149",
}


def test_callback_answers_have_the_shapes_daraja_expects(make_connector: MakeConnector) -> None:
    connector = make_connector()
    validation = connector.parse_callback(
        CallbackKind.C2B_VALIDATION, {}, json.dumps(C2B_BODY).encode()
    )
    assert connector.callback_answer(validation, True) == {
        "ResultCode": "0", "ResultDesc": "Accepted",
    }  # fmt: skip
    assert connector.callback_answer(validation, False)["ResultCode"] == "C2B00016"
    unknown = connector.parse_callback(
        CallbackKind.C2B_VALIDATION, {}, json.dumps({**C2B_BODY, "BillRefNumber": "ZZZ"}).encode()
    )
    assert connector.callback_answer(unknown, True) == {
        "ResultCode": "C2B00012", "ResultDesc": "Invalid Account Number",
    }  # fmt: skip
    assert connector.validation_answer(None, False)["ResultCode"] == "C2B00016"
    confirmation = connector.parse_callback(
        CallbackKind.C2B_CONFIRMATION, {}, json.dumps(C2B_BODY).encode()
    )
    assert connector.callback_answer(confirmation, False) == {
        "ResultCode": 0, "ResultDesc": "Success",
    }  # fmt: skip
    assert connector.callback_answer(None, False) == {"ResultCode": 0, "ResultDesc": "Accepted"}


def test_the_configured_account_reference_is_known_for_c2b(make_connector: MakeConnector) -> None:
    connector = make_connector(c2b_accept_unknown=False)
    event = connector.parse_callback(
        CallbackKind.C2B_VALIDATION,
        {},
        json.dumps({**C2B_BODY, "BillRefNumber": "qmoi_mpesa"}).encode(),
    )
    assert connector.decide_c2b(event).accepted


def test_path_token_and_source_checks_use_the_settings(
    make_connector: MakeConnector, make_settings: Callable[..., MpesaSettings]
) -> None:
    connector = make_connector(make_settings(callback_allowlist=("196.201.214.0/24",)))
    assert connector.callback_source_allowed("196.201.214.200")
    assert not connector.callback_source_allowed("127.0.0.1")
    assert connector.callback_token_valid(CALLBACK_BASE.rsplit("/", 1)[1])
    assert not connector.callback_token_valid("guess")


async def test_confirm_runs_the_stk_query_for_an_stk_callback(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    fake.answer(QUERY, 200, query_answer("1032"))
    connector = make_connector()
    body = {
        "Body": {"stkCallback": {
            "MerchantRequestID": "m", "CheckoutRequestID": "ws_CO_9", "ResultCode": 0,
            "ResultDesc": "ok", "CallbackMetadata": {"Item": [
                {"Name": "Amount", "Value": 150}, {"Name": "MpesaReceiptNumber", "Value": "R1"},
            ]},
        }}
    }  # fmt: skip
    event = connector.parse_callback(CallbackKind.COLLECTION, {}, json.dumps(body).encode())
    confirmed = await connector.confirm(event)
    assert fake.bodies(QUERY)[0]["CheckoutRequestID"] == "ws_CO_9"
    assert callbacks.confirmation_mismatches(event, confirmed) == ["outcome_contradicted"]


async def test_confirm_runs_transaction_status_by_receipt_for_c2b(
    make_connector: MakeConnector, fake: FakeDaraja
) -> None:
    answer_by_callback(
        fake, STATUS,
        lambda c, s: envelope(c, 0, [("TransactionStatus", "Completed"), ("Amount", 150),
                                     ("ReceiptNo", "SAB12CD34F")]),
        kind=CallbackKind.STATUS_RESULT,
    )  # fmt: skip
    connector = make_connector()
    event = connector.parse_callback(
        CallbackKind.C2B_CONFIRMATION, {}, json.dumps(C2B_BODY).encode()
    )
    confirmed = await connector.confirm(event)
    assert fake.bodies(STATUS)[0]["TransactionID"] == "SAB12CD34F"
    assert callbacks.confirmation_mismatches(event, confirmed) == []


async def test_nothing_to_confirm_for_query_answers(make_connector: MakeConnector) -> None:
    connector = make_connector()
    body = envelope("AG_1", "0", [("AccountBalance", BALANCE_TEXT)])
    event = connector.parse_callback(CallbackKind.BALANCE_RESULT, {}, json.dumps(body).encode())
    with pytest.raises(ValueError, match="nothing to confirm"):
        await connector.confirm(event)


# --- what is never logged -------------------------------------------------------------


async def test_logs_never_carry_secrets_tokens_or_full_numbers(
    make_connector: MakeConnector, fake: FakeDaraja, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.answer(STK, 200, STK_ACK)
    fake.answer(QUERY, 200, query_answer("0"))
    answer_by_callback(fake, B2C, lambda c, s: None, kind=CallbackKind.DISBURSEMENT)
    connector = make_connector()
    with structlog.testing.capture_logs() as logs:
        await connector.collect(collect_request(msisdn="254708374149"))
        await connector.collection_status("col-1", "ws_CO_1")
        await connector.disburse(payout())
        fake.answer(STK, 500, {"errorCode": "500.001.1001", "errorMessage": "Wrong credentials"})
        with pytest.raises(AuthenticationFailed):
            await connector.collect(collect_request(msisdn="254708374149"))
    assert logs, "the connector logs its calls"
    assert all(entry.get("provider") == "mpesa" for entry in logs)
    text = json.dumps(logs, default=str) + caplog.text
    sent = fake.bodies(STK)[0]
    credential = fake.bodies(B2C)[0]["SecurityCredential"]
    secrets = [
        "qmoi-sandbox-secret", "tok-1", PUBLIC_SANDBOX_PASSKEY, sent["Password"], "Sandbox#1234",
        credential, "254708374149", OWNER,
        base64.b64encode(b"qmoi-sandbox:qmoi-sandbox-secret").decode(),
    ]  # fmt: skip
    for secret in secrets:
        assert secret not in text
    assert "*********149" in text
