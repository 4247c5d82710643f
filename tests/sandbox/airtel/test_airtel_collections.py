"""USSD push, the simulated subscriber, callbacks, enquiry and refund."""

from __future__ import annotations

import time

import pytest
from tests.sandbox.airtel.airtel_support import (
    APPROVES,
    DECLINES,
    NO_FUNDS,
    SILENT,
    SLOW,
    WRONG_PIN,
    callback_hmac,
    compact,
    new_id,
)

pytestmark = pytest.mark.airtel


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("slash", ["/", ""])
def test_ussd_push_is_accepted_as_in_process_not_paid(airtel, version, slash):
    txn_id = new_id("col")
    body = airtel.push_body(APPROVES, 150, txn_id)

    answer = airtel.http.post(
        f"/merchant/v{version}/payments{slash}", json=body, headers=airtel.headers()
    )

    assert answer.status_code == 200
    assert answer.json() == {
        "data": {"transaction": {"id": txn_id, "status": "SUCCESS"}},
        "status": {
            "code": "200",
            "message": "SUCCESS",
            "result_code": "ESB000010",
            "response_code": "DP00800001006",
            "success": True,
        },
    }
    txn = airtel.transaction(txn_id)
    assert txn["status"] in ("pending", "succeeded")
    assert txn["kind"] == "collection"
    assert txn["msisdn"] == "254733000100"
    assert txn["amount_minor"] == 15000
    assert txn["amount"] == "150.00"
    assert txn["sandbox"] is True


def test_approved_push_credits_the_wallet_and_calls_back_ts_with_the_money_id(airtel_cb, receiver):
    before = airtel_cb.wallet_minor()
    txn_id = new_id("col")

    airtel_cb.push(APPROVES, 150, txn_id)

    [callback] = receiver.wait_for(txn_id)
    txn = airtel_cb.wait_final(txn_id)
    assert txn["status"] == "succeeded"
    assert txn["result_code"] == "DP00800001001"
    assert txn["provider_id"].startswith("MP")
    assert list(callback) == ["transaction"]
    assert list(callback["transaction"]) == ["id", "message", "status_code", "airtel_money_id"]
    assert callback["transaction"]["id"] == txn_id
    assert callback["transaction"]["status_code"] == "TS"
    assert callback["transaction"]["airtel_money_id"] == txn["provider_id"]
    assert "KES 150.00" in callback["transaction"]["message"]
    assert airtel_cb.wallet_minor() == before + 15000


@pytest.mark.parametrize("scope", ["outer", "inner"])
def test_callback_carries_the_documented_hmac_hash_when_callback_auth_is_on(
    start_airtel, receiver, scope
):
    airtel = start_airtel(
        callback_url=receiver.url,
        callback_auth=True,
        callback_key="my-callback-private-key",
        hash_scope=scope,
    )
    txn_id = new_id("col")
    airtel.push(APPROVES, 100, txn_id)

    [callback] = receiver.wait_for(txn_id)
    assert list(callback) == ["transaction", "hash"]
    transaction = callback["transaction"]
    signed = compact({"transaction": transaction}) if scope == "outer" else compact(transaction)
    assert callback["hash"] == callback_hmac(signed, "my-callback-private-key")
    assert len(callback["hash"]) == 44


def test_callback_has_no_hash_when_callback_auth_is_off(airtel_cb, receiver):
    txn_id = new_id("col")
    airtel_cb.push(APPROVES, 100, txn_id)
    assert "hash" not in receiver.wait_for(txn_id)[0]


@pytest.mark.parametrize(
    ("msisdn", "result_code"),
    [
        (DECLINES, "DP00800001008"),
        (SILENT, "DP00800001024"),
        (NO_FUNDS, "DP00800001007"),
        (WRONG_PIN, "DP00800001002"),
    ],
    ids=["declines", "never-answers", "lacks-funds", "wrong-pin"],
)
def test_each_failing_test_number_ends_tf_with_its_real_reason_and_no_money(
    airtel_cb, receiver, msisdn, result_code
):
    before = airtel_cb.wallet_minor()
    txn_id = new_id("col")

    accepted = airtel_cb.push(msisdn, 500, txn_id)

    assert accepted.json()["status"]["response_code"] == "DP00800001006"
    [callback] = receiver.wait_for(txn_id)
    assert callback["transaction"]["id"] == txn_id
    assert callback["transaction"]["status_code"] == "TF"
    assert "airtel_money_id" not in callback["transaction"]
    txn = airtel_cb.wait_final(txn_id)
    assert (txn["status"], txn["result_code"], txn["provider_id"]) == ("failed", result_code, None)
    enquiry = airtel_cb.enquiry(txn_id).json()
    assert enquiry["data"]["transaction"]["status"] == "TF"
    assert enquiry["status"]["response_code"] == result_code
    assert airtel_cb.wallet_minor() == before


def test_the_approving_test_number_always_approves(airtel):
    ids = [new_id("col") for _ in range(5)]
    for txn_id in ids:
        airtel.push(APPROVES, 10, txn_id)
    assert {airtel.wait_final(txn_id)["status"] for txn_id in ids} == {"succeeded"}


def test_a_silent_phone_stays_pending_until_the_prompt_times_out(start_airtel):
    airtel = start_airtel(**SLOW)  # the prompt times out after 0.5 s real
    txn_id = new_id("col")
    airtel.push(SILENT, 10, txn_id)

    time.sleep(0.1)
    assert airtel.transaction(txn_id)["status"] == "pending"
    assert airtel.wait_final(txn_id)["result_code"] == "DP00800001024"


def test_enquiry_answers_tip_while_the_customer_decides_then_ts(start_airtel):
    airtel = start_airtel(**SLOW)  # answers after 0.3 s real
    txn_id = new_id("col")
    airtel.push(APPROVES, 150, txn_id)

    pending = airtel.enquiry(txn_id)
    assert pending.status_code == 200
    assert pending.json()["data"] == {
        "transaction": {"id": txn_id, "message": "Transaction in progress", "status": "TIP"}
    }
    assert pending.json()["status"]["response_code"] == "DP00800001006"

    txn = airtel.wait_final(txn_id)
    done = airtel.enquiry(txn_id).json()
    assert done["data"]["transaction"] == {
        "airtel_money_id": txn["provider_id"],
        "id": txn_id,
        "message": "success",
        "status": "TS",
    }
    assert done["status"]["response_code"] == "DP00800001001"
    assert done["status"]["result_code"] == "ESB000010"


def test_enquiry_of_an_unknown_id_says_transaction_not_found(airtel):
    answer = airtel.enquiry("never-sent")

    assert answer.status_code == 200
    status = answer.json()["status"]
    assert status["response_code"] == "DP00800001025"
    assert status["result_code"] == "ESB000045"
    assert status["success"] is False


def test_reused_transaction_id_is_rejected_with_esb000041_and_not_executed_twice(
    airtel_cb, receiver
):
    txn_id = new_id("col")
    first = airtel_cb.push(APPROVES, 150, txn_id)
    receiver.wait_for(txn_id)
    before = airtel_cb.wallet_minor()

    again = airtel_cb.push(APPROVES, 150, txn_id)

    assert first.json()["status"]["success"] is True
    assert again.status_code == 200
    status = again.json()["status"]
    assert status["result_code"] == "ESB000041"
    assert status["success"] is False
    assert status["code"] == "400"
    time.sleep(0.1)
    assert len(airtel_cb.sandbox("GET", "/transactions", params={"kind": "collection"})) == 1
    assert len(receiver.for_id(txn_id)) == 1
    assert airtel_cb.wallet_minor() == before


def test_reused_id_is_rejected_even_while_the_first_attempt_is_pending(start_airtel):
    airtel = start_airtel(**SLOW)
    txn_id = new_id("col")
    airtel.push(APPROVES, 150, txn_id)
    assert airtel.push(APPROVES, 150, txn_id).json()["status"]["result_code"] == "ESB000041"


def test_a_failed_id_cannot_be_reused_either(airtel):
    txn_id = new_id("col")
    airtel.push(DECLINES, 150, txn_id)
    airtel.wait_final(txn_id)
    assert airtel.push(APPROVES, 150, txn_id).json()["status"]["result_code"] == "ESB000041"


def test_refund_of_a_paid_collection_returns_the_money_once(airtel):
    txn_id = new_id("col")
    airtel.push(APPROVES, 150, txn_id)
    paid = airtel.wait_final(txn_id)
    before = airtel.wallet_minor()
    body = {"transaction": {"airtel_money_id": paid["provider_id"]}}

    answer = airtel.http.post("/standard/v1/payments/refund", json=body, headers=airtel.headers())

    assert answer.status_code == 200
    refund = answer.json()
    assert refund["data"]["transaction"]["status"] == "SUCCESS"
    refund_id = refund["data"]["transaction"]["airtel_money_id"]
    assert refund_id.startswith("CI")
    assert refund["status"]["response_code"] == "DP00800001006"
    assert refund["status"]["result_code"] == "ESB000010"
    assert airtel.wallet_minor() == before - 15000
    record = airtel.transaction(refund_id)
    assert (record["kind"], record["status"], record["amount_minor"]) == (
        "refund",
        "succeeded",
        15000,
    )
    assert record["msisdn"] == "254733000100"

    twice = airtel.http.post("/standard/v1/payments/refund", json=body, headers=airtel.headers())
    assert twice.json()["status"]["success"] is False
    assert twice.json()["status"]["response_code"] == "DP00800001008"
    assert airtel.wallet_minor() == before - 15000


def test_refund_of_an_unknown_or_failed_collection_is_not_found(airtel):
    txn_id = new_id("col")
    airtel.push(DECLINES, 150, txn_id)
    airtel.wait_final(txn_id)
    for money_id in ("MP000000.0000.A99999", txn_id):
        body = {"transaction": {"airtel_money_id": money_id}}
        answer = airtel.http.post(
            "/standard/v1/payments/refund", json=body, headers=airtel.headers()
        )
        assert answer.json()["status"]["response_code"] == "DP00800001025"
        assert answer.json()["status"]["result_code"] == "ESB000045"


def test_refund_with_a_short_wallet_is_refused(airtel):
    txn_id = new_id("col")
    airtel.push(APPROVES, 150, txn_id)
    paid = airtel.wait_final(txn_id)
    airtel.sandbox("PUT", "/wallet", json={"balance_minor": 100})
    body = {"transaction": {"airtel_money_id": paid["provider_id"]}}

    answer = airtel.http.post("/standard/v1/payments/refund", json=body, headers=airtel.headers())

    assert answer.json()["status"]["response_code"] == "DP00800001007"
    assert airtel.wallet_minor() == 100


def test_customers_created_with_approve_rate_one_always_pay(airtel):
    numbers = airtel.sandbox(
        "POST", "/customers", json={"count": 4, "approve_rate": 1.0, "label": "loyal"}
    )["msisdns"]
    assert len(numbers) == 4
    assert len(set(numbers)) == 4
    ids = []
    for number in numbers:
        assert number.startswith("2547")
        assert len(number) == 12
        ids.append(new_id("col"))
        airtel.push(number[3:], 100, ids[-1])
    assert {airtel.wait_final(i)["status"] for i in ids} == {"succeeded"}


def test_customers_with_approve_rate_zero_fail_with_real_failure_codes(start_airtel):
    airtel = start_airtel(prompt_timeout_s=5.0)
    numbers = airtel.sandbox("POST", "/customers", json={"count": 12, "approve_rate": 0.0})[
        "msisdns"
    ]
    ids = [new_id("col") for _ in numbers]
    for number, txn_id in zip(numbers, ids, strict=True):
        airtel.push(number[3:], 100, txn_id)
    finals = [airtel.wait_final(i) for i in ids]
    assert {t["status"] for t in finals} == {"failed"}
    assert {t["result_code"] for t in finals} <= {
        "DP00800001008",
        "DP00800001024",
        "DP00800001007",
        "DP00800001002",
    }
    assert len({t["result_code"] for t in finals}) >= 2


def test_same_seed_and_same_requests_give_the_same_outcomes(start_airtel):
    def outcomes(seed):
        airtel = start_airtel(fresh=True, seed=seed, prompt_timeout_s=5.0)
        ids = [f"seeded-{i}" for i in range(20)]
        for i, txn_id in enumerate(ids):
            airtel.push(f"7330005{i:02d}", 100, txn_id)
        return [airtel.wait_final(i)["result_code"] for i in ids]

    first, second = outcomes(11), outcomes(11)
    assert first == second
    assert "DP00800001001" in first  # default approve rate 0.9
