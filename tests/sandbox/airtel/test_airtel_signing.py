"""Message signing with x-signature / x-key."""

from __future__ import annotations

import json

import pytest
from tests.sandbox.airtel.airtel_support import (
    DOC_BODY,
    DOC_IV,
    DOC_KEY,
    DOC_SIGNATURE,
    PIN,
    aes_signature,
    compact,
    encrypt_pin,
    new_id,
    sign,
)

pytestmark = pytest.mark.airtel


def test_the_test_signer_reproduces_the_documented_vector():
    assert aes_signature(DOC_BODY, DOC_KEY, DOC_IV) == DOC_SIGNATURE


def test_the_documented_vector_is_accepted_by_the_emulator(airtel):
    headers = airtel.headers() | sign(DOC_BODY, airtel.public_key(), DOC_KEY, DOC_IV)
    headers["Content-Type"] = "application/json"
    assert headers["x-signature"] == DOC_SIGNATURE

    answer = airtel.http.post("/merchant/v2/payments/", content=DOC_BODY, headers=headers)

    assert answer.status_code == 200
    assert answer.json()["status"]["response_code"] == "DP00800001006"


def _post(airtel, path, body_bytes, signed_bytes=None, *, signed=True):
    headers = airtel.headers() | {"Content-Type": "application/json"}
    if signed:
        headers |= sign(
            signed_bytes if signed_bytes is not None else body_bytes, airtel.public_key()
        )
    return airtel.http.post(path, content=body_bytes, headers=headers)


@pytest.mark.parametrize("signing_required", [False, True])
def test_a_validly_signed_v2_push_is_accepted(start_airtel, signing_required):
    airtel = start_airtel(signing_required=signing_required)
    body = compact(airtel.push_body("733000100", 150, new_id("col")))
    assert _post(airtel, "/merchant/v2/payments/", body).json()["status"]["success"] is True


@pytest.mark.parametrize("signing_required", [False, True])
@pytest.mark.parametrize("version", [1, 2])
def test_a_payload_changed_after_signing_is_forbidden_whenever_headers_are_sent(
    start_airtel, signing_required, version
):
    airtel = start_airtel(signing_required=signing_required)
    txn_id = new_id("col")
    signed = airtel.push_body("733000100", 150, txn_id)
    sent = json.loads(json.dumps(signed))
    sent["transaction"]["amount"] = 15000

    answer = _post(airtel, f"/merchant/v{version}/payments/", compact(sent), compact(signed))

    assert answer.status_code == 403
    assert answer.json()["status"]["response_code"] == "DP00800001026"
    assert answer.json()["status"]["success"] is False
    assert airtel.sandbox("GET", "/transactions") == []


def test_even_whitespace_changes_break_the_signature(airtel):
    body = airtel.push_body("733000100", 150, new_id("col"))
    pretty = json.dumps(body, indent=2).encode()
    answer = _post(airtel, "/merchant/v2/payments/", pretty, compact(body))
    assert answer.json()["status"]["response_code"] == "DP00800001026"


@pytest.mark.parametrize(
    "headers",
    [{"x-signature": "abc"}, {"x-key": "abc"}, {"x-signature": "abc", "x-key": "not-rsa"}],
    ids=["signature-only", "key-only", "garbage"],
)
def test_half_or_garbage_signature_headers_are_forbidden(airtel, headers):
    body = compact(airtel.push_body("733000100", 150, new_id("col")))
    answer = airtel.http.post(
        "/merchant/v1/payments/",
        content=body,
        headers=airtel.headers() | headers | {"Content-Type": "application/json"},
    )
    assert answer.status_code == 403
    assert answer.json()["status"]["response_code"] == "DP00800001026"


def test_with_signing_on_an_unsigned_v2_push_is_forbidden_but_v1_is_not(start_airtel):
    airtel = start_airtel(signing_required=True)
    body = compact(airtel.push_body("733000100", 150, new_id("col")))

    v2 = _post(airtel, "/merchant/v2/payments/", body, signed=False)
    v1 = _post(airtel, "/merchant/v1/payments/", body, signed=False)

    assert v2.status_code == 403
    assert v2.json()["status"]["response_code"] == "DP00800001026"
    assert v1.json()["status"]["response_code"] == "DP00800001006"


def test_with_signing_off_an_unsigned_v2_push_is_accepted(airtel):
    body = compact(airtel.push_body("733000100", 150, new_id("col")))
    assert _post(airtel, "/merchant/v2/payments/", body, signed=False).json()["status"]["success"]


def _payout(airtel, txn_id):
    return {
        "payee": {"msisdn": "733123456", "currency": "KES"},
        "reference": "owner payout",
        "pin": encrypt_pin(airtel.public_key(), PIN),
        "transaction": {"amount": 2000, "id": txn_id, "type": "B2C"},
    }


def test_signed_v2_disbursement_succeeds_and_tampered_one_is_forbidden(start_airtel):
    airtel = start_airtel(signing_required=True)
    before = airtel.wallet_minor()
    good = _payout(airtel, new_id("tr"))
    assert (
        _post(airtel, "/standard/v2/disbursements/", compact(good)).json()["status"][
            "response_code"
        ]
        == "DP00900001001"
    )

    signed = _payout(airtel, new_id("tr"))
    sent = json.loads(json.dumps(signed))
    sent["payee"]["msisdn"] = "733999999"
    tampered = _post(airtel, "/standard/v2/disbursements/", compact(sent), compact(signed))
    unsigned = _post(
        airtel, "/standard/v2/disbursements/", compact(_payout(airtel, new_id("tr"))), signed=False
    )

    for answer in (tampered, unsigned):
        assert answer.status_code == 403
        assert answer.json()["status"]["response_code"] == "DP00900001016"
    assert airtel.wallet_minor() == before - 200000
