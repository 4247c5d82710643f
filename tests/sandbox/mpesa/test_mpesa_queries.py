"""Account balance, Transaction Status and Reversal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests.sandbox.mpesa.mpesa_support import APPROVES, CANCELS, Mpesa, result_parameters

pytestmark = pytest.mark.mpesa

BALANCE = "/mpesa/accountbalance/v1/query"
STATUS = "/mpesa/transactionstatus/v1/query"
REVERSAL = "/mpesa/reversal/v1/request"
B2C = "/mpesa/b2c/v3/paymentrequest"


def accounts(balance_string: str) -> dict[str, list[str]]:
    """``name|currency|available|…`` accounts separated by ``&``."""
    return {
        fields[0]: fields[1:]
        for fields in (account.split("|") for account in balance_string.split("&"))
    }


def status_query(mpesa: Mpesa, **fields: Any) -> dict[str, Any]:
    body = mpesa.initiator_body("TransactionStatusQuery", Occasion="", **fields)
    ack = mpesa.post(STATUS, body)
    assert ack.status_code == 200, ack.text
    conversation = ack.json()["ConversationID"]
    results = mpesa.receiver.wait_for("/ops/result")
    [mine] = [r for r in results if r["Result"]["ConversationID"] == conversation]
    mpesa.receiver.clear()
    result: dict[str, Any] = mine
    return result


def collect(mpesa: Mpesa, amount: int = 150, phone: str = APPROVES) -> dict[str, Any]:
    ack = mpesa.push(phone, amount)
    return mpesa.wait_final(ack["CheckoutRequestID"])


def test_account_balance_reports_the_float_in_the_utility_account(mpesa: Mpesa) -> None:
    mpesa.http.put("/sandbox/wallet", json={"balance_minor": 12_345_678})

    ack = mpesa.post(BALANCE, mpesa.initiator_body("AccountBalance"))

    assert ack.status_code == 200
    assert set(ack.json()) == {
        "OriginatorConversationID",
        "ConversationID",
        "ResponseCode",
        "ResponseDescription",
    }
    [result] = mpesa.receiver.wait_for("/ops/result")
    assert result["Result"]["ResultCode"] == "0"  # a string in Daraja's balance sample
    params = result_parameters(result)
    assert len(str(params["BOCompletedTime"])) == 14
    book = accounts(params["AccountBalance"])
    assert book["Utility Account"] == ["KES", "123456.78", "123456.78", "0.00", "0.00"]
    assert {"Working Account", "Charges Paid Account"} <= set(book)


def test_account_balance_with_a_wrong_credential_fails_2001(mpesa: Mpesa) -> None:
    body = mpesa.initiator_body("AccountBalance", SecurityCredential=mpesa.credential("x"))

    mpesa.post(BALANCE, body)

    [result] = mpesa.receiver.wait_for("/ops/result")
    assert result["Result"]["ResultCode"] == 2001
    assert "ResultParameters" not in result["Result"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"CommandID": "Balance"}, "CommandID"),
        ({"IdentifierType": "9"}, "IdentifierType"),
        ({"Initiator": ""}, "Initiator"),
        ({"ResultURL": "https://merchant.example/cmd/result"}, "ResultURL"),
    ],
)
def test_malformed_balance_requests_are_refused(
    mpesa: Mpesa, changes: dict[str, str], field: str
) -> None:
    answer = mpesa.post(BALANCE, mpesa.initiator_body("AccountBalance", **changes))

    assert answer.status_code == 400
    assert answer.json()["errorMessage"] == f"Bad Request - Invalid {field}"


def test_status_by_receipt_of_an_stk_payment(mpesa: Mpesa) -> None:
    tx = collect(mpesa, 150)

    result = status_query(mpesa, TransactionID=tx["provider_id"])

    assert result["Result"]["ResultCode"] == 0
    params = result_parameters(result)
    assert params["TransactionStatus"] == "Completed"
    assert params["ReceiptNo"] == tx["provider_id"]
    assert Decimal(str(params["Amount"])) == 150
    assert params["CreditPartyName"].startswith("174379 - ")
    assert params["DebitPartyName"].startswith(APPROVES)
    assert params["ReasonType"] == "Pay Bill Online"


def test_status_by_original_conversation_id_resolves_a_b2c(mpesa: Mpesa) -> None:
    body = mpesa.b2c_body(Amount=500)
    ack = mpesa.post(B2C, body).json()
    mpesa.wait_final(ack["ConversationID"])
    mpesa.receiver.wait_for("/b2c/result")

    result = status_query(mpesa, OriginalConversationID=body["OriginatorConversationID"])

    params = result_parameters(result)
    assert params["TransactionStatus"] == "Completed"
    assert params["OriginatorConversationID"] == body["OriginatorConversationID"]
    assert params["ConversationID"] == ack["ConversationID"]
    assert params["DebitPartyCharges"] == "Fee For B2C Payment|KES|22.40"
    assert params["ReasonType"] == "Business Payment to Customer via API"


def test_status_of_a_failed_payment_and_of_nothing(mpesa: Mpesa) -> None:
    failed = collect(mpesa, 33, CANCELS)

    result = status_query(mpesa, TransactionID=failed["id"])
    assert result_parameters(result)["TransactionStatus"] == "Failed"

    missing = status_query(mpesa, TransactionID="UAB1234567")
    assert missing["Result"]["ResultCode"] == 25
    assert "ResultParameters" not in missing["Result"]


def test_status_needs_a_transaction_or_conversation_id(mpesa: Mpesa) -> None:
    body = mpesa.initiator_body("TransactionStatusQuery")

    answer = mpesa.post(STATUS, body)

    assert answer.status_code == 400
    assert answer.json()["errorMessage"] == "Bad Request - Invalid TransactionID"


def test_enquiry_pending_fault_makes_status_say_pending(mpesa: Mpesa) -> None:
    tx = collect(mpesa, 44)
    mpesa.faults(enquiry_pending_s=3_600)

    result = status_query(mpesa, TransactionID=tx["provider_id"])

    params = result_parameters(result)
    assert params["TransactionStatus"] == "Pending"
    assert params["ReceiptNo"] is None
    assert mpesa.injected()["enquiry_pending"] == 1


def test_reversal_of_a_c2b_payment_debits_the_float_once(mpesa: Mpesa) -> None:
    paid = mpesa.http.post(
        "/sandbox/c2b/pay", json={"msisdn": APPROVES, "amount": 150, "bill_ref_number": "X"}
    ).json()
    receipt = mpesa.wait_final(paid["id"])["provider_id"]
    before = mpesa.balance_minor()
    body = mpesa.initiator_body(
        "TransactionReversal",
        TransactionID=receipt,
        Amount=150,
        ReceiverParty=174379,
        RecieverIdentifierType="11",
    )
    body.pop("PartyA")
    body.pop("IdentifierType")

    ack = mpesa.post(REVERSAL, body)

    assert ack.status_code == 200
    [result] = mpesa.receiver.wait_for("/ops/result")
    assert result["Result"]["ResultCode"] == 0
    params = result_parameters(result)
    assert params["OriginalTransactionID"] == receipt
    assert Decimal(str(params["Amount"])) == 150
    assert params["DebitAccountBalance"].startswith("Utility Account|KES|")
    assert mpesa.balance_minor() == before - 15_000
    reversal = mpesa.wait_final(ack.json()["ConversationID"])
    assert (reversal["kind"], reversal["status"], reversal["reference"]) == (
        "reversal",
        "succeeded",
        receipt,
    )
    assert reversal["msisdn"] == APPROVES

    mpesa.receiver.clear()
    mpesa.post(REVERSAL, body)
    [again] = mpesa.receiver.wait_for("/ops/result")
    assert again["Result"]["ResultCode"] == "R000001"
    assert mpesa.balance_minor() == before - 15_000


def test_reversal_of_an_unknown_receipt_is_r000002_as_a_string(mpesa: Mpesa) -> None:
    body = mpesa.initiator_body(
        "TransactionReversal",
        TransactionID="UAB0000000",
        Amount=150,
        ReceiverParty=174379,
        RecieverIdentifierType="11",
    )

    mpesa.post(REVERSAL, body)

    [result] = mpesa.receiver.wait_for("/ops/result")
    assert result["Result"]["ResultCode"] == "R000002"
    assert "ResultParameters" not in result["Result"]


def test_reversal_of_the_wrong_amount_or_with_a_bad_credential_fails(mpesa: Mpesa) -> None:
    receipt = collect(mpesa, 150)["provider_id"]
    base = mpesa.initiator_body(
        "TransactionReversal",
        TransactionID=receipt,
        Amount=149,
        ReceiverParty=174379,
        RecieverIdentifierType="11",
    )

    mpesa.post(REVERSAL, base)
    mpesa.post(REVERSAL, base | {"Amount": 150, "SecurityCredential": mpesa.credential("bad")})

    results = mpesa.receiver.wait_for("/ops/result", 2)
    assert sorted(str(r["Result"]["ResultCode"]) for r in results) == ["2001", "25"]
