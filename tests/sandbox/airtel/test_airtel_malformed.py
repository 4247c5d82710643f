"""Malformed requests get Airtel's own error shapes, never a 500."""

from __future__ import annotations

import pytest
from tests.sandbox.airtel.airtel_support import APPROVES, PIN, encrypt_pin, new_id

pytestmark = pytest.mark.airtel


def _status(answer):
    return answer.json()["status"]


# --- routing headers ------------------------------------------------------------------

PRODUCT_CALLS = [
    ("POST", "/merchant/v1/payments/", "DP00800001008"),
    ("GET", "/standard/v1/payments/some-id", "DP00800001008"),
    ("POST", "/standard/v1/payments/refund", "DP00800001008"),
    ("POST", "/standard/v1/disbursements/", "DP00900001013"),
    ("GET", "/standard/v1/disbursements/some-id", "DP00900001013"),
    ("GET", "/standard/v1/users/balance", "DP02100000000"),
    ("GET", "/standard/v1/users/733000100", "DP02200000000"),
    ("GET", "/v1/rsa/encryption-keys", "DP02010001000"),
]


@pytest.mark.parametrize(("method", "path", "refused"), PRODUCT_CALLS)
def test_missing_x_country_is_http_400_router110_flat_shape(airtel, method, path, refused):
    headers = airtel.headers()
    del headers["X-Country"]

    answer = airtel.http.request(method, path, headers=headers, json={})

    assert answer.status_code == 400
    assert answer.json() == {
        "status_code": "ROUTER110",
        "status_message": "Partner qmoi-sandbox not found",
    }


@pytest.mark.parametrize(("method", "path", "refused"), PRODUCT_CALLS)
def test_malformed_x_country_is_http_400_envelope_invalid_country_code(
    airtel, method, path, refused
):
    answer = airtel.http.request(
        method, path, headers=airtel.headers(**{"X-Country": "KEN"}), json={}
    )

    assert answer.status_code == 400
    assert _status(answer) == {
        "code": "400",
        "message": "Invalid Country Code",
        "result_code": "ESB000034",
        "response_code": refused,
        "success": False,
    }


def test_a_country_the_app_is_not_configured_for_is_router110(airtel):
    answer = airtel.http.get(
        "/standard/v1/users/balance", headers=airtel.headers(**{"X-Country": "UG"})
    )
    assert answer.status_code == 400
    assert answer.json()["status_code"] == "ROUTER110"


@pytest.mark.parametrize(("method", "path", "refused"), PRODUCT_CALLS)
def test_missing_x_currency_is_http_200_envelope_esb000008(airtel, method, path, refused):
    headers = airtel.headers()
    del headers["X-Currency"]

    answer = airtel.http.request(method, path, headers=headers, json={})

    assert answer.status_code == 200
    status = _status(answer)
    assert (status["code"], status["result_code"], status["response_code"], status["success"]) == (
        "400",
        "ESB000008",
        refused,
        False,
    )


@pytest.mark.parametrize("currency", ["", "UGX", "kes"])
def test_empty_or_wrong_x_currency_is_http_200_invalid_missing_currency(airtel, currency):
    body = airtel.disbursement_body("733123456", 2000, new_id("tr"))
    answer = airtel.http.post(
        "/standard/v1/disbursements/", json=body, headers=airtel.headers(**{"X-Currency": currency})
    )

    assert answer.status_code == 200
    assert _status(answer) == {
        "code": "400",
        "message": "Invalid/Missing Currency",
        "result_code": "ESB000035",
        "response_code": "DP00900001013",
        "success": False,
    }


# --- bodies -----------------------------------------------------------------------------

WRITES = [
    "/merchant/v1/payments/",
    "/merchant/v2/payments/",
    "/standard/v1/payments/refund",
    "/standard/v1/disbursements/",
    "/standard/v2/disbursements/",
]


@pytest.mark.parametrize("path", WRITES)
@pytest.mark.parametrize(
    "content", [b"", b"{not json", b"[1,2]", b'"text"', b"null", b"NaN", b"\xff\xfe"]
)
def test_a_body_that_is_not_a_json_object_is_http_400_esb000008(airtel, path, content):
    answer = airtel.http.post(
        path, content=content, headers=airtel.headers(**{"Content-Type": "application/json"})
    )

    assert answer.status_code == 400
    status = _status(answer)
    assert (status["code"], status["result_code"], status["success"]) == ("400", "ESB000008", False)


def _push(**changes):
    body = {
        "reference": "QMOI order",
        "subscriber": {"country": "KE", "currency": "KES", "msisdn": APPROVES},
        "transaction": {"amount": 150, "country": "KE", "currency": "KES", "id": new_id("col")},
    }
    for path, value in changes.items():
        node = body
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[part]
        if value is ...:
            del node[leaf]
        else:
            node[leaf] = value
    return body


PUSH_CASES = [
    # (changes, result_code, response_code, message fragment)
    ({"reference": ...}, "ESB000008", "DP00800001008", "reference"),
    ({"subscriber": ...}, "ESB000008", "DP00800001008", "subscriber.msisdn"),
    ({"subscriber__msisdn": ...}, "ESB000008", "DP00800001008", "subscriber.msisdn"),
    ({"transaction__id": ...}, "ESB000008", "DP00800001008", "transaction.id"),
    ({"transaction__amount": ...}, "ESB000008", "DP00800001008", "transaction.amount"),
    ({"transaction": "x"}, "ESB000008", "DP00800001008", "transaction must be an object"),
    ({"subscriber__msisdn": 733000100}, "ESB000008", "DP00800001008", "must be a string"),
    ({"transaction__id": 42}, "ESB000008", "DP00800001008", "must be a string"),
    ({"transaction__id": "has space"}, "ESB000008", "DP00800001008", "transaction.id"),
    ({"transaction__id": "x" * 65}, "ESB000008", "DP00800001008", "transaction.id"),
    ({"reference": "r" * 65}, "ESB000008", "DP00800001008", "at most 64"),
    ({"reference": ""}, "ESB000008", "DP00800001008", "reference"),
    ({"transaction__amount": "150"}, "ESB000008", "DP00800001008", "must be a number"),
    ({"transaction__amount": True}, "ESB000008", "DP00800001008", "must be a number"),
    ({"transaction__amount": 0}, "ESB000008", "DP00800001004", "Invalid Amount"),
    ({"transaction__amount": -5}, "ESB000008", "DP00800001004", "Invalid Amount"),
    ({"transaction__amount": 1.005}, "ESB000008", "DP00800001004", "Invalid Amount"),
    ({"transaction__amount": 1e300}, "ESB000008", "DP00800001004", "Invalid Amount"),
    ({"subscriber__msisdn": "254733000100"}, "ESB000033", "DP00800001008", "Length should be 9"),
    ({"subscriber__msisdn": "73300010"}, "ESB000033", "DP00800001008", "Length should be 9"),
    ({"subscriber__msisdn": "073300010"}, "ESB000036", "DP00800001008", "MSISDN"),
    ({"subscriber__msisdn": "533000100"}, "ESB000036", "DP00800001008", "MSISDN"),
    ({"subscriber__msisdn": "7330001O0"}, "ESB000036", "DP00800001008", "MSISDN"),
    ({"subscriber__country": "UG"}, "ESB000034", "DP00800001008", "Country"),
    ({"transaction__currency": "UGX"}, "ESB000035", "DP00800001008", "Currency"),
]


@pytest.mark.parametrize(("changes", "result_code", "response_code", "fragment"), PUSH_CASES)
def test_invalid_push_fields_are_http_200_failures_with_real_codes(
    airtel, changes, result_code, response_code, fragment
):
    answer = airtel.http.post(
        "/merchant/v1/payments/", json=_push(**changes), headers=airtel.headers()
    )

    assert answer.status_code == 200
    status = _status(answer)
    assert status["code"] == "400"
    assert status["success"] is False
    assert (status["result_code"], status["response_code"]) == (result_code, response_code)
    assert fragment in status["message"]
    assert "data" not in answer.json()
    assert airtel.sandbox("GET", "/transactions") == []


def test_optional_country_and_currency_fields_may_be_left_out(airtel):
    body = _push(
        subscriber__country=...,
        subscriber__currency=...,
        transaction__country=...,
        transaction__currency=...,
    )
    answer = airtel.http.post("/merchant/v1/payments/", json=body, headers=airtel.headers())
    assert _status(answer)["response_code"] == "DP00800001006"


def test_decimal_amounts_within_the_currency_are_exact(airtel):
    body = _push(transaction__amount=1250.75)
    airtel.http.post("/merchant/v1/payments/", json=body, headers=airtel.headers())
    assert airtel.transaction(body["transaction"]["id"])["amount_minor"] == 125075


def _payout(airtel, **changes):
    body = {
        "payee": {"msisdn": "733123456"},
        "reference": "owner payout",
        "pin": encrypt_pin(airtel.public_key(), PIN),
        "transaction": {"amount": 2000, "id": new_id("tr")},
    }
    for path, value in changes.items():
        node = body
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[part]
        if value is ...:
            del node[leaf]
        else:
            node[leaf] = value
    return body


@pytest.mark.parametrize(
    ("changes", "result_code", "response_code", "message"),
    [
        ({"pin": ...}, "ESB000008", "DP00900001013", "Missing header/body params: pin"),
        (
            {"pin": 1234},
            "ESB000008",
            "DP00900001013",
            "Field validation error: pin must be a string",
        ),
        (
            {"payee__msisdn": "0733123456"},
            "521002",
            "DP00900001013",
            "Invalid Msisdn Length. Msisdn Length should be 9",
        ),
        ({"payee__msisdn": "033123456"}, "ESB000036", "DP00900001012", "Invalid mobile number"),
        ({"transaction__amount": 0}, "ESB000008", "DP00900001004", None),
        ({"transaction__amount": 10.001}, "ESB000008", "DP00900001004", None),
        ({"reference": ...}, "ESB000008", "DP00900001013", "Missing header/body params: reference"),
    ],
)
def test_invalid_payout_fields_are_refused_with_real_codes(
    airtel, changes, result_code, response_code, message
):
    before = airtel.wallet_minor()
    answer = airtel.http.post(
        "/standard/v1/disbursements/", json=_payout(airtel, **changes), headers=airtel.headers()
    )

    assert answer.status_code == 200
    status = _status(answer)
    assert (status["code"], status["success"]) == ("400", False)
    assert (status["result_code"], status["response_code"]) == (result_code, response_code)
    if message:
        assert status["message"] == message
    assert airtel.wallet_minor() == before


@pytest.mark.parametrize(
    "body", [{}, {"transaction": {}}, {"transaction": {"airtel_money_id": 5}}, {"transaction": []}]
)
def test_malformed_refund_bodies_are_field_validation_errors(airtel, body):
    answer = airtel.http.post("/standard/v1/payments/refund", json=body, headers=airtel.headers())
    assert answer.status_code == 200
    assert _status(answer)["result_code"] == "ESB000008"


def test_v2_disbursement_enquiry_rejects_an_unknown_transaction_type(airtel):
    answer = airtel.http.get(
        "/standard/v2/disbursements/x?transactionType=P2P", headers=airtel.headers()
    )
    assert _status(answer)["result_code"] == "ESB000008"


GARBAGE = [
    b"",
    b"{}",
    b"[]",
    b"0",
    b'{"transaction": null, "payee": null, "subscriber": null}',
    b'{"transaction": {"amount": {"a": 1}, "id": ["x"]}, "payee": {"msisdn": {}}}',
    b'{"transaction": {"amount": 1e999999, "id": "x"}}',
    b'{"transaction": {"amount": -0.0, "id": "x"}, "subscriber": {"msisdn": "733000100"}, '
    b'"reference": "r"}',
    b'{"pin": "' + b"A" * 5000 + b'", "payee": {"msisdn": "733123456"}, "reference": "r", '
    b'"transaction": {"amount": 1, "id": "x"}}',
    b"[" * 5000 + b"]" * 5000,
    b'{"a": "\\ud800"}',
]


@pytest.mark.parametrize("path", WRITES + ["/auth/oauth2/token"])
@pytest.mark.parametrize("content", GARBAGE, ids=range(len(GARBAGE)))
def test_no_garbage_body_ever_produces_a_server_error(airtel, path, content):
    answer = airtel.http.post(
        path, content=content, headers=airtel.headers(**{"Content-Type": "application/json"})
    )
    assert answer.status_code < 500, answer.text
    assert isinstance(answer.json(), dict)


@pytest.mark.parametrize(
    "path",
    [
        "/standard/v1/payments/%00",
        "/standard/v1/users/%20",
        "/standard/v1/users/" + "9" * 500,
        "/standard/v2/disbursements/%E2%82%AC",
    ],
)
def test_odd_path_parameters_are_answered_not_crashed(airtel, path):
    answer = airtel.http.get(path, headers=airtel.headers())
    assert answer.status_code < 500


def test_unknown_paths_are_404(airtel):
    assert airtel.http.get("/merchant/v9/nothing", headers=airtel.headers()).status_code == 404
