"""STK push, its callback and query, with the simulated customers."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tests.sandbox.mpesa.conftest import StartMpesa
from tests.sandbox.mpesa.mpesa_support import (
    AIRTEL_NUMBER,
    APPROVES,
    CANCELS,
    NO_FUNDS,
    SILENT,
    WRONG_PIN,
    Mpesa,
    callback_items,
    stk_password,
)

from qmoi_sandbox.mpesa.records import NAIROBI

pytestmark = pytest.mark.mpesa

PUSH = "/mpesa/stkpush/v1/processrequest"
QUERY = "/mpesa/stkpushquery/v1/query"


def test_the_doc_test_vector_is_the_published_sandbox_password() -> None:
    expected = (
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkx"
        "OTIwMTYwMjE2MTY1NjI3"
    )
    assert stk_password("20160216165627") == expected
    assert base64.b64decode(expected).startswith(b"174379")


def test_paybill_push_to_an_approving_customer_credits_the_float_and_calls_back(
    mpesa: Mpesa,
) -> None:
    before = mpesa.balance_minor()

    ack = mpesa.push(APPROVES, 150)

    assert ack["ResponseCode"] == "0"
    assert ack["ResponseDescription"] == "Success. Request accepted for processing"
    assert ack["CheckoutRequestID"].startswith("ws_CO_")
    [body] = mpesa.receiver.wait_for("/lnm")
    callback = body["Body"]["stkCallback"]
    assert callback["CheckoutRequestID"] == ack["CheckoutRequestID"]
    assert callback["MerchantRequestID"] == ack["MerchantRequestID"]
    assert callback["ResultCode"] == 0
    items = callback_items(body)
    assert Decimal(str(items["Amount"])) == 150
    assert isinstance(items["Amount"], float)
    assert re.fullmatch(r"[A-Z0-9]{10}", items["MpesaReceiptNumber"])
    assert isinstance(items["TransactionDate"], int)
    assert len(str(items["TransactionDate"])) == 14
    assert items["PhoneNumber"] == int(APPROVES)
    tx = mpesa.wait_final(ack["CheckoutRequestID"])
    assert tx["status"] == "succeeded"
    assert tx["kind"] == "collection"
    assert tx["provider_id"] == items["MpesaReceiptNumber"]
    assert tx["amount_minor"] == 15_000
    assert tx["reference"] == "AIR000042"
    assert mpesa.balance_minor() == before + 15_000


def test_till_push_buy_goods_succeeds_on_the_sandbox_shortcode(mpesa: Mpesa) -> None:
    ack = mpesa.push(APPROVES, 99, TransactionType="CustomerBuyGoodsOnline")

    [body] = mpesa.receiver.wait_for("/lnm")
    assert body["Body"]["stkCallback"]["ResultCode"] == 0
    assert mpesa.wait_final(ack["CheckoutRequestID"])["status"] == "succeeded"


def test_till_push_to_a_configured_till_needs_the_till_number_as_party_b(
    start_mpesa: StartMpesa,
) -> None:
    mpesa = start_mpesa(till_number="5432109")
    good = mpesa.push(APPROVES, 10, TransactionType="CustomerBuyGoodsOnline", PartyB=5432109)
    wrong = mpesa.push(CANCELS, 10, TransactionType="CustomerBuyGoodsOnline", PartyB=174379)

    assert mpesa.wait_final(good["CheckoutRequestID"])["status"] == "succeeded"
    refused = mpesa.wait_final(wrong["CheckoutRequestID"])
    assert refused["status"] == "failed"
    assert refused["result_code"] == "2028"


@pytest.mark.parametrize(
    ("phone", "code", "status"),
    [
        (APPROVES, 0, "succeeded"),
        (CANCELS, 1032, "failed"),
        (SILENT, 1037, "expired"),
        (NO_FUNDS, 1, "failed"),
        (WRONG_PIN, 2001, "failed"),
    ],
)
def test_each_test_number_has_its_fixed_outcome(
    mpesa: Mpesa, phone: str, code: int, status: str
) -> None:
    before = mpesa.balance_minor()
    ack = mpesa.push(phone, 75)

    [body] = mpesa.receiver.wait_for("/lnm")
    callback = body["Body"]["stkCallback"]
    assert callback["ResultCode"] == code
    assert ("CallbackMetadata" in callback) == (code == 0)
    tx = mpesa.wait_final(ack["CheckoutRequestID"])
    assert tx["status"] == status
    assert tx["result_code"] == str(code)
    assert mpesa.balance_minor() == before + (7_500 if code == 0 else 0)


def test_a_number_of_another_network_is_never_reached(mpesa: Mpesa) -> None:
    ack = mpesa.push(AIRTEL_NUMBER, 20)

    assert mpesa.wait_final(ack["CheckoutRequestID"])["result_code"] == "1037"


def test_customers_created_with_a_rate_answer_accordingly(mpesa: Mpesa) -> None:
    happy = mpesa.http.post("/sandbox/customers", json={"count": 3, "approve_rate": 1.0})
    grumpy = mpesa.http.post("/sandbox/customers", json={"count": 3, "approve_rate": 0.0})
    acks = {
        msisdn: mpesa.push(msisdn, 40 + i)["CheckoutRequestID"]
        for i, msisdn in enumerate(happy.json()["msisdns"] + grumpy.json()["msisdns"])
    }

    outcomes = {msisdn: mpesa.wait_final(checkout) for msisdn, checkout in acks.items()}
    for msisdn in happy.json()["msisdns"]:
        assert outcomes[msisdn]["status"] == "succeeded"
    for msisdn in grumpy.json()["msisdns"]:
        assert outcomes[msisdn]["status"] in ("failed", "expired")
        assert outcomes[msisdn]["result_code"] in {"1", "1019", "1032", "1037", "2001"}


def test_the_same_seed_and_requests_give_the_same_outcomes(start_mpesa: StartMpesa) -> None:
    def run() -> list[str | None]:
        mpesa = start_mpesa(seed=99, customer_delay_s=(1.0, 1.0))
        msisdns = mpesa.http.post("/sandbox/customers", json={"count": 8, "approve_rate": 0.5})
        checkouts = [mpesa.push(m, 30)["CheckoutRequestID"] for m in msisdns.json()["msisdns"]]
        return [mpesa.wait_final(c)["result_code"] for c in checkouts]

    first, second = run(), run()
    assert first == second
    assert len(set(first)) > 1


def test_wrong_password_is_refused_with_wrong_credentials(mpesa: Mpesa) -> None:
    body = mpesa.stk_body(Password=stk_password("20160216165627"))  # another timestamp

    answer = mpesa.post(PUSH, body)

    assert answer.status_code == 500
    assert answer.json()["errorCode"] == "500.001.1001"
    assert answer.json()["errorMessage"] == "Wrong credentials"
    assert mpesa.http.get("/sandbox/transactions").json() == []


def test_wrong_passkey_is_refused_and_another_shortcode_is_an_unknown_merchant(
    mpesa: Mpesa,
) -> None:
    stamp = "20260101093015"
    wrong_key = mpesa.stk_body(Timestamp=stamp, Password=stk_password(stamp, passkey="x" * 64))
    other = mpesa.stk_body(
        BusinessShortCode=600984, Timestamp=stamp, Password=stk_password(stamp, "600984")
    )

    assert mpesa.post(PUSH, wrong_key).json()["errorMessage"] == "Wrong credentials"
    answer = mpesa.post(PUSH, other)
    assert answer.status_code == 500
    assert answer.json()["errorMessage"] == "Merchant does not exist"


def test_a_second_push_while_the_prompt_is_open_cannot_lock_the_subscriber(
    mpesa: Mpesa,
) -> None:
    mpesa.push(SILENT, 10)

    answer = mpesa.post(PUSH, mpesa.stk_body(SILENT, 11))

    assert answer.status_code == 500
    assert answer.json()["errorCode"] == "500.001.1001"
    assert answer.json()["errorMessage"].startswith("Unable to lock subscriber")


def test_same_amount_to_the_same_customer_within_two_minutes_is_rule_limited(
    mpesa: Mpesa,
) -> None:
    first = mpesa.push(APPROVES, 500)
    mpesa.wait_final(first["CheckoutRequestID"])

    second = mpesa.push(APPROVES, 500)
    other_amount = mpesa.push(CANCELS, 500)

    assert mpesa.wait_final(second["CheckoutRequestID"])["result_code"] == "17"
    assert mpesa.wait_final(other_amount["CheckoutRequestID"])["result_code"] == "1032"


def test_query_says_being_processed_until_the_customer_answers_then_string_codes(
    start_mpesa: StartMpesa,
) -> None:
    mpesa = start_mpesa(stk_timeout_s=3_000)  # the silent phone gives up after 3 s real
    open_prompt = mpesa.push(SILENT, 10)
    pending = mpesa.post(QUERY, mpesa.query_body(open_prompt["CheckoutRequestID"]))
    assert pending.status_code == 500
    assert pending.json()["errorCode"] == "500.001.1001"
    assert pending.json()["errorMessage"] == "The transaction is being processed"

    cancelled = mpesa.push(CANCELS, 10)
    mpesa.wait_final(cancelled["CheckoutRequestID"])
    final = mpesa.post(QUERY, mpesa.query_body(cancelled["CheckoutRequestID"]))

    assert final.status_code == 200
    assert final.json() == {
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successfully",
        "MerchantRequestID": cancelled["MerchantRequestID"],
        "CheckoutRequestID": cancelled["CheckoutRequestID"],
        "ResultCode": "1032",
        "ResultDesc": "Request cancelled by user",
    }


def test_query_checks_password_and_checkout_id(mpesa: Mpesa) -> None:
    ack = mpesa.push(APPROVES, 12)
    mpesa.wait_final(ack["CheckoutRequestID"])
    success = mpesa.post(QUERY, mpesa.query_body(ack["CheckoutRequestID"])).json()
    assert success["ResultCode"] == "0"

    unknown = mpesa.post(QUERY, mpesa.query_body("ws_CO_000000000000000000"))
    assert unknown.status_code == 400
    assert unknown.json()["errorMessage"] == "Bad Request - Invalid CheckoutRequestID"
    body = mpesa.query_body(ack["CheckoutRequestID"]) | {"Password": "bm9wZQ=="}
    assert mpesa.post(QUERY, body).json()["errorMessage"] == "Wrong credentials"


def test_numbers_may_come_as_numeric_strings(mpesa: Mpesa) -> None:
    body = mpesa.stk_body(
        APPROVES,
        "150",
        BusinessShortCode="174379",
        PartyA=APPROVES,
        PartyB="174379",
        PhoneNumber=APPROVES,
    )

    assert mpesa.post(PUSH, body).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"BusinessShortCode": None}, "BusinessShortCode"),
        ({"BusinessShortCode": "17a379"}, "BusinessShortCode"),
        ({"Timestamp": "2026-01-01 09:30"}, "Timestamp"),
        ({"Timestamp": "20261301093015"}, "Timestamp"),
        ({"TransactionType": "CustomerPayBill"}, "TransactionType"),
        ({"Amount": 150.5}, "Amount"),
        ({"Amount": "12.50"}, "Amount"),
        ({"Amount": 0}, "Amount"),
        ({"Amount": 250_001}, "Amount"),
        ({"Amount": True}, "Amount"),
        ({"Amount": [150]}, "Amount"),
        ({"PartyA": 708374149}, "PartyA"),
        ({"PhoneNumber": "+254708374149"}, "PhoneNumber"),
        ({"CallBackURL": "not a url"}, "CallBackURL"),
        ({"CallBackURL": "https://merchant.example/api/mpesa/callback"}, "CallBackURL"),
        ({"CallBackURL": "https://merchant.example/hooks/QUERY/1"}, "CallBackURL"),
        ({"AccountReference": "ACCOUNT-REF-TOO-LONG"}, "AccountReference"),
        ({"AccountReference": None}, "AccountReference"),
        ({"TransactionDesc": "a description that is too long"}, "TransactionDesc"),
        ({"Password": ["x"]}, "Password"),
    ],
)
def test_malformed_fields_get_invalid_field_errors(
    mpesa: Mpesa, change: dict[str, Any], field: str
) -> None:
    body = mpesa.stk_body()
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value

    answer = mpesa.post(PUSH, body)

    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "400.002.02"
    assert answer.json()["errorMessage"] == f"Bad Request - Invalid {field}"


def test_url_rules_can_be_switched_off(start_mpesa: StartMpesa) -> None:
    mpesa = start_mpesa(enforce_url_rules=False)
    hook = mpesa.receiver.hook("/mpesa/callback")

    ack = mpesa.push(APPROVES, 5, CallBackURL=hook)

    mpesa.receiver.wait_for("/mpesa/callback")
    assert mpesa.wait_final(ack["CheckoutRequestID"])["status"] == "succeeded"


def test_transaction_desc_is_optional(mpesa: Mpesa) -> None:
    body = mpesa.stk_body()
    body.pop("TransactionDesc")

    assert mpesa.post(PUSH, body).status_code == 200


PULL = "/pulltransactions/v1/query"


def _pull_window(mpesa: Mpesa, offset: int = 0, **changes: Any) -> dict[str, Any]:
    now = mpesa.state.now().astimezone(NAIROBI)
    body = {
        "ShortCode": "174379",
        "StartDate": (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "EndDate": (now + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "OffSetValue": str(offset),
        **changes,
    }
    answer = mpesa.post(PULL, body)
    result: dict[str, Any] = answer.json()
    result["_status"] = answer.status_code
    return result


def test_pull_transactions_lists_completed_payments_only_within_the_window(
    mpesa: Mpesa,
) -> None:
    """The statement a merchant reads when a push's answer and callback were both lost
    (unconfirmed shape): paid pushes with their receipts, never declined ones."""
    paid = mpesa.wait_final(mpesa.push(APPROVES, 150)["CheckoutRequestID"])
    declined = mpesa.wait_final(mpesa.push(CANCELS, 90)["CheckoutRequestID"])
    assert declined["status"] == "failed"

    page = _pull_window(mpesa)
    assert page["_status"] == 200
    assert page["ResponseCode"] == "1000"
    (line,) = page["Response"][0]
    assert line["transactionId"] == paid["provider_id"]
    assert line["msisdn"] == int(APPROVES)
    assert Decimal(line["amount"]) == 150
    assert datetime.fromisoformat(line["trxDate"]).utcoffset() == timedelta(hours=3)

    assert _pull_window(mpesa, offset=1)["Response"] == [[]]
    later = (mpesa.state.now() + timedelta(hours=2)).astimezone(NAIROBI)
    assert _pull_window(mpesa, StartDate=later.strftime("%Y-%m-%d %H:%M:%S"))["_status"] == 400
    assert _pull_window(mpesa, StartDate="yesterday")["errorMessage"].endswith("StartDate")
