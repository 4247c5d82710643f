"""C2B: URL registration, validation, confirmation, simulate and /sandbox/c2b/pay."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.sandbox.mpesa.conftest import StartMpesa
from tests.sandbox.mpesa.mpesa_support import APPROVES, Mpesa, wait_until

pytestmark = pytest.mark.mpesa

REGISTER_V1 = "/mpesa/c2b/v1/registerurl"
REGISTER_V2 = "/mpesa/c2b/v2/registerurl"
SIMULATE = "/mpesa/c2b/v1/simulate"


def register(mpesa: Mpesa, response_type: str = "Completed", path: str = REGISTER_V1) -> Any:
    body = {
        "ShortCode": "174379",
        "ResponseType": response_type,
        "ConfirmationURL": mpesa.receiver.hook("/c2b/confirm"),
        "ValidationURL": mpesa.receiver.hook("/c2b/validate"),
    }
    return mpesa.post(path, body)


def pay(mpesa: Mpesa, amount: Any = 150, ref: str = "AIR000043", **extra: Any) -> dict[str, Any]:
    answer = mpesa.http.post(
        "/sandbox/c2b/pay",
        json={"msisdn": APPROVES, "amount": amount, "bill_ref_number": ref, **extra},
    )
    assert answer.status_code == 200, answer.text
    tx: dict[str, Any] = answer.json()
    return tx


@pytest.mark.parametrize("path", [REGISTER_V1, REGISTER_V2])
def test_register_urls_answers_with_the_misspelt_originator_id(mpesa: Mpesa, path: str) -> None:
    answer = register(mpesa, path=path)

    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"OriginatorCoversationID", "ResponseCode", "ResponseDescription"}
    assert body["ResponseCode"] == "0"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ResponseType": "completed"}, "ResponseType"),
        ({"ResponseType": None}, "ResponseType"),
        ({"ShortCode": "600984"}, "ShortCode"),
        ({"ConfirmationURL": "https://merchant.example/mpesa/confirm"}, "ConfirmationURL"),
        ({"ValidationURL": "ftp://merchant.example/v"}, "ValidationURL"),
    ],
)
def test_bad_registrations_are_refused(mpesa: Mpesa, change: dict[str, Any], field: str) -> None:
    body = {
        "ShortCode": "174379",
        "ResponseType": "Completed",
        "ConfirmationURL": mpesa.receiver.hook("/c"),
        "ValidationURL": mpesa.receiver.hook("/v"),
    }
    body.update({k: v for k, v in change.items() if v is not None})
    for key in [k for k, v in change.items() if v is None]:
        body.pop(key)

    answer = mpesa.post(REGISTER_V1, body)

    assert answer.status_code == 400
    assert answer.json()["errorMessage"] == f"Bad Request - Invalid {field}"


def test_sandbox_allows_re_registering_production_mode_does_not(start_mpesa: StartMpesa) -> None:
    sandbox = start_mpesa()
    assert register(sandbox).status_code == 200
    assert register(sandbox).status_code == 200

    production = start_mpesa(c2b_register_once=True)
    assert register(production).status_code == 200
    again = register(production)
    assert again.status_code == 500
    assert again.json()["errorCode"] == "500.003.1001"
    assert again.json()["errorMessage"] == "Urls are already registered"


def test_without_validation_only_the_confirmation_is_sent(mpesa: Mpesa) -> None:
    register(mpesa)
    before = mpesa.balance_minor()

    tx = pay(mpesa, 150)

    [confirmation] = mpesa.receiver.wait_for("/c2b/confirm")
    assert mpesa.receiver.bodies("/c2b/validate") == []
    assert confirmation["TransID"] == tx["id"]
    assert confirmation["TransactionType"] == "Pay Bill"
    assert confirmation["TransAmount"] == "150.00"
    assert confirmation["BillRefNumber"] == "AIR000043"
    assert confirmation["BusinessShortCode"] == "174379"
    assert confirmation["MSISDN"] == "2547 ***** 100"
    assert re.fullmatch(r"\d{14}", confirmation["TransTime"])
    assert all(isinstance(value, str) for value in confirmation.values())
    assert confirmation["OrgAccountBalance"] == f"{(before + 15_000) // 100}.00"
    final = mpesa.wait_final(tx["id"])
    assert final["kind"] == "c2b"
    assert final["status"] == "succeeded"
    assert final["provider_id"] == tx["id"]
    assert final["msisdn"] == APPROVES
    assert mpesa.balance_minor() == before + 15_000


def test_validation_accepts_then_confirmation_echoes_third_party_id(
    start_mpesa: StartMpesa,
) -> None:
    mpesa = start_mpesa(c2b_validation=True)
    register(mpesa)
    answer = {"ResultCode": "0", "ResultDesc": "Accepted", "ThirdPartyTransID": "qmoi-77"}
    mpesa.receiver.answers["/c2b/validate"] = (200, answer)

    tx = pay(mpesa, 320, "DATA-9")

    [validation] = mpesa.receiver.wait_for("/c2b/validate")
    [confirmation] = mpesa.receiver.wait_for("/c2b/confirm")
    assert validation["OrgAccountBalance"] == ""
    assert validation["TransID"] == confirmation["TransID"] == tx["id"]
    assert confirmation["ThirdPartyTransID"] == "qmoi-77"
    assert mpesa.wait_final(tx["id"])["status"] == "succeeded"


def test_validation_rejects_with_its_code_and_no_money_moves(start_mpesa: StartMpesa) -> None:
    mpesa = start_mpesa(c2b_validation=True)
    register(mpesa)
    reject = {"ResultCode": "C2B00012", "ResultDesc": "Invalid Account Number"}
    mpesa.receiver.answers["/c2b/validate"] = (200, reject)
    before = mpesa.balance_minor()

    tx = pay(mpesa, 80, "NOPE")

    final = mpesa.wait_final(tx["id"])
    assert final["status"] == "failed"
    assert final["result_code"] == "C2B00012"
    assert final["provider_id"] is None
    assert mpesa.receiver.bodies("/c2b/confirm") == []
    assert mpesa.balance_minor() == before


@pytest.mark.parametrize(
    ("response_type", "status"), [("Completed", "succeeded"), ("Cancelled", "failed")]
)
def test_a_silent_validation_url_gets_the_registered_default(
    start_mpesa: StartMpesa, response_type: str, status: str
) -> None:
    mpesa = start_mpesa(c2b_validation=True, c2b_validation_timeout_s=0.2)
    register(mpesa, response_type)
    mpesa.receiver.delays["/c2b/validate"] = 0.5

    tx = pay(mpesa, 60)

    assert mpesa.wait_final(tx["id"])["status"] == status
    confirmations = 1 if status == "succeeded" else 0
    wait_until(lambda: len(mpesa.receiver.bodies("/c2b/confirm")) == confirmations)
    [delivery] = [d for d in mpesa.deliveries() if d["url"].endswith("/c2b/validate")]
    assert delivery["attempts"][0]["error"] is not None


def test_a_validation_answering_500_counts_as_no_answer(start_mpesa: StartMpesa) -> None:
    mpesa = start_mpesa(c2b_validation=True)
    register(mpesa, "Cancelled")
    mpesa.receiver.answers["/c2b/validate"] = (500, {"oops": True})

    tx = pay(mpesa, 61)

    assert mpesa.wait_final(tx["id"])["result_code"] == "C2B00016"


def test_simulate_makes_a_customer_pay_buy_goods(mpesa: Mpesa) -> None:
    register(mpesa)
    body = {
        "ShortCode": 174379,
        "CommandID": "CustomerBuyGoodsOnline",
        "Amount": "45",
        "Msisdn": 254708374149,
        "BillRefNumber": "",
    }

    answer = mpesa.post(SIMULATE, body)

    assert answer.status_code == 200
    assert set(answer.json()) == {"OriginatorCoversationID", "ResponseCode", "ResponseDescription"}
    [confirmation] = mpesa.receiver.wait_for("/c2b/confirm")
    assert confirmation["TransactionType"] == "Buy Goods"
    assert confirmation["TransAmount"] == "45.00"


def test_simulate_v2_refuses_bad_command_and_shortcode(mpesa: Mpesa) -> None:
    body = {"ShortCode": 174379, "CommandID": "Pay", "Amount": 1, "Msisdn": APPROVES}
    assert (
        mpesa.post("/mpesa/c2b/v2/simulate", body)
        .json()["errorMessage"]
        .endswith("Invalid CommandID")
    )
    body |= {"CommandID": "CustomerPayBillOnline", "ShortCode": 600000}
    assert (
        mpesa.post("/mpesa/c2b/v2/simulate", body)
        .json()["errorMessage"]
        .endswith("Invalid ShortCode")
    )


def test_paying_a_separate_till_is_buy_goods_without_account(start_mpesa: StartMpesa) -> None:
    mpesa = start_mpesa(till_number="5432109")
    body = {
        "ShortCode": "5432109",
        "ResponseType": "Completed",
        "ConfirmationURL": mpesa.receiver.hook("/till/confirm"),
        "ValidationURL": mpesa.receiver.hook("/till/validate"),
    }
    assert mpesa.post(REGISTER_V1, body).status_code == 200

    pay(mpesa, 70, "ignored", shortcode="5432109")

    [confirmation] = mpesa.receiver.wait_for("/till/confirm")
    assert confirmation["TransactionType"] == "Buy Goods"
    assert confirmation["BusinessShortCode"] == "5432109"
    assert confirmation["BillRefNumber"] == ""


def test_hashed_msisdn_style(start_mpesa: StartMpesa) -> None:
    mpesa = start_mpesa(c2b_msisdn_style="hashed")
    register(mpesa)

    pay(mpesa, 10)

    [confirmation] = mpesa.receiver.wait_for("/c2b/confirm")
    assert re.fullmatch(r"[0-9a-f]{64}", confirmation["MSISDN"])


def test_payment_without_registered_urls_still_credits_the_float(
    start_mpesa: StartMpesa,
) -> None:
    mpesa = start_mpesa()
    before = mpesa.balance_minor()

    tx = pay(mpesa, 10)

    assert mpesa.wait_final(tx["id"])["status"] == "succeeded"
    assert mpesa.balance_minor() == before + 1_000
    assert mpesa.deliveries() == []


@pytest.mark.parametrize(
    "body",
    [
        {"msisdn": "0708000100", "amount": 10},
        {"msisdn": APPROVES, "amount": "10.5"},
        {"msisdn": APPROVES, "amount": 0},
        {"msisdn": APPROVES, "amount": 10, "shortcode": "600984"},
        {"msisdn": APPROVES, "amount": 10, "colour": "red"},
    ],
)
def test_sandbox_pay_refuses_bad_input_with_422(mpesa: Mpesa, body: dict[str, Any]) -> None:
    assert mpesa.http.post("/sandbox/c2b/pay", json=body).status_code == 422
