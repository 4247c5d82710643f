"""Balance and KYC user enquiry."""

from __future__ import annotations

import pytest
from tests.sandbox.airtel.airtel_support import APPROVES, new_id

pytestmark = pytest.mark.airtel


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_balance_is_the_wallet_as_a_decimal_string(airtel, version):
    answer = airtel.http.get(f"/standard/{version}/users/balance", headers=airtel.headers())

    assert answer.status_code == 200
    assert answer.json() == {
        "data": {"balance": "1000000.00", "currency": "KES", "account_status": "Active"},
        "status": {
            "code": "200",
            "message": "SUCCESS",
            "result_code": "ESB000010",
            "response_code": "DP02100000001",
            "success": True,
        },
    }


def test_balance_follows_collections_payouts_and_the_control_api(airtel):
    txn_id = new_id("col")
    airtel.push(APPROVES, 12.5, txn_id)
    airtel.wait_final(txn_id)
    airtel.disburse(amount=2.25)

    answer = airtel.http.get("/standard/v1/users/balance", headers=airtel.headers())
    assert answer.json()["data"]["balance"] == "1000010.25"

    airtel.sandbox("PUT", "/wallet", json={"balance_minor": 5})
    answer = airtel.http.get("/standard/v1/users/balance", headers=airtel.headers())
    assert answer.json()["data"]["balance"] == "0.05"


def test_user_enquiry_returns_the_documented_kyc_fields(airtel):
    answer = airtel.http.get("/standard/v1/users/733000100", headers=airtel.headers())

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"]["response_code"] == "DP02200000001"
    assert body["status"]["result_code"] == "ESB000010"
    data = body["data"]
    assert set(data) == {
        "first_name",
        "last_name",
        "msisdn",
        "grade",
        "is_barred",
        "is_pin_set",
        "registration",
        "reg_status",
        "registered_id",
    }
    assert data["msisdn"] == "733000100"
    assert data["is_barred"] is False
    assert data["is_pin_set"] is True
    assert data["registration"] == {"id": data["registered_id"], "status": "SUBS"}
    assert data["first_name"] == "SANDBOX"


def test_user_enquiry_of_any_valid_number_is_stable(airtel):
    first = airtel.http.get("/standard/v1/users/733555111", headers=airtel.headers()).json()
    second = airtel.http.get("/standard/v1/users/733555111", headers=airtel.headers()).json()
    assert first == second
    assert first["data"]["first_name"]
    assert first["data"]["last_name"]


@pytest.mark.parametrize(
    ("msisdn", "result_code"),
    [
        ("254733000100", "ESB000033"),
        ("73300010", "ESB000033"),
        ("033000100", "ESB000036"),
        ("73300010x", "ESB000036"),
    ],
)
def test_user_enquiry_wants_the_national_number(airtel, msisdn, result_code):
    answer = airtel.http.get(f"/standard/v1/users/{msisdn}", headers=airtel.headers())

    assert answer.status_code == 200
    status = answer.json()["status"]
    assert (status["response_code"], status["result_code"], status["success"]) == (
        "DP02200000000",
        result_code,
        False,
    )
