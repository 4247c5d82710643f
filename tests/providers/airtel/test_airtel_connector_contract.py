"""Contract: the connector reads every Airtel fixture in ``tests/contract/fixtures/airtel``
(written from the provider document by the emulator's engineer, STYLE rule 9) the way the
document says, and the bodies it sends have the fixtures' shapes."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.providers.airtel.airtel_connector_kit import FakeAirtel, make_settings, public_pem

from qmoi.domain.money import Money
from qmoi.providers.airtel import AirtelConnector, wire
from qmoi.providers.base import (
    AuthenticationFailed,
    CallbackKind,
    CollectRequest,
    DisburseRequest,
    FailureReason,
    NotSent,
    Outcome,
    OutcomeUnknown,
    Rejected,
)

pytestmark = pytest.mark.airtel

FIXTURES = Path(__file__).resolve().parents[2] / "contract" / "fixtures" / "airtel"
Connect = Callable[..., AirtelConnector]
R = FailureReason

if not FIXTURES.is_dir():  # pragma: no cover - the fixtures are part of the repository
    pytest.skip("Airtel contract fixtures are missing", allow_module_level=True)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def serve(fake: FakeAirtel, method: str, path: str, name: str, status: int = 200) -> None:
    body = load(name)
    fake.on(method, path, lambda _: httpx.Response(status, json=body))


def collect_request(msisdn: str = "254733123456") -> CollectRequest:
    return CollectRequest(
        "qmoi-col-7f3c2a", msisdn, Money(15000, "KES"), "QMOI airtime order 42", "d"
    )


def disburse_request() -> DisburseRequest:
    return DisburseRequest(
        "qmoi-tr-airtel-20260101-3", "254733123456", Money(200000, "KES"),
        "owner payout 2026-01-01 #3",
    )  # fmt: skip


@pytest.fixture
def keyed(connect: Connect, rsa_key: rsa.RSAPrivateKey) -> AirtelConnector:
    return connect(make_settings(public_key=public_pem(rsa_key)))


def test_every_response_fixture_is_covered() -> None:
    """A new fixture must get a test here (requests are checked for shape below)."""
    covered = {
        "balance_response.json", "callback.json", "callback_failed.json",
        "callback_with_hash.json", "disbursement_enquiry_response.json",
        "disbursement_request.json", "disbursement_response.json",
        "disbursement_v2_request.json", "encryption_keys_response.json",
        "enquiry_response_not_found.json", "enquiry_response_tf.json",
        "enquiry_response_tip.json", "enquiry_response_ts.json",
        "error_duplicate_collection.json", "error_duplicate_disbursement.json",
        "error_field_validation.json", "error_incorrect_pin.json",
        "error_insufficient_funds.json", "error_invalid_amount_disbursement.json",
        "error_invalid_country.json", "error_invalid_currency.json",
        "error_invalid_msisdn_disbursement.json", "error_missing_currency.json",
        "error_router110.json", "error_router117.json", "error_server.json",
        "error_signature_mismatch.json", "refund_request.json", "refund_response.json",
        "token_error_invalid_client.json", "token_error_invalid_token.json",
        "token_request.json", "token_response.json", "user_enquiry_response.json",
        "ussd_push_request.json", "ussd_push_response.json",
    }  # fmt: skip
    assert {p.name for p in FIXTURES.glob("*.json")} <= covered


# ------------------------------------------------------------------------ what we send


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__


async def test_push_request_matches_fixture(connect: Connect, fake: FakeAirtel) -> None:
    serve(fake, "POST", "/merchant/v1/payments/", "ussd_push_response.json")
    await connect().collect(collect_request())
    sent = json.loads(fake.calls("/merchant/v1/payments/")[0].content)
    assert sent == load("ussd_push_request.json")


async def test_token_request_matches_fixture(connect: Connect, fake: FakeAirtel) -> None:
    serve(fake, "GET", "/standard/v1/users/balance", "balance_response.json")
    await connect().balance()
    sent = json.loads(fake.calls("/auth/oauth2/token")[0].content)
    assert _shape(sent) == _shape(load("token_request.json"))
    assert list(sent) == list(load("token_request.json"))


async def test_disbursement_requests_match_fixtures(
    connect: Connect, fake: FakeAirtel, rsa_key: rsa.RSAPrivateKey
) -> None:
    for version, path, name in (
        (1, "/standard/v1/disbursements/", "disbursement_request.json"),
        (2, "/standard/v2/disbursements/", "disbursement_v2_request.json"),
    ):
        serve(fake, "POST", path, "disbursement_response.json")
        connector = connect(make_settings(public_key=public_pem(rsa_key)), api_version=version)
        await connector.disburse(disburse_request())
        sent = json.loads(fake.calls(path)[0].content)
        expected = copy.deepcopy(load(name))
        # payee.name and wallet_type are optional and unconfirmed (§7): we omit them
        expected["payee"].pop("name", None)
        expected["payee"].pop("wallet_type", None)
        sent_pin = sent.pop("pin")
        expected.pop("pin")
        assert sent == expected
        assert isinstance(sent_pin, str)


async def test_refund_request_matches_fixture(connect: Connect, fake: FakeAirtel) -> None:
    serve(fake, "POST", "/standard/v1/payments/refund", "refund_response.json")
    await connect().refund("MP260101.1200.A00001", Money(15000, "KES"))
    sent = json.loads(fake.calls("/standard/v1/payments/refund")[0].content)
    assert sent == load("refund_request.json")


# -------------------------------------------------------------------- what we read


async def test_token_response(connect: Connect, fake: FakeAirtel) -> None:
    serve(fake, "POST", "/auth/oauth2/token", "token_response.json")
    serve(fake, "GET", "/standard/v1/users/balance", "balance_response.json")
    await connect().balance()
    assert fake.calls("/standard/v1/users/balance")[0].headers["authorization"] == (
        "Bearer Ab12Cd34..."
    )


async def test_token_error_invalid_client(connect: Connect, fake: FakeAirtel) -> None:
    serve(fake, "POST", "/auth/oauth2/token", "token_error_invalid_client.json", 400)
    with pytest.raises(AuthenticationFailed) as caught:
        await connect().balance()
    assert caught.value.provider_code == "invalid_client"


@pytest.mark.parametrize("status", [401, 403])
async def test_token_error_invalid_token(connect: Connect, fake: FakeAirtel, status: int) -> None:
    serve(fake, "GET", "/standard/v1/users/balance", "token_error_invalid_token.json", status)
    with pytest.raises(AuthenticationFailed):
        await connect().balance()
    assert fake.token_calls == 2  # refreshed once, then gave up


async def test_encryption_keys_response(
    connect: Connect, fake: FakeAirtel, rsa_key: rsa.RSAPrivateKey
) -> None:
    body = load("encryption_keys_response.json")
    data = wire.KeyData.model_validate(body["data"])
    assert (data.key_id, data.valid_upto) == ("100", "12-08-2026 21:29:26")
    # the fixture's key is elided ("…"): unusable, so a payout is not sent
    serve(fake, "GET", "/v1/rsa/encryption-keys", "encryption_keys_response.json")
    with pytest.raises(NotSent):
        await connect(retry_attempts=1).disburse(disburse_request())
    assert fake.calls("/standard/v1/disbursements/") == []


async def test_ussd_push_response_is_pending(connect: Connect, fake: FakeAirtel) -> None:
    serve(fake, "POST", "/merchant/v1/payments/", "ussd_push_response.json")
    submission = await connect().collect(collect_request())
    assert submission.status.outcome is Outcome.PENDING
    assert submission.status.provider_code == "DP00800001006"
    assert submission.provider_request_id == "qmoi-col-7f3c2a"


@pytest.mark.parametrize(
    ("name", "outcome", "reason", "reference"),
    [
        ("enquiry_response_ts.json", Outcome.SUCCEEDED, None, "MP260101.1200.A00001"),
        ("enquiry_response_tip.json", Outcome.PENDING, None, None),
        ("enquiry_response_tf.json", Outcome.FAILED, R.INSUFFICIENT_FUNDS, None),
        ("enquiry_response_not_found.json", Outcome.UNKNOWN, R.NOT_FOUND, None),
    ],
)
async def test_collection_enquiries(
    connect: Connect,
    fake: FakeAirtel,
    name: str,
    outcome: Outcome,
    reason: R | None,
    reference: str | None,
) -> None:
    serve(fake, "GET", "/standard/v1/payments/qmoi-col-7f3c2a", name)
    status = await connect().collection_status("qmoi-col-7f3c2a", "qmoi-col-7f3c2a")
    assert (status.outcome, status.reason, status.provider_reference) == (
        outcome,
        reason,
        reference,
    )


async def test_refund_response(connect: Connect, fake: FakeAirtel) -> None:
    serve(fake, "POST", "/standard/v1/payments/refund", "refund_response.json")
    status = await connect().refund("MP260101.1200.A00001", Money(15000, "KES"))
    assert status.outcome is Outcome.SUCCEEDED
    assert status.provider_reference == "CI260101.1230.C00029"


async def test_disbursement_response(keyed: AirtelConnector, fake: FakeAirtel) -> None:
    serve(fake, "POST", "/standard/v1/disbursements/", "disbursement_response.json")
    submission = await keyed.disburse(disburse_request())
    assert submission.status.outcome is Outcome.SUCCEEDED
    assert submission.status.provider_reference == "disbursement-XY12-qmoi-tr-airtel-20260101-3"


async def test_disbursement_enquiry_response(connect: Connect, fake: FakeAirtel) -> None:
    serve(fake, "GET", "/standard/v1/disbursements/", "disbursement_enquiry_response.json")
    status = await connect().disbursement_status("qmoi-tr-airtel-20260101-3", None)
    assert status.outcome is Outcome.SUCCEEDED
    assert status.provider_reference == "disbursement-XY12-qmoi-tr-airtel-20260101-3"


async def test_balance_response(connect: Connect, fake: FakeAirtel) -> None:
    serve(fake, "GET", "/standard/v1/users/balance", "balance_response.json")
    assert (await connect().balance()).available == Money(23048665, "KES")


async def test_user_enquiry_response(connect: Connect, fake: FakeAirtel) -> None:
    serve(fake, "GET", "/standard/v1/users/", "user_enquiry_response.json")
    subscriber = await connect().user_enquiry("254733123456")
    assert (subscriber.first_name, subscriber.last_name) == ("JANE", "OWNER")
    assert subscriber.registered
    assert not subscriber.barred
    assert subscriber.msisdn == "254733123456"


@pytest.mark.parametrize(
    ("name", "http", "reason"),
    [
        ("error_incorrect_pin.json", 200, R.INVALID_PIN),
        ("error_insufficient_funds.json", 200, R.INSUFFICIENT_FUNDS),
        ("error_invalid_msisdn_disbursement.json", 200, R.INVALID_NUMBER),
        ("error_invalid_amount_disbursement.json", 200, R.INVALID_REQUEST),
    ],
)
async def test_disbursement_failures(
    keyed: AirtelConnector, fake: FakeAirtel, name: str, http: int, reason: R
) -> None:
    serve(fake, "POST", "/standard/v1/disbursements/", name, http)
    submission = await keyed.disburse(disburse_request())
    assert (submission.status.outcome, submission.status.reason) == (Outcome.FAILED, reason)


@pytest.mark.parametrize(
    ("name", "http", "code"),
    [
        ("error_invalid_country.json", 400, "DP00900001013"),
        ("error_invalid_currency.json", 200, "DP00900001013"),
        ("error_missing_currency.json", 200, "DP00900001013"),
        ("error_router110.json", 400, "ROUTER110"),
    ],
)
async def test_disbursement_rejections(
    keyed: AirtelConnector, fake: FakeAirtel, name: str, http: int, code: str
) -> None:
    serve(fake, "POST", "/standard/v1/disbursements/", name, http)
    with pytest.raises(Rejected) as caught:
        await keyed.disburse(disburse_request())
    assert caught.value.provider_code == code


@pytest.mark.parametrize(
    ("name", "http", "code"),
    [
        ("error_field_validation.json", 200, "DP00800001008"),  # message: missing params
        ("error_signature_mismatch.json", 403, "DP00800001026"),
        ("error_router110.json", 400, "ROUTER110"),
    ],
)
async def test_collection_rejections(
    connect: Connect, fake: FakeAirtel, name: str, http: int, code: str
) -> None:
    serve(fake, "POST", "/merchant/v1/payments/", name, http)
    with pytest.raises(Rejected) as caught:
        await connect().collect(collect_request())
    assert caught.value.provider_code == code


@pytest.mark.parametrize(
    ("name", "http"), [("error_server.json", 500), ("error_router117.json", 504)]
)
async def test_ambiguous_errors(connect: Connect, fake: FakeAirtel, name: str, http: int) -> None:
    serve(fake, "POST", "/merchant/v1/payments/", name, http)
    with pytest.raises(OutcomeUnknown):
        await connect().collect(collect_request())


async def test_duplicate_collection_is_resolved_by_enquiry(
    connect: Connect, fake: FakeAirtel
) -> None:
    serve(fake, "POST", "/merchant/v1/payments/", "error_duplicate_collection.json")
    serve(fake, "GET", "/standard/v1/payments/qmoi-col-7f3c2a", "enquiry_response_ts.json")
    submission = await connect().collect(collect_request())
    assert submission.status.outcome is Outcome.SUCCEEDED


async def test_duplicate_disbursement_is_resolved_by_enquiry(
    keyed: AirtelConnector, fake: FakeAirtel
) -> None:
    serve(fake, "POST", "/standard/v1/disbursements/", "error_duplicate_disbursement.json")
    serve(fake, "GET", "/standard/v1/disbursements/", "disbursement_enquiry_response.json")
    submission = await keyed.disburse(disburse_request())
    assert submission.status.outcome is Outcome.SUCCEEDED


@pytest.mark.parametrize(
    ("name", "outcome", "reason"),
    [
        ("callback.json", Outcome.SUCCEEDED, None),
        ("callback_failed.json", Outcome.FAILED, R.CANCELLED),
    ],
)
def test_callbacks(connect: Connect, name: str, outcome: Outcome, reason: R | None) -> None:
    body = (FIXTURES / name).read_bytes()
    event = connect().parse_callback(CallbackKind.COLLECTION, {}, body)
    assert event.reference == "qmoi-col-7f3c2a"
    assert (event.status.outcome, event.status.reason) == (outcome, reason)


def test_callback_with_hash(connect: Connect) -> None:
    settings = make_settings(callback_auth=True, callback_secret="my-callback-private-key")
    body = (FIXTURES / "callback_with_hash.json").read_bytes()  # pretty-printed on disk
    event = connect(settings).parse_callback(CallbackKind.COLLECTION, {}, body)
    assert event.status.outcome is Outcome.SUCCEEDED
    assert event.status.provider_reference == "MP240101.1200.A00001"
