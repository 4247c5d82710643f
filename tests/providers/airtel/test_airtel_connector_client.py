"""AirtelConnector against a scripted Airtel (httpx.MockTransport): token caching and
refresh, request shapes, how every kind of failure is classed, and what is never logged."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.providers.airtel.airtel_connector_kit import (
    FakeAirtel,
    FakeMonotonic,
    decrypt,
    envelope,
    make_settings,
    public_der_b64,
    public_pem,
    tx_data,
)

from qmoi.config import Environment
from qmoi.domain.money import Money
from qmoi.errors import ConfigError
from qmoi.providers.airtel import AirtelConnector, crypto, resolve_base_url
from qmoi.providers.base import (
    AuthenticationFailed,
    CollectRequest,
    DisburseRequest,
    FailureReason,
    NotSent,
    Outcome,
    OutcomeUnknown,
    PaymentProvider,
    ProviderError,
    Rejected,
)

pytestmark = pytest.mark.airtel

Connect = Callable[..., AirtelConnector]

PUSH_PATH = "/merchant/v1/payments/"
PAYOUT_PATH = "/standard/v1/disbursements/"
KES = "KES"


def collect_request(reference: str = "qmoi-col-1", msisdn: str = "254733123456") -> CollectRequest:
    return CollectRequest(
        reference=reference,
        msisdn=msisdn,
        amount=Money(15000, KES),
        account_reference="QMOI airtime order 42",
        description="QMOI Airtel Revenue",
    )


def disburse_request(reference: str = "qmoi-tr-airtel-20260101-3") -> DisburseRequest:
    return DisburseRequest(
        reference=reference,
        msisdn="254733123456",
        amount=Money(200000, KES),
        remarks="owner payout 2026-01-01 #3",
    )


ACCEPTED = envelope("DP00800001006", data=tx_data(id="qmoi-col-1", status="SUCCESS"))
PAID = envelope(
    "DP00900001001",
    message="You have sent KES 2000.00 to 733123456 Jane Owner. Bal KES 19999.91",
    data=tx_data(id="qmoi-tr-airtel-20260101-3", status="TS", airtel_money_id="AM-1"),
)


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def _sequence(*responses: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(responses)

    def handler(_: httpx.Request) -> httpx.Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


# ------------------------------------------------------------------------------- basics


def test_connector_is_a_payment_provider(connect: Connect) -> None:
    connector = connect()
    assert isinstance(connector, PaymentProvider)
    assert connector.name == "airtel"
    assert connector.currency == KES


def test_base_url_resolution() -> None:
    staging = make_settings(environment=Environment.STAGING)
    assert resolve_base_url(staging) == "https://openapiuat.airtel.africa"
    production = make_settings(environment=Environment.PRODUCTION)
    assert resolve_base_url(production) == "https://openapi.airtel.africa"
    custom = make_settings(
        environment=Environment.PRODUCTION, base_url="https://openapi.airtel.ug/"
    )
    assert resolve_base_url(custom) == "https://openapi.airtel.ug"
    assert resolve_base_url(custom, "http://127.0.0.1:9/") == "http://127.0.0.1:9"
    with pytest.raises(ConfigError, match="AIRTEL_BASE_URL"):
        resolve_base_url(make_settings())


async def test_owned_client_is_closed_by_aclose() -> None:
    connector = AirtelConnector(make_settings(environment=Environment.STAGING))
    assert connector.base_url == "https://openapiuat.airtel.africa"
    async with connector:
        pass


def test_bad_configured_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="AIRTEL_PUBLIC_KEY"):
        AirtelConnector(make_settings(public_key="garbage"), base_url="http://x")


# -------------------------------------------------------------------------------- token


class TestToken:
    async def test_token_request_shape_and_caching(
        self, connect: Connect, fake: FakeAirtel
    ) -> None:
        fake.on(
            "GET", "/standard/v1/users/balance", envelope("DP02100000001", data={"balance": "1"})
        )
        connector = connect()
        await connector.balance()
        await connector.balance()
        assert fake.token_calls == 1
        (token_request,) = fake.calls("/auth/oauth2/token")
        assert json.loads(token_request.content) == {
            "client_id": "qmoi-sandbox",
            "client_secret": "qmoi-sandbox-secret",
            "grant_type": "client_credentials",
        }
        assert "authorization" not in token_request.headers
        assert "x-country" not in token_request.headers
        balance_request = fake.calls("/standard/v1/users/balance")[0]
        assert balance_request.headers["authorization"] == "Bearer tok-1-1"
        assert balance_request.headers["x-country"] == "KE"
        assert balance_request.headers["x-currency"] == "KES"

    async def test_many_concurrent_callers_share_one_token_request(
        self, connect: Connect, fake: FakeAirtel
    ) -> None:
        fake.token_delay_s = 0.05
        fake.on(
            "GET", "/standard/v1/users/balance", envelope("DP02100000001", data={"balance": "1"})
        )
        connector = connect()
        await asyncio.gather(*(connector.balance() for _ in range(50)))
        assert fake.token_calls == 1
        assert connector.token_fetches == 1

    async def test_refreshed_before_expiry(self, connect: Connect, fake: FakeAirtel) -> None:
        clock = FakeMonotonic()
        fake.on(
            "GET", "/standard/v1/users/balance", envelope("DP02100000001", data={"balance": "1"})
        )
        connector = connect(monotonic=clock, token_margin_s=30)
        await connector.balance()
        clock.advance(149)  # 180 s lifetime, refreshed 30 s early
        await connector.balance()
        assert fake.token_calls == 1
        clock.advance(2)
        await connector.balance()
        assert fake.token_calls == 2

    @pytest.mark.parametrize("lifetime", [180, "180", None, "garbage"])
    async def test_lifetime_forms(self, connect: Connect, fake: FakeAirtel, lifetime: Any) -> None:
        clock = FakeMonotonic()
        fake.token_lifetime = lifetime
        fake.on(
            "GET", "/standard/v1/users/balance", envelope("DP02100000001", data={"balance": "1"})
        )
        connector = connect(monotonic=clock)
        await connector.balance()
        clock.advance(100)
        await connector.balance()
        assert fake.token_calls == 1  # unusable lifetimes fall back to the doc's 180 s

    @pytest.mark.parametrize("status", [401, 403])
    async def test_invalid_token_refreshes_once(
        self, connect: Connect, fake: FakeAirtel, status: int
    ) -> None:
        refused = {"error": "invalid_token", "error_description": "expired"}

        def balance(request: httpx.Request) -> httpx.Response:
            if request.headers["authorization"] == "Bearer tok-1-1":
                return httpx.Response(status, json=refused)
            return httpx.Response(200, json=envelope("DP02100000001", data={"balance": "5"}))

        fake.on("GET", "/standard/v1/users/balance", balance)
        connector = connect()
        assert (await connector.balance()).available == Money(500, KES)
        assert fake.token_calls == 2

    async def test_concurrent_refusals_share_one_refresh(
        self, connect: Connect, fake: FakeAirtel
    ) -> None:
        """Early expiry seen by 20 callers at once → one new token, not 20."""
        fake.token_delay_s = 0.02

        def balance(request: httpx.Request) -> httpx.Response:
            if request.headers["authorization"] == "Bearer tok-1-1":
                return httpx.Response(403, json={"error": "invalid_token"})
            return httpx.Response(200, json=envelope("DP02100000001", data={"balance": "5"}))

        fake.on("GET", "/standard/v1/users/balance", balance)
        connector = connect()
        await asyncio.gather(*(connector.balance() for _ in range(20)))
        assert fake.token_calls == 2

    async def test_fresh_token_refused_again_is_authentication_failure(
        self, connect: Connect, fake: FakeAirtel
    ) -> None:
        fake.on("POST", PUSH_PATH, lambda _: httpx.Response(401, json={"error": "invalid_token"}))
        with pytest.raises(AuthenticationFailed) as caught:
            await connect().collect(collect_request())
        assert caught.value.operation == "collect"
        assert fake.token_calls == 2
        assert len(fake.calls(PUSH_PATH)) == 2  # refused at the gateway twice; nothing ran

    async def test_bad_credentials(self, connect: Connect, fake: FakeAirtel) -> None:
        fake.on(
            "POST",
            "/auth/oauth2/token",
            lambda _: httpx.Response(
                400,
                json={"error": "invalid_client", "error_description": "Invalid client"},
            ),
        )
        with pytest.raises(AuthenticationFailed) as caught:
            await connect().collect(collect_request())
        assert caught.value.provider_code == "invalid_client"
        assert caught.value.operation == "collect"
        assert "no money moved" in str(caught.value)
        assert fake.calls(PUSH_PATH) == []
        assert fake.token_calls == 0  # the scripted handler replaced the counting one
        assert len(fake.calls("/auth/oauth2/token")) == 1  # not retried

    async def test_token_endpoint_down_means_not_sent(
        self, connect: Connect, fake: FakeAirtel
    ) -> None:
        fake.on("POST", "/auth/oauth2/token", lambda _: httpx.Response(503, text="down"))
        with pytest.raises(NotSent) as caught:
            await connect(retry_attempts=3).collect(collect_request())
        assert caught.value.operation == "collect"
        assert fake.calls(PUSH_PATH) == []
        assert len(fake.calls("/auth/oauth2/token")) == 3  # the token call is retried


# ---------------------------------------------------------------------------- collections


class TestCollect:
    async def test_push_shape_and_pending(self, connect: Connect, fake: FakeAirtel) -> None:
        fake.on("POST", PUSH_PATH, ACCEPTED)
        submission = await connect().collect(collect_request(msisdn="+254 733 123 456"))
        assert submission.provider_request_id == "qmoi-col-1"
        assert submission.status.outcome is Outcome.PENDING
        assert submission.status.provider_code == "DP00800001006"
        (request,) = fake.calls(PUSH_PATH)
        assert request.headers["content-type"] == "application/json"
        assert request.content == (
            b'{"reference":"QMOI airtime order 42","subscriber":{"country":"KE",'
            b'"currency":"KES","msisdn":"733123456"},"transaction":{"amount":150,'
            b'"country":"KE","currency":"KES","id":"qmoi-col-1"}}'
        )
        assert "x-signature" not in request.headers

    async def test_another_country_sends_its_national_number_country_and_currency(
        self, connect: Connect, fake: FakeAirtel
    ) -> None:
        """Uganda: ``X-Country`` / ``X-Currency`` and the body's pair from the settings on
        every call, the number without 256, and UGX (no minor unit) as a whole number."""
        fake.on("POST", PUSH_PATH, ACCEPTED)
        settings = make_settings(country="UG", currency="UGX", phone_number="256701234567")
        request = CollectRequest("qmoi-col-1", "256701234567", Money(5000, "UGX"), "ref", "d")
        await connect(settings).collect(request)
        await connect(settings).collect(request)
        for sent in fake.calls(PUSH_PATH):
            assert (sent.headers["x-country"], sent.headers["x-currency"]) == ("UG", "UGX")
            assert sent.content == (
                b'{"reference":"ref","subscriber":{"country":"UG","currency":"UGX",'
                b'"msisdn":"701234567"},"transaction":{"amount":5000,"country":"UG",'
                b'"currency":"UGX","id":"qmoi-col-1"}}'
            )

    async def test_decimal_amount_on_the_wire(self, connect: Connect, fake: FakeAirtel) -> None:
        fake.on("POST", PUSH_PATH, ACCEPTED)
        request = CollectRequest("qmoi-col-2", "254733123456", Money(15050, KES), "ref", "d")
        await connect().collect(request)
        assert b'"amount":150.5,' in fake.calls(PUSH_PATH)[0].content

    @pytest.mark.parametrize(
        "exc",
        [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("pool")],
    )
    async def test_never_sent(self, connect: Connect, fake: FakeAirtel, exc: Exception) -> None:
        fake.on("POST", PUSH_PATH, _raise(exc))
        with pytest.raises(NotSent) as caught:
            await connect().collect(collect_request())
        assert caught.value.reference == "qmoi-col-1"
        assert "no money moved" in str(caught.value)
        assert len(fake.calls(PUSH_PATH)) == 1  # never retried under the hood

    @pytest.mark.parametrize(
        "exc",
        [
            httpx.ReadTimeout("slow"),
            httpx.WriteTimeout("slow"),
            httpx.RemoteProtocolError("dropped"),
            httpx.ReadError("reset"),
        ],
    )
    async def test_sent_then_lost(self, connect: Connect, fake: FakeAirtel, exc: Exception) -> None:
        fake.on("POST", PUSH_PATH, _raise(exc))
        with pytest.raises(OutcomeUnknown) as caught:
            await connect().collect(collect_request())
        assert caught.value.operation == "collect"
        assert "money may have moved" in str(caught.value)
        assert len(fake.calls(PUSH_PATH)) == 1

    @pytest.mark.parametrize(
        "response",
        [
            httpx.Response(500, json=envelope("", result_code="ESB000001", success=False)),
            httpx.Response(502, text="<html>bad gateway</html>"),
            httpx.Response(503, text=""),
            httpx.Response(504, text="gateway timeout"),
            httpx.Response(408, text=""),
            httpx.Response(429, text=""),
            httpx.Response(200, text="<html>ok?</html>"),
            httpx.Response(200, json={"unexpected": True}),
            httpx.Response(200, json=envelope("DP00800001000", success=False)),
            httpx.Response(200, json=envelope("DP00800001024", result_code="ESB000011")),
            httpx.Response(200, json=envelope("", result_code="ESB000004", success=False)),
            httpx.Response(400, json={"status_code": "ROUTER117", "status_message": "timeout"}),
        ],
    )
    async def test_ambiguous_answers_are_unknown(
        self, connect: Connect, fake: FakeAirtel, response: httpx.Response
    ) -> None:
        fake.on("POST", PUSH_PATH, lambda _: response)
        with pytest.raises(OutcomeUnknown) as caught:
            await connect().collect(collect_request())
        assert caught.value.provider_code
        assert len(fake.calls(PUSH_PATH)) == 1

    async def test_failures_come_back_as_status(self, connect: Connect, fake: FakeAirtel) -> None:
        fake.on(
            "POST",
            PUSH_PATH,
            envelope("DP00800001008", result_code="ESB000033", code="400", success=False,
                     message="Invalid Msisdn Length. Msisdn Length should be 9"),
        )  # fmt: skip
        submission = await connect().collect(collect_request())
        assert submission.status.outcome is Outcome.FAILED
        assert submission.status.reason is FailureReason.INVALID_NUMBER

    @pytest.mark.parametrize(
        ("status", "body", "code"),
        [
            (
                400,
                {"status_code": "ROUTER110", "status_message": "Partner x not found"},
                "ROUTER110",
            ),
            (200, envelope("", result_code="ESB000008", success=False, code="400"), "ESB000008"),
            (200, envelope("", result_code="ESB000039", success=False), "ESB000039"),
            (
                403,
                envelope("DP00800001026", result_code="ESB000011", success=False),
                "DP00800001026",
            ),
            (404, None, "HTTP404"),
        ],
    )
    async def test_rejections(
        self, connect: Connect, fake: FakeAirtel, status: int, body: Any, code: str
    ) -> None:
        fake.on(
            "POST",
            PUSH_PATH,
            lambda _: httpx.Response(status, json=body) if body else httpx.Response(status),
        )
        with pytest.raises(Rejected) as caught:
            await connect().collect(collect_request())
        assert caught.value.provider_code == code
        assert "no money moved" in str(caught.value)

    @pytest.mark.parametrize(
        "request_",
        [
            collect_request(msisdn="25473312"),
            collect_request(reference="has spaces"),
            collect_request(reference="x" * 41),
            CollectRequest("qmoi-col-1", "254733123456", Money(100, "UGX"), "r", "d"),
            CollectRequest("qmoi-col-1", "254733123456", Money(0, KES), "r", "d"),
        ],
    )
    async def test_refused_before_sending(
        self, connect: Connect, fake: FakeAirtel, request_: CollectRequest
    ) -> None:
        with pytest.raises(Rejected, match="before sending"):
            await connect().collect(request_)
        assert fake.requests == []

    async def test_duplicate_id_is_resolved_by_enquiry(
        self, connect: Connect, fake: FakeAirtel
    ) -> None:
        fake.on(
            "POST", PUSH_PATH, envelope("DP00800001008", result_code="ESB000041", success=False)
        )
        fake.on(
            "GET",
            "/standard/v1/payments/qmoi-col-1",
            envelope(
                "DP00800001001", data=tx_data(id="qmoi-col-1", status="TS", airtel_money_id="MP9")
            ),
        )
        submission = await connect().collect(collect_request())
        assert submission.status.outcome is Outcome.SUCCEEDED
        assert submission.status.provider_reference == "MP9"
        assert len(fake.calls(PUSH_PATH)) == 1

    async def test_duplicate_id_with_failing_enquiry_is_unknown(
        self, connect: Connect, fake: FakeAirtel
    ) -> None:
        fake.on("POST", PUSH_PATH, envelope("", result_code="ESB000041", success=False))
        fake.on("GET", "/standard/v1/payments/", lambda _: httpx.Response(500))
        with pytest.raises(OutcomeUnknown) as caught:
            await connect(retry_attempts=2).collect(collect_request())
        assert caught.value.provider_code == "ESB000041"

    async def test_enquiry(self, connect: Connect, fake: FakeAirtel) -> None:
        data = tx_data(id="qmoi-col-1", status="TF", message="Cancelled by user")
        fake.on("GET", "/standard/v1/payments/qmoi-col-1", envelope("DP00800001001", data=data))
        status = await connect().collection_status("qmoi-col-1", "qmoi-col-1")
        assert (status.outcome, status.reason) == (Outcome.FAILED, FailureReason.CANCELLED)

    async def test_enquiry_retries_transient_errors(
        self, connect: Connect, fake: FakeAirtel
    ) -> None:
        ok = envelope("DP00800001001", data=tx_data(id="c", status="TS", airtel_money_id="MP1"))
        fake.on(
            "GET",
            "/standard/v1/payments/c",
            _sequence(
                httpx.Response(500),
                httpx.Response(200, json=envelope("", result_code="ESB000014", success=False)),
                httpx.Response(200, json=ok),
            ),
        )
        status = await connect().collection_status("c", "c")
        assert status.outcome is Outcome.SUCCEEDED
        assert len(fake.calls("/standard/v1/payments/c")) == 3

    async def test_enquiry_gives_up_with_unknown(self, connect: Connect, fake: FakeAirtel) -> None:
        fake.on("GET", "/standard/v1/payments/c", _raise(httpx.ReadTimeout("slow")))
        with pytest.raises(OutcomeUnknown):
            await connect(retry_attempts=3).collection_status("c", "c")
        assert len(fake.calls("/standard/v1/payments/c")) == 3

    @pytest.mark.parametrize(
        ("body", "outcome", "reason"),
        [
            (envelope("DP00800001006", data=tx_data(id="c", status="TIP")), Outcome.PENDING, None),
            (envelope("DP00800001000", data=tx_data(id="c", status="TA")), Outcome.UNKNOWN, None),
            (
                envelope("DP00800001025", result_code="ESB000045", success=False),
                Outcome.UNKNOWN,
                FailureReason.NOT_FOUND,
            ),
        ],
    )
    async def test_enquiry_answers(
        self,
        connect: Connect,
        fake: FakeAirtel,
        body: dict[str, Any],
        outcome: Outcome,
        reason: FailureReason | None,
    ) -> None:
        fake.on("GET", "/standard/v1/payments/c", body)
        status = await connect().collection_status("c", "c")
        assert (status.outcome, status.reason) == (outcome, reason)

    async def test_refund(self, connect: Connect, fake: FakeAirtel) -> None:
        fake.on(
            "POST",
            "/standard/v1/payments/refund",
            envelope("DP00800001006", data=tx_data(airtel_money_id="CI1", status="SUCCESS")),
        )
        status = await connect().refund("MP260101.1200.A00001", Money(15000, KES))
        assert status.outcome is Outcome.SUCCEEDED
        assert status.provider_reference == "CI1"
        body = json.loads(fake.calls("/standard/v1/payments/refund")[0].content)
        assert body == {"transaction": {"airtel_money_id": "MP260101.1200.A00001"}}

    async def test_lost_refund_answer_is_never_retried(
        self, connect: Connect, fake: FakeAirtel
    ) -> None:
        fake.on("POST", "/standard/v1/payments/refund", _raise(httpx.ReadTimeout("slow")))
        with pytest.raises(OutcomeUnknown) as caught:
            await connect().refund("MP1", Money(15000, KES))
        assert caught.value.operation == "refund"
        assert len(fake.calls("/standard/v1/payments/refund")) == 1


# -------------------------------------------------------------------------- disbursements


class TestDisburse:
    async def test_pin_encrypted_with_configured_pem(
        self, connect: Connect, fake: FakeAirtel, rsa_key: rsa.RSAPrivateKey
    ) -> None:
        fake.on("POST", PAYOUT_PATH, PAID)
        connector = connect(make_settings(public_key=public_pem(rsa_key)))
        submission = await connector.disburse(disburse_request())
        assert submission.status.outcome is Outcome.SUCCEEDED
        assert submission.status.provider_reference == "AM-1"
        body = json.loads(fake.calls(PAYOUT_PATH)[0].content)
        assert decrypt(rsa_key, body["pin"]) == b"1234"
        assert body["payee"] == {"msisdn": "733123456"}
        assert body["transaction"] == {"amount": 2000, "id": "qmoi-tr-airtel-20260101-3"}
        assert body["reference"] == "owner payout 2026-01-01 #3"
        assert fake.calls("/v1/rsa/encryption-keys") == []

    async def test_key_fetched_once_and_cached_until_valid_upto(
        self, connect: Connect, fake: FakeAirtel, rsa_key: rsa.RSAPrivateKey
    ) -> None:
        now = [datetime(2026, 1, 1, 12, 0, tzinfo=UTC)]
        key_answer = envelope(
            "DP02010001001",
            data={
                "key_id": 100,
                "key": public_der_b64(rsa_key),
                "valid_upto": "01-01-2026 20:00:00",
            },
        )
        fake.on("GET", "/v1/rsa/encryption-keys", key_answer)
        fake.on("POST", PAYOUT_PATH, PAID)
        connector = connect(now=lambda: now[0])
        await connector.disburse(disburse_request("t-1"))
        await connector.disburse(disburse_request("t-2"))
        assert len(fake.calls("/v1/rsa/encryption-keys")) == 1
        for request in fake.calls(PAYOUT_PATH):
            assert decrypt(rsa_key, json.loads(request.content)["pin"]) == b"1234"
        now[0] += timedelta(hours=4)  # 20:00 read cautiously (time zone unconfirmed)
        await connector.disburse(disburse_request("t-3"))
        assert len(fake.calls("/v1/rsa/encryption-keys")) == 2

    async def test_no_key_means_not_sent(self, connect: Connect, fake: FakeAirtel) -> None:
        fake.on(
            "GET",
            "/v1/rsa/encryption-keys",
            envelope("DP02010001000", result_code="ESB000001", success=False),
        )
        with pytest.raises(NotSent) as caught:
            await connect(retry_attempts=2).disburse(disburse_request())
        assert caught.value.operation == "disburse"
        assert fake.calls(PAYOUT_PATH) == []

    async def test_no_pin_configured(self, connect: Connect, fake: FakeAirtel) -> None:
        with pytest.raises(Rejected, match="AIRTEL_PIN"):
            await connect(make_settings(pin=None)).disburse(disburse_request())
        assert fake.requests == []

    async def test_wrong_pin_fails_and_forgets_fetched_key(
        self, connect: Connect, fake: FakeAirtel, rsa_key: rsa.RSAPrivateKey
    ) -> None:
        key_answer = envelope(
            "DP02010001001",
            data={"key": public_der_b64(rsa_key), "valid_upto": "01-01-2099 00:00:00"},
        )
        fake.on("GET", "/v1/rsa/encryption-keys", key_answer)
        fake.on(
            "POST",
            PAYOUT_PATH,
            envelope("DP00900001013", result_code="ESB000008", code="400", success=False,
                     message="Incorrect Encrypted Pin"),
        )  # fmt: skip
        connector = connect()
        submission = await connector.disburse(disburse_request())
        assert submission.status.outcome is Outcome.FAILED
        assert submission.status.reason is FailureReason.INVALID_PIN
        await connector.disburse(disburse_request("t-2"))
        assert len(fake.calls("/v1/rsa/encryption-keys")) == 2

    @pytest.mark.parametrize(
        ("code", "reason"),
        [
            ("DP00900001007", FailureReason.INSUFFICIENT_FUNDS),
            ("DP00900001003", FailureReason.LIMIT_EXCEEDED),
            ("DP00900001012", FailureReason.INVALID_NUMBER),
        ],
    )
    async def test_failures(
        self,
        connect: Connect,
        fake: FakeAirtel,
        rsa_key: rsa.RSAPrivateKey,
        code: str,
        reason: FailureReason,
    ) -> None:
        fake.on("POST", PAYOUT_PATH, envelope(code, result_code="ESB000011", success=False))
        connector = connect(make_settings(public_key=public_pem(rsa_key)))
        submission = await connector.disburse(disburse_request())
        assert (submission.status.outcome, submission.status.reason) == (Outcome.FAILED, reason)

    async def test_timed_out_code_is_unknown(
        self, connect: Connect, fake: FakeAirtel, rsa_key: rsa.RSAPrivateKey
    ) -> None:
        fake.on(
            "POST", PAYOUT_PATH, envelope("DP00900001014", result_code="ESB000011", success=False)
        )
        connector = connect(make_settings(public_key=public_pem(rsa_key)))
        with pytest.raises(OutcomeUnknown) as caught:
            await connector.disburse(disburse_request())
        assert caught.value.provider_code == "DP00900001014"

    @pytest.mark.parametrize("code", ["DP00900001017", "DP00900001011"])
    async def test_duplicate_resolved_by_enquiry(
        self, connect: Connect, fake: FakeAirtel, rsa_key: rsa.RSAPrivateKey, code: str
    ) -> None:
        fake.on("POST", PAYOUT_PATH, envelope(code, result_code="ESB000011", success=False))
        fake.on(
            "GET",
            "/standard/v1/disbursements/t-1",
            envelope("DP00900001001", data=tx_data(id="t-1", status="TS", airtel_money_id="AM2")),
        )
        connector = connect(make_settings(public_key=public_pem(rsa_key)))
        submission = await connector.disburse(disburse_request("t-1"))
        assert submission.status.outcome is Outcome.SUCCEEDED
        assert submission.status.provider_reference == "AM2"

    async def test_signed_v2(
        self, connect: Connect, fake: FakeAirtel, rsa_key: rsa.RSAPrivateKey
    ) -> None:
        fake.on("POST", "/standard/v2/disbursements/", PAID)
        fake.on("POST", "/merchant/v2/payments/", ACCEPTED)
        settings = make_settings(public_key=public_der_b64(rsa_key), message_signing=True)
        connector = connect(settings)
        assert connector.api_version == 2
        await connector.disburse(disburse_request())
        await connector.collect(collect_request())
        for request in fake.calls("/standard/v2/disbursements/") + fake.calls("/merchant/v2/"):
            key_b64, iv_b64 = decrypt(rsa_key, request.headers["x-key"]).decode().split(":")
            expected = crypto.signature_value(
                request.content, base64.b64decode(key_b64), base64.b64decode(iv_b64)
            )
            assert request.headers["x-signature"] == expected
        body = json.loads(fake.calls("/standard/v2/disbursements/")[0].content)
        assert body["transaction"]["type"] == "B2C"
        assert body["payee"]["currency"] == "KES"

    async def test_v2_enquiry_path(self, connect: Connect, fake: FakeAirtel) -> None:
        fake.on(
            "GET",
            "/standard/v2/disbursements/t-1",
            envelope("DP00900001001", data=tx_data(id="t-1", status="TIP")),
        )
        status = await connect(api_version=2).disbursement_status("t-1", None)
        assert status.outcome is Outcome.PENDING
        assert (
            fake.calls("/standard/v2/disbursements/t-1")[0].url.params["transactionType"] == "B2C"
        )


# -------------------------------------------------------------------------------- account


class TestAccount:
    async def test_balance(self, connect: Connect, fake: FakeAirtel) -> None:
        fake.on(
            "GET",
            "/standard/v1/users/balance",
            envelope("DP02100000001", data={"balance": "230486.65", "currency": "KES",
                                            "account_status": "Active"}),
        )  # fmt: skip
        balance = await connect().balance()
        assert balance.available == Money(23048665, KES)
        assert balance.raw["account_status"] == "Active"

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            (envelope("DP02100000001", data={"balance": "12.345"}), ProviderError),
            (envelope("DP02100000001", data={}), ProviderError),
            (envelope("DP02100000002", success=False, result_code="ESB000011"), Rejected),
        ],
    )
    async def test_balance_errors(
        self, connect: Connect, fake: FakeAirtel, body: dict[str, Any], error: type[Exception]
    ) -> None:
        fake.on("GET", "/standard/v1/users/balance", body)
        with pytest.raises(error):
            await connect().balance()

    async def test_user_enquiry(self, connect: Connect, fake: FakeAirtel) -> None:
        fake.on(
            "GET",
            "/standard/v1/users/",
            envelope("DP02200000001", data={
                "first_name": "JANE", "last_name": "OWNER", "msisdn": "733123456",
                "grade": "SUBS", "is_barred": False, "is_pin_set": True,
                "registration": {"id": "1", "status": "SUBS"},
            }),
        )  # fmt: skip
        subscriber = await connect().user_enquiry("0733123456")
        assert subscriber.msisdn == "254733123456"
        assert (subscriber.first_name, subscriber.last_name) == ("JANE", "OWNER")
        assert subscriber.registered
        assert not subscriber.barred
        assert fake.calls("/standard/v1/users/")[0].url.path == "/standard/v1/users/733123456"

    async def test_user_enquiry_other_shape(self, connect: Connect, fake: FakeAirtel) -> None:
        fake.on(
            "GET",
            "/standard/v1/users/",
            envelope("DP02200000001", data={"user_name": "Jane Owner", "msisdn": "733123456",
                                            "is_airtel_money_user": "false", "is_barred": "true"}),
        )  # fmt: skip
        subscriber = await connect().user_enquiry("254733123456")
        assert (subscriber.first_name, subscriber.last_name) == ("Jane", "Owner")
        assert not subscriber.registered
        assert subscriber.barred


# -------------------------------------------------------------------------------- logging


async def test_secrets_never_reach_the_logs(
    connect: Connect, fake: FakeAirtel, rsa_key: rsa.RSAPrivateKey
) -> None:
    seen: dict[str, str] = {}

    def payout(request: httpx.Request) -> httpx.Response:
        seen["pin"] = json.loads(request.content)["pin"]
        seen["x-key"] = request.headers["x-key"]
        seen["x-signature"] = request.headers["x-signature"]
        return httpx.Response(200, json=PAID)

    fake.on("POST", "/standard/v2/disbursements/", payout)
    fake.on("GET", "/standard/v1/users/", envelope("DP02200000001", data={"msisdn": "733123456"}))
    settings = make_settings(
        public_key=public_pem(rsa_key), message_signing=True, debug=True,
        callback_auth=True, callback_secret="cb-secret-value",
    )  # fmt: skip
    connector = connect(settings)
    with structlog.testing.capture_logs() as logs:
        await connector.disburse(disburse_request())
        await connector.user_enquiry("254733123456")
    text = repr(logs)
    assert any(entry.get("log_level") == "debug" for entry in logs)
    assert all(entry.get("provider") == "airtel" for entry in logs)
    for secret in (
        "qmoi-sandbox-secret", "tok-1-1", "1234", "cb-secret-value",
        seen["pin"], seen["x-key"], seen["x-signature"], "733123456", "254733123456",
    ):  # fmt: skip
        assert secret not in text, secret
    assert "******456" in text


# ------------------------------------------------------------------ edges found later


async def test_token_outage_on_a_read_is_not_retried_twice_over(
    connect: Connect, fake: FakeAirtel
) -> None:
    fake.on("POST", "/auth/oauth2/token", lambda _: httpx.Response(503))
    with pytest.raises(NotSent) as caught:
        await connect(retry_attempts=3).collection_status("c", "c")
    assert caught.value.operation == "collection_status"
    assert len(fake.calls("/auth/oauth2/token")) == 3  # the token's retries only
    assert fake.calls("/standard/v1/payments/") == []


async def test_refund_of_an_unknown_collection_is_rejected(
    connect: Connect, fake: FakeAirtel
) -> None:
    fake.on(
        "POST",
        "/standard/v1/payments/refund",
        envelope("DP00800001025", result_code="ESB000045", success=False, code="404"),
    )
    with pytest.raises(Rejected) as caught:
        await connect().refund("MP-unknown", Money(100, KES))
    assert caught.value.provider_code in ("DP00800001025", "ESB000045")


async def test_refused_user_enquiry_is_rejected(connect: Connect, fake: FakeAirtel) -> None:
    fake.on(
        "GET",
        "/standard/v1/users/",
        envelope("DP02200000000", result_code="ESB000033", success=False, code="400",
                 message="Invalid Msisdn Length. Msisdn Length should be 9"),
    )  # fmt: skip
    with pytest.raises(Rejected):
        await connect().user_enquiry("254733123456")
    assert len(fake.calls("/standard/v1/users/")) == 1


def test_callback_auth_without_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="AIRTEL_CALLBACK_SECRET"):
        AirtelConnector(make_settings(callback_auth=True), base_url="http://x")
