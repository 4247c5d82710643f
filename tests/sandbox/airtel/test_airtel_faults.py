"""Fault injection through ``/sandbox/faults`` and how each fault shows in Airtel's protocol."""

from __future__ import annotations

import time

import httpx
import pytest
from tests.sandbox.airtel.airtel_support import APPROVES, PIN, encrypt_pin, new_id

pytestmark = pytest.mark.airtel


def _faults(airtel, **changes):
    return airtel.sandbox("PUT", "/faults", json=changes)


def _counts(airtel):
    return airtel.sandbox("GET", "/faults/injected")["counts"]


def test_latency_is_added_to_every_provider_answer_but_not_to_the_sandbox_api(airtel):
    token = airtel.token()
    _faults(airtel, latency_ms=200)

    started = time.monotonic()
    answer = airtel.http.get("/standard/v1/users/balance", headers=airtel.headers(token))
    slow = time.monotonic() - started
    started = time.monotonic()
    airtel.sandbox("GET", "/wallet")
    fast = time.monotonic() - started

    assert answer.status_code == 200
    assert slow >= 0.2
    assert fast < 0.2
    assert _counts(airtel)["latency"] == 1


def test_error_rate_answers_5xx_before_doing_anything(airtel_cb, receiver):
    token = airtel_cb.token()
    _faults(airtel_cb, error_rate=1.0)
    txn_id = new_id("col")

    push = airtel_cb.http.post(
        "/merchant/v1/payments/",
        json=airtel_cb.push_body(APPROVES, 150, txn_id),
        headers=airtel_cb.headers(token),
    )
    token_call = airtel_cb.http.post("/auth/oauth2/token", json={})

    assert push.status_code == 500
    assert push.json() == {
        "status": {
            "code": "500",
            "message": "Something went wrong",
            "result_code": "ESB000001",
            "response_code": "DP00800001000",
            "success": False,
        }
    }
    assert token_call.status_code == 500
    assert token_call.json()["error"] == "server_error"
    assert _counts(airtel_cb)["error"] == 2
    airtel_cb.sandbox("DELETE", "/faults")
    time.sleep(0.05)
    assert airtel_cb.sandbox("GET", "/transactions") == []
    assert receiver.for_id(txn_id) == []
    assert airtel_cb.enquiry(txn_id).json()["status"]["response_code"] == "DP00800001025"


def test_error_rate_comes_before_the_token_check(airtel):
    _faults(airtel, error_rate=1.0)
    answer = airtel.http.get("/standard/v1/users/balance", headers={"Authorization": "Bearer x"})
    assert answer.status_code == 500
    assert answer.json()["status"]["response_code"] == "DP02100000000"


def test_timeout_after_accept_executes_the_push_then_the_client_times_out(airtel_cb, receiver):
    headers = airtel_cb.headers()
    _faults(airtel_cb, timeout_after_accept_rate=1.0, timeout_hold_s=0.6)
    txn_id = new_id("col")

    with pytest.raises(httpx.ReadTimeout):
        airtel_cb.http.post(
            "/merchant/v1/payments/",
            json=airtel_cb.push_body(APPROVES, 150, txn_id),
            headers=headers,
            timeout=0.2,
        )

    # The push was executed: the customer is prompted and pays; the callback arrives.
    [callback] = receiver.wait_for(txn_id)
    assert callback["transaction"]["status_code"] == "TS"
    assert airtel_cb.wait_final(txn_id)["status"] == "succeeded"
    assert _counts(airtel_cb)["timeout_after_accept"] == 1


def test_a_patient_client_gets_504_router117_after_the_hold(airtel):
    headers = airtel.headers()
    _faults(airtel, timeout_after_accept_rate=1.0, timeout_hold_s=0.2)
    txn_id = new_id("tr")
    body = airtel.disbursement_body(
        "733123456", 2000, txn_id, pin=encrypt_pin(airtel.public_key(), PIN)
    )
    before = airtel.wallet_minor()

    answer = airtel.http.post("/standard/v1/disbursements/", json=body, headers=headers)

    assert answer.status_code == 504
    assert answer.json()["status_code"] == "ROUTER117"
    # The payout was executed: money left the wallet, the enquiry says TS.
    assert airtel.wallet_minor() == before - 200000
    airtel.sandbox("DELETE", "/faults")
    enquiry = airtel.http.get(
        f"/standard/v1/disbursements/{txn_id}", headers=airtel.headers()
    ).json()
    assert enquiry["data"]["transaction"]["status"] == "TS"
    # A retry with the same id is a duplicate, not a second payout.
    retry = airtel.http.post("/standard/v1/disbursements/", json=body, headers=airtel.headers())
    assert retry.json()["status"]["response_code"] == "DP00900001017"
    assert airtel.wallet_minor() == before - 200000


def test_timeout_after_accept_does_not_touch_reads(airtel):
    _faults(airtel, timeout_after_accept_rate=1.0, timeout_hold_s=5)
    answer = airtel.http.get("/standard/v1/users/balance", headers=airtel.headers(), timeout=1)
    assert answer.status_code == 200
    assert _counts(airtel)["timeout_after_accept"] == 0


def test_a_lost_callback_is_logged_but_never_delivered(airtel_cb, receiver):
    _faults(airtel_cb, lost_callback_rate=1.0)
    txn_id = new_id("col")

    airtel_cb.push(APPROVES, 150, txn_id)
    txn = airtel_cb.wait_final(txn_id)
    time.sleep(0.1)

    assert txn["status"] == "succeeded"
    assert receiver.for_id(txn_id) == []
    delivery = airtel_cb.delivery(txn_id, lambda d: True)
    assert delivery["fault"] == "lost"
    assert delivery["delivered"] is False
    assert delivery["attempts"] == []
    assert _counts(airtel_cb)["lost_callback"] == 1
    # The enquiry still tells the truth.
    assert airtel_cb.enquiry(txn_id).json()["data"]["transaction"]["status"] == "TS"


def test_a_duplicated_callback_arrives_twice_identically(airtel_cb, receiver):
    _faults(airtel_cb, duplicate_callback_rate=1.0)
    txn_id = new_id("col")

    airtel_cb.push(APPROVES, 150, txn_id)

    first, second = receiver.wait_for(txn_id, count=2)
    assert first == second
    delivery = airtel_cb.delivery(txn_id, lambda d: len(d["attempts"]) == 2)
    assert delivery["fault"] == "duplicate"
    assert [a["status"] for a in delivery["attempts"]] == [200, 200]
    assert _counts(airtel_cb)["duplicate_callback"] == 1
    assert airtel_cb.wallet_minor() == 100_000_000 + 15000  # paid once


def test_a_late_callback_arrives_after_the_configured_delay(airtel_cb, receiver):
    _faults(airtel_cb, late_callback_rate=1.0, late_callback_delay_s=40)  # 0.4 s real
    txn_id = new_id("col")

    airtel_cb.push(APPROVES, 150, txn_id)
    airtel_cb.wait_final(txn_id)
    time.sleep(0.1)
    assert receiver.for_id(txn_id) == []

    [callback] = receiver.wait_for(txn_id)
    assert callback["transaction"]["status_code"] == "TS"
    delivery = airtel_cb.delivery(txn_id, lambda d: d["delivered"])
    assert delivery["fault"] == "late"


def test_out_of_order_callbacks_are_held_back_so_later_ones_overtake_them(airtel_cb, receiver):
    """Each callback waits a random 0-max simulated seconds (seeded): sent in one order,
    they arrive in another, and every one still arrives once."""
    _faults(airtel_cb, out_of_order_callback_rate=1.0, out_of_order_max_delay_s=80)
    ids = [new_id("col") for _ in range(8)]
    for txn_id in ids:
        airtel_cb.push(APPROVES, 150, txn_id)
        airtel_cb.wait_final(txn_id)

    for txn_id in ids:
        receiver.wait_for(txn_id)
    arrived = [
        d["transaction_id"] for d in airtel_cb.sandbox("GET", "/callbacks") if d["delivered"]
    ]
    order = sorted(
        ids,
        key=lambda t: airtel_cb.delivery(t, lambda d: d["delivered"])["attempts"][0]["at"],
    )
    assert sorted(arrived) == sorted(ids)
    assert order != ids
    assert _counts(airtel_cb)["out_of_order_callback"] == len(ids)


def test_a_callback_refused_by_the_merchant_is_retried_until_2xx(airtel_cb, receiver):
    receiver.answers.extend([500, 503])
    txn_id = new_id("col")

    airtel_cb.push(APPROVES, 150, txn_id)

    receiver.wait_for(txn_id, count=3)
    delivery = airtel_cb.delivery(txn_id, lambda d: d["delivered"])
    assert [a["status"] for a in delivery["attempts"]] == [500, 503, 200]


def test_early_token_expiry_refuses_a_fresh_token_as_expired(airtel):
    token = airtel.token()
    _faults(airtel, early_token_expiry_rate=1.0)

    answer = airtel.http.get("/standard/v1/users/balance", headers=airtel.headers(token))

    assert answer.status_code == 403
    assert answer.json()["error"] == "invalid_token"
    assert _counts(airtel)["early_token_expiry"] == 1
    airtel.sandbox("DELETE", "/faults")
    # The token stays dead; a new one works.
    assert (
        airtel.http.get("/standard/v1/users/balance", headers=airtel.headers(token)).status_code
        == 403
    )
    assert (
        airtel.http.get(
            "/standard/v1/users/balance", headers=airtel.headers(airtel.token())
        ).status_code
        == 200
    )


def test_enquiry_pending_keeps_answering_tip_after_the_end(airtel):
    _faults(airtel, enquiry_pending_s=30)  # 0.3 s real
    txn_id = new_id("col")
    airtel.push(APPROVES, 150, txn_id)
    assert airtel.wait_final(txn_id)["status"] == "succeeded"

    held = airtel.enquiry(txn_id).json()
    assert held["data"]["transaction"]["status"] == "TIP"
    assert "airtel_money_id" not in held["data"]["transaction"]
    assert held["status"]["response_code"] == "DP00800001006"
    assert _counts(airtel)["enquiry_pending"] >= 1

    time.sleep(0.35)
    assert airtel.enquiry(txn_id).json()["data"]["transaction"]["status"] == "TS"


def test_ambiguous_enquiry_answers_ta(airtel):
    txn_id = new_id("tr")
    airtel.disburse(txn_id=txn_id)
    col_id = new_id("col")
    airtel.push(APPROVES, 150, col_id)
    airtel.wait_final(col_id)
    _faults(airtel, ambiguous_enquiry_rate=1.0)

    payout = airtel.http.get(
        f"/standard/v1/disbursements/{txn_id}", headers=airtel.headers()
    ).json()
    collection = airtel.enquiry(col_id).json()

    assert payout["data"]["transaction"]["status"] == "TA"
    assert payout["status"]["response_code"] == "DP00900001000"
    assert collection["data"]["transaction"]["status"] == "TA"
    assert collection["status"]["response_code"] == "DP00800001000"
    assert _counts(airtel)["ambiguous_enquiry"] == 2
    assert airtel.transaction(txn_id)["status"] == "succeeded"  # the truth is unchanged


def test_faults_fire_at_their_rate_from_the_seed(airtel):
    token = airtel.token()
    _faults(airtel, error_rate=0.5)
    codes = [
        airtel.http.get("/standard/v1/users/balance", headers=airtel.headers(token)).status_code
        for _ in range(40)
    ]
    assert 5 <= codes.count(500) <= 35
    assert _counts(airtel)["error"] == codes.count(500)


def test_fault_settings_are_read_updated_partially_and_cleared(airtel):
    defaults = airtel.sandbox("GET", "/faults")
    assert defaults["error_rate"] == 0
    assert defaults["timeout_hold_s"] == 30.0

    updated = _faults(airtel, error_rate=0.25, latency_ms=5)
    again = _faults(airtel, lost_callback_rate=0.5)

    assert updated["error_rate"] == 0.25
    assert updated["latency_ms"] == 5
    assert again["error_rate"] == 0.25
    assert again["lost_callback_rate"] == 0.5
    assert airtel.sandbox("GET", "/faults") == again
    assert airtel.sandbox("DELETE", "/faults") == defaults


@pytest.mark.parametrize(
    "body", [{"no_such_fault": 1}, {"error_rate": 2}, {"latency_ms": -1}, {"error_rate": "often"}]
)
def test_unknown_or_invalid_fault_settings_are_422_and_change_nothing(airtel, body):
    answer = airtel.http.put("/sandbox/faults", json=body)
    assert answer.status_code == 422
    assert airtel.sandbox("GET", "/faults")["error_rate"] == 0


def test_injected_counts_list_every_fault_kind(airtel):
    counts = _counts(airtel)
    assert {
        "error",
        "timeout_after_accept",
        "lost_callback",
        "duplicate_callback",
        "late_callback",
        "early_token_expiry",
        "ambiguous_enquiry",
        "out_of_order_callback",
    } <= set(counts)
    assert set(counts.values()) == {0}
