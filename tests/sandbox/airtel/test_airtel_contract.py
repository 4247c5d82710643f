"""Contract: the emulator answers with the shapes of ``tests/contract/fixtures/airtel``.

The fixtures are written from the provider document, not captured from the emulator;
the Airtel connector parses the same files. Each scenario provokes one answer over
HTTP and compares it with its fixture: same keys, same JSON types, same codes.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from tests.sandbox.airtel.airtel_support import (
    APPROVES,
    DECLINES,
    FIXTURES,
    NO_FUNDS,
    PIN,
    compact,
    encrypt_pin,
    fixture,
    new_id,
    sign,
)

pytestmark = pytest.mark.airtel

# Keys whose *values* must match the fixture (codes), wherever they appear.
CODE_KEYS = {
    "code",
    "result_code",
    "response_code",
    "success",
    "status_code",
    "error",
    "token_type",
    "expires_in",
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def assert_same_shape(actual: Any, expected: Any, path: str = "$") -> None:
    assert _kind(actual) == _kind(expected), f"{path}: {_kind(actual)} != {_kind(expected)}"
    if isinstance(expected, dict):
        assert set(actual) == set(expected), f"{path}: keys {sorted(actual)} != {sorted(expected)}"
        for key, value in expected.items():
            where = f"{path}.{key}"
            if key in CODE_KEYS or (key == "status" and isinstance(value, str)):
                assert actual[key] == value, f"{where}: {actual[key]!r} != {value!r}"
            assert_same_shape(actual[key], value, where)
    elif isinstance(expected, list) and expected:
        for item in actual:
            assert_same_shape(item, expected[0], f"{path}[]")


def _push_fixture(msisdn: str = APPROVES) -> dict[str, Any]:
    body = copy.deepcopy(fixture("ussd_push_request.json"))
    body["subscriber"]["msisdn"] = msisdn
    body["transaction"]["id"] = new_id("col")
    return body


def _payout_fixture(airtel, name: str = "disbursement_request.json") -> dict[str, Any]:
    body = copy.deepcopy(fixture(name))
    body["pin"] = encrypt_pin(airtel.public_key(), PIN)
    body["transaction"]["id"] = new_id("tr")
    return body


def _token_request() -> dict[str, Any]:
    body = fixture("token_request.json")
    return body | {"client_id": "qmoi-sandbox", "client_secret": "qmoi-sandbox-secret"}


def _paid_collection(airtel) -> dict[str, Any]:
    body = _push_fixture()
    airtel.http.post("/merchant/v1/payments/", json=body, headers=airtel.headers())
    return airtel.wait_final(body["transaction"]["id"])


# Each scenario: (fixture, expected HTTP status, function(airtel) -> httpx.Response)
def s_token(a):
    return a.http.post("/auth/oauth2/token", json=_token_request())


def s_invalid_client(a):
    return a.http.post("/auth/oauth2/token", json=_token_request() | {"client_secret": "nope"})


def s_invalid_token(a):
    return a.http.get("/standard/v1/users/balance", headers=a.headers("expired-or-unknown"))


def s_keys(a):
    return a.http.get("/v1/rsa/encryption-keys", headers=a.headers())


def s_push(a):
    return a.http.post("/merchant/v1/payments/", json=_push_fixture(), headers=a.headers())


def s_enquiry_ts(a):
    return a.enquiry(_paid_collection(a)["id"])


def s_enquiry_tip(a):
    a.sandbox("PUT", "/faults", json={"enquiry_pending_s": 1000})
    return a.enquiry(_paid_collection(a)["id"])


def s_enquiry_tf(a):
    body = _push_fixture(NO_FUNDS)
    a.http.post("/merchant/v1/payments/", json=body, headers=a.headers())
    a.wait_final(body["transaction"]["id"])
    return a.enquiry(body["transaction"]["id"])


def s_enquiry_not_found(a):
    return a.enquiry("qmoi-col-never-sent")


def s_refund(a):
    body = copy.deepcopy(fixture("refund_request.json"))
    body["transaction"]["airtel_money_id"] = _paid_collection(a)["provider_id"]
    return a.http.post("/standard/v1/payments/refund", json=body, headers=a.headers())


def s_payout(a):
    return a.http.post("/standard/v1/disbursements/", json=_payout_fixture(a), headers=a.headers())


def s_payout_v2(a):
    body = _payout_fixture(a, "disbursement_v2_request.json")
    return a.http.post("/standard/v2/disbursements/", json=body, headers=a.headers())


def s_payout_enquiry(a):
    body = _payout_fixture(a)
    a.http.post("/standard/v1/disbursements/", json=body, headers=a.headers())
    return a.http.get(
        f"/standard/v1/disbursements/{body['transaction']['id']}", headers=a.headers()
    )


def s_balance(a):
    return a.http.get("/standard/v1/users/balance", headers=a.headers())


def s_user(a):
    return a.http.get("/standard/v1/users/733123456", headers=a.headers())


def s_router110(a):
    headers = a.headers()
    del headers["X-Country"]
    return a.http.get("/standard/v1/users/balance", headers=headers)


def s_invalid_country(a):
    return a.http.post(
        "/standard/v1/disbursements/",
        json=_payout_fixture(a),
        headers=a.headers(**{"X-Country": "K"}),
    )


def s_missing_currency(a):
    headers = a.headers()
    del headers["X-Currency"]
    return a.http.post("/standard/v1/disbursements/", json=_payout_fixture(a), headers=headers)


def s_invalid_currency(a):
    return a.http.post(
        "/standard/v1/disbursements/",
        json=_payout_fixture(a),
        headers=a.headers(**{"X-Currency": ""}),
    )


def s_incorrect_pin(a):
    body = _payout_fixture(a) | {"pin": encrypt_pin(a.public_key(), "0000")}
    return a.http.post("/standard/v1/disbursements/", json=body, headers=a.headers())


def s_invalid_msisdn(a):
    body = _payout_fixture(a)
    body["payee"]["msisdn"] = "254733123456"
    return a.http.post("/standard/v1/disbursements/", json=body, headers=a.headers())


def s_invalid_amount(a):
    body = _payout_fixture(a)
    body["transaction"]["amount"] = 0
    return a.http.post("/standard/v1/disbursements/", json=body, headers=a.headers())


def s_insufficient(a):
    a.sandbox("PUT", "/wallet", json={"balance_minor": 199999})
    return a.http.post("/standard/v1/disbursements/", json=_payout_fixture(a), headers=a.headers())


def s_duplicate_collection(a):
    body = _push_fixture()
    a.http.post("/merchant/v1/payments/", json=body, headers=a.headers())
    return a.http.post("/merchant/v1/payments/", json=body, headers=a.headers())


def s_duplicate_payout(a):
    body = _payout_fixture(a)
    a.http.post("/standard/v1/disbursements/", json=body, headers=a.headers())
    return a.http.post("/standard/v1/disbursements/", json=body, headers=a.headers())


def s_signature_mismatch(a):
    signed = _push_fixture()
    sent = copy.deepcopy(signed)
    sent["transaction"]["amount"] = 1
    headers = (
        a.headers() | sign(compact(signed), a.public_key()) | {"Content-Type": "application/json"}
    )
    return a.http.post("/merchant/v2/payments/", content=compact(sent), headers=headers)


def s_field_validation(a):
    body = _push_fixture()
    del body["transaction"]["id"]
    return a.http.post("/merchant/v1/payments/", json=body, headers=a.headers())


def s_server_error(a):
    headers = a.headers()
    a.sandbox("PUT", "/faults", json={"error_rate": 1.0})
    return a.http.post("/merchant/v1/payments/", json=_push_fixture(), headers=headers)


def s_router117(a):
    headers = a.headers()
    a.sandbox("PUT", "/faults", json={"timeout_after_accept_rate": 1.0, "timeout_hold_s": 0.05})
    return a.http.post("/merchant/v1/payments/", json=_push_fixture(), headers=headers)


SCENARIOS = [
    ("token_response.json", 200, s_token),
    ("token_error_invalid_client.json", 400, s_invalid_client),
    ("token_error_invalid_token.json", 403, s_invalid_token),
    ("encryption_keys_response.json", 200, s_keys),
    ("ussd_push_response.json", 200, s_push),
    ("enquiry_response_ts.json", 200, s_enquiry_ts),
    ("enquiry_response_tip.json", 200, s_enquiry_tip),
    ("enquiry_response_tf.json", 200, s_enquiry_tf),
    ("enquiry_response_not_found.json", 200, s_enquiry_not_found),
    ("refund_response.json", 200, s_refund),
    ("disbursement_response.json", 200, s_payout),
    ("disbursement_response.json", 200, s_payout_v2),
    ("disbursement_enquiry_response.json", 200, s_payout_enquiry),
    ("balance_response.json", 200, s_balance),
    ("user_enquiry_response.json", 200, s_user),
    ("error_router110.json", 400, s_router110),
    ("error_invalid_country.json", 400, s_invalid_country),
    ("error_missing_currency.json", 200, s_missing_currency),
    ("error_invalid_currency.json", 200, s_invalid_currency),
    ("error_incorrect_pin.json", 200, s_incorrect_pin),
    ("error_invalid_msisdn_disbursement.json", 200, s_invalid_msisdn),
    ("error_invalid_amount_disbursement.json", 200, s_invalid_amount),
    ("error_insufficient_funds.json", 200, s_insufficient),
    ("error_duplicate_collection.json", 200, s_duplicate_collection),
    ("error_duplicate_disbursement.json", 200, s_duplicate_payout),
    ("error_signature_mismatch.json", 403, s_signature_mismatch),
    ("error_field_validation.json", 200, s_field_validation),
    ("error_server.json", 500, s_server_error),
    ("error_router117.json", 504, s_router117),
]


@pytest.mark.parametrize(
    ("name", "http_status", "scenario"),
    SCENARIOS,
    ids=[f"{s[0]}:{s[2].__name__}" for s in SCENARIOS],
)
def test_emulator_answer_has_the_shape_of_the_fixture(airtel, name, http_status, scenario):
    answer = scenario(airtel)

    assert answer.status_code == http_status, answer.text
    assert_same_shape(answer.json(), fixture(name))


@pytest.mark.parametrize(
    ("name", "msisdn", "options"),
    [
        ("callback.json", APPROVES, {}),
        ("callback_failed.json", DECLINES, {}),
        (
            "callback_with_hash.json",
            APPROVES,
            {
                "callback_auth": True,
                "callback_key": "my-callback-private-key",
                "hash_scope": "outer",
            },
        ),
    ],
)
def test_callbacks_have_the_shape_and_key_order_of_the_fixture(
    start_airtel, receiver, name, msisdn, options
):
    airtel = start_airtel(callback_url=receiver.url, **options)
    body = _push_fixture(msisdn)
    airtel.http.post("/merchant/v1/payments/", json=body, headers=airtel.headers())

    [callback] = receiver.wait_for(body["transaction"]["id"])

    expected = fixture(name)
    assert_same_shape(callback, expected)
    assert list(callback) == list(expected)
    assert list(callback["transaction"]) == list(expected["transaction"])


def test_the_hash_fixture_verifies_with_the_documented_key():
    from tests.sandbox.airtel.airtel_support import callback_hmac

    body = fixture("callback_with_hash.json")
    message = compact({"transaction": body["transaction"]})
    assert callback_hmac(message, "my-callback-private-key") == body["hash"]


def test_every_fixture_is_listed_in_the_readme_and_used():
    with open(os.path.join(FIXTURES, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    names = sorted(n for n in os.listdir(FIXTURES) if n.endswith(".json"))
    used = {s[0] for s in SCENARIOS} | {
        "callback.json",
        "callback_failed.json",
        "callback_with_hash.json",
        "token_request.json",
        "ussd_push_request.json",
        "refund_request.json",
        "disbursement_request.json",
        "disbursement_v2_request.json",
    }
    for name in names:
        assert f"`{name}`" in readme, name
        assert name in used, name


@pytest.mark.parametrize(
    "actual",
    [
        {"status": {"code": "200", "response_code": "DP00800001006"}},
        {"status": {"code": 200, "response_code": "DP00800001006", "success": True}},
        {"status": {"code": "200", "response_code": "DP00800001001", "success": True}},
        {"status": {"code": "200", "response_code": "DP00800001006", "success": "true"}},
        {"status": {"code": "200", "response_code": "DP00800001006", "success": True, "x": 1}},
    ],
    ids=["missing-key", "number-for-string", "other-code", "string-for-bool", "extra-key"],
)
def test_the_shape_comparison_catches_differences(actual):
    expected = {"status": {"code": "200", "response_code": "DP00800001006", "success": True}}
    with pytest.raises(AssertionError):
        assert_same_shape(actual, expected)
