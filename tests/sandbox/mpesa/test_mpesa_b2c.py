"""B2C with SecurityCredential, result and queue-timeout callbacks."""

from __future__ import annotations

import base64
import re
from decimal import Decimal

import pytest
from tests.sandbox.mpesa.conftest import StartMpesa
from tests.sandbox.mpesa.mpesa_support import (
    AIRTEL_NUMBER,
    Mpesa,
    result_parameters,
    wait_until,
)

pytestmark = pytest.mark.mpesa

B2C_V3 = "/mpesa/b2c/v3/paymentrequest"
B2C_V1 = "/mpesa/b2c/v1/paymentrequest"
FEE_MINOR = 2_240


def test_payout_with_a_correct_credential_debits_amount_plus_fee_and_reports_it(
    mpesa: Mpesa,
) -> None:
    before = mpesa.balance_minor()
    body = mpesa.b2c_body(Amount=2000)

    ack = mpesa.post(B2C_V3, body)

    assert ack.status_code == 200
    assert ack.json()["ResponseCode"] == "0"
    assert ack.json()["OriginatorConversationID"] == body["OriginatorConversationID"]
    assert ack.json()["ConversationID"].startswith("AG_")
    [result] = mpesa.receiver.wait_for("/b2c/result")
    envelope = result["Result"]
    assert envelope["ResultCode"] == 0
    assert envelope["ResultType"] == 0
    assert envelope["ConversationID"] == ack.json()["ConversationID"]
    assert envelope["OriginatorConversationID"] == body["OriginatorConversationID"]
    params = result_parameters(result)
    assert set(params) == {
        "TransactionAmount",
        "TransactionReceipt",
        "ReceiverPartyPublicName",
        "TransactionCompletedDateTime",
        "B2CUtilityAccountAvailableFunds",
        "B2CWorkingAccountAvailableFunds",
        "B2CRecipientIsRegisteredCustomer",
        "B2CChargesPaidAccountAvailableFunds",
    }
    assert params["TransactionAmount"] == 2000
    assert params["TransactionReceipt"] == envelope["TransactionID"]
    assert params["ReceiverPartyPublicName"].startswith("254708374149 - ")
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d", params["TransactionCompletedDateTime"])
    after = before - 200_000 - FEE_MINOR
    assert Decimal(str(params["B2CUtilityAccountAvailableFunds"])) * 100 == after
    assert Decimal(str(params["B2CChargesPaidAccountAvailableFunds"])) == Decimal("-22.40")
    assert mpesa.balance_minor() == after
    tx = mpesa.wait_final(ack.json()["ConversationID"])
    assert tx["kind"] == "disbursement"
    assert tx["status"] == "succeeded"
    assert tx["fee_minor"] == FEE_MINOR
    assert tx["provider_id"] == params["TransactionReceipt"]
    assert tx["reference"] == body["OriginatorConversationID"]
    assert mpesa.transaction(body["OriginatorConversationID"])["id"] == tx["id"]


def test_v1_generates_the_originator_id(mpesa: Mpesa) -> None:
    body = mpesa.b2c_body()
    body.pop("OriginatorConversationID")

    ack = mpesa.post(B2C_V1, body)

    assert ack.status_code == 200
    assert ack.json()["OriginatorConversationID"]
    [result] = mpesa.receiver.wait_for("/b2c/result")
    assert result["Result"]["ResultCode"] == 0


def test_a_repeated_originator_id_is_a_duplicate_and_pays_once(mpesa: Mpesa) -> None:
    body = mpesa.b2c_body()
    assert mpesa.post(B2C_V3, body).status_code == 200

    again = mpesa.post(B2C_V3, body)

    assert again.status_code == 500
    assert again.json()["errorCode"] == "500.002.1001"
    assert again.json()["errorMessage"] == "Duplicate OriginatorConversationID"
    mpesa.receiver.wait_for("/b2c/result")
    assert len(mpesa.http.get("/sandbox/transactions", params={"kind": "disbursement"}).json()) == 1


@pytest.mark.parametrize(
    "credential",
    ["wrong-password", "base64-first", "garbage", "wrong-initiator"],
)
def test_a_wrong_security_credential_fails_with_2001_and_moves_nothing(
    mpesa: Mpesa, credential: str
) -> None:
    before = mpesa.balance_minor()
    changes = {
        "wrong-password": {"SecurityCredential": mpesa.credential("Sandbox#12345")},
        # daraja-sdk-py's variant: base64 the password before encrypting
        "base64-first": {
            "SecurityCredential": mpesa.credential(base64.b64encode(b"Sandbox#1234").decode())
        },
        "garbage": {"SecurityCredential": "not base64 at all!"},
        "wrong-initiator": {"InitiatorName": "someone_else"},
    }[credential]

    ack = mpesa.post(B2C_V3, mpesa.b2c_body(**changes))

    assert ack.status_code == 200  # checked asynchronously, as Daraja does
    [result] = mpesa.receiver.wait_for("/b2c/result")
    envelope = result["Result"]
    assert envelope["ResultCode"] == 2001
    assert "ResultParameters" not in envelope
    assert envelope["TransactionID"].endswith("0000000")
    tx = mpesa.wait_final(ack.json()["ConversationID"])
    assert (tx["status"], tx["result_code"], tx["fee_minor"]) == ("failed", "2001", 0)
    assert mpesa.balance_minor() == before


def test_repeated_wrong_credentials_lock_the_initiator(start_mpesa: StartMpesa) -> None:
    mpesa = start_mpesa(initiator_lock_after=2)
    for _ in range(2):
        mpesa.post(B2C_V3, mpesa.b2c_body(SecurityCredential=mpesa.credential("nope")))
    mpesa.receiver.wait_for("/b2c/result", 2)

    mpesa.post(B2C_V3, mpesa.b2c_body())

    results = mpesa.receiver.wait_for("/b2c/result", 3)
    assert [r["Result"]["ResultCode"] for r in results] == [2001, 2001, 8006]


def test_overdraft_fails_with_insufficient_balance_code_1(mpesa: Mpesa) -> None:
    assert mpesa.http.put("/sandbox/wallet", json={"balance_minor": 200_000}).status_code == 200

    ack = mpesa.post(B2C_V3, mpesa.b2c_body(Amount=2000))  # + 22.40 charge > 2000.00

    [result] = mpesa.receiver.wait_for("/b2c/result")
    assert result["Result"]["ResultCode"] == 1
    assert mpesa.wait_final(ack.json()["ConversationID"])["result_code"] == "1"
    assert mpesa.balance_minor() == 200_000


def test_a_held_float_fails_payouts_with_code_1_and_moves_no_money(mpesa: Mpesa) -> None:
    """``held_minor`` makes the float insufficient without changing the balance."""
    before = mpesa.balance_minor()
    held = mpesa.http.put("/sandbox/wallet", json={"held_minor": before - 100_000}).json()
    assert (held["balance_minor"], held["held_minor"]) == (before, before - 100_000)

    ack = mpesa.post(B2C_V3, mpesa.b2c_body(Amount=2000))

    assert mpesa.wait_final(ack.json()["ConversationID"])["result_code"] == "1"
    assert mpesa.balance_minor() == before
    mpesa.http.put("/sandbox/wallet", json={"held_minor": 0})
    again = mpesa.post(B2C_V3, mpesa.b2c_body(Amount=2000))
    assert mpesa.wait_final(again.json()["ConversationID"])["result_code"] == "0"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"Amount": 5}, 2),
        ({"Amount": 250_001}, 3),
        ({"PartyB": int(AIRTEL_NUMBER)}, "SFC_IC0003"),
        ({"PartyA": 600992}, 21),
    ],
)
def test_limits_recipient_and_shortcode_are_checked_in_the_result(
    mpesa: Mpesa, changes: dict[str, int], code: int | str
) -> None:
    mpesa.post(B2C_V3, mpesa.b2c_body(**changes))

    [result] = mpesa.receiver.wait_for("/b2c/result")
    assert result["Result"]["ResultCode"] == code


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"CommandID": "Payout"}, "CommandID"),
        ({"Amount": 10.5}, "Amount"),
        ({"PartyB": "0708374149"}, "PartyB"),
        ({"Remarks": "x"}, "Remarks"),
        ({"ResultURL": "https://merchant.example/safaricom/result"}, "ResultURL"),
        ({"QueueTimeOutURL": 42}, "QueueTimeOutURL"),
        ({"OriginatorConversationID": ""}, "OriginatorConversationID"),
        ({"SecurityCredential": None}, "SecurityCredential"),
    ],
)
def test_malformed_b2c_requests_are_refused_synchronously(
    mpesa: Mpesa, changes: dict[str, object], field: str
) -> None:
    body = mpesa.b2c_body(**changes)
    body = {k: v for k, v in body.items() if v is not None}

    answer = mpesa.post(B2C_V3, body)

    assert answer.status_code == 400
    assert answer.json()["errorMessage"] == f"Bad Request - Invalid {field}"


def test_queue_timeout_goes_to_the_timeout_url_and_status_tells_the_truth(
    mpesa: Mpesa,
) -> None:
    mpesa.faults(queue_timeout_rate=1.0)
    before = mpesa.balance_minor()
    acks = [mpesa.post(B2C_V3, mpesa.b2c_body(Amount=100)).json() for _ in range(6)]

    notices = mpesa.receiver.wait_for("/b2c/timeout", 6)
    finals = [mpesa.wait_final(ack["ConversationID"]) for ack in acks]

    assert mpesa.receiver.bodies("/b2c/result") == []
    assert {n["Result"]["ResultCode"] for n in notices} == {100000001}
    assert {n["Result"]["ConversationID"] for n in notices} == {a["ConversationID"] for a in acks}
    paid = [tx for tx in finals if tx["status"] == "succeeded"]
    assert {tx["status"] for tx in finals} == {"succeeded", "expired"}  # seeded: both happen
    assert mpesa.balance_minor() == before - len(paid) * (10_000 + FEE_MINOR)
    assert mpesa.injected()["queue_timeout"] == 6


def test_result_callback_url_failing_is_not_retried_by_default(mpesa: Mpesa) -> None:
    mpesa.receiver.answers["/b2c/result"] = (503, {})

    ack = mpesa.post(B2C_V3, mpesa.b2c_body()).json()

    mpesa.receiver.wait_for("/b2c/result")
    mpesa.wait_final(ack["ConversationID"])
    log = wait_until(lambda: [d for d in mpesa.deliveries() if d["attempts"]])
    assert [len(d["attempts"]) for d in log] == [1]
    assert log[0]["delivered"] is False
