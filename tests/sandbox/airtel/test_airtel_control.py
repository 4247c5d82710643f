"""The ``/sandbox/`` control and inspection API (docs/sandbox.md): shapes and ground truth."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from tests.sandbox.airtel.airtel_support import APPROVES, DECLINES, SLOW, new_id

pytestmark = pytest.mark.airtel

TRANSACTION_KEYS = [
    "id",
    "provider_id",
    "kind",
    "msisdn",
    "amount_minor",
    "amount",
    "currency",
    "country",
    "status",
    "result_code",
    "result_text",
    "fee_minor",
    "reference",
    "created_at",
    "completed_at",
    "sandbox",
]


def test_health_and_clock(start_airtel):
    airtel = start_airtel(speed=1.0)
    health = airtel.sandbox("GET", "/health")
    clock = airtel.sandbox("GET", "/clock")

    assert health["ok"] is True
    assert health["provider"] == "airtel"
    assert datetime.fromisoformat(health["now"]).tzinfo is not None
    assert clock["speed"] == 1.0
    assert datetime.fromisoformat(clock["now"]) >= datetime.fromisoformat(health["now"])


def test_the_simulated_clock_starts_where_configured(start_airtel):
    start = datetime.fromisoformat("2026-01-01T08:00:00+03:00")
    airtel = start_airtel(fresh=True, start=start, speed=1.0)
    now = datetime.fromisoformat(airtel.sandbox("GET", "/clock")["now"])
    assert 0 <= (now - start).total_seconds() < 5
    txn_id = new_id("col")
    airtel.push(APPROVES, 1, txn_id)
    assert airtel.transaction(txn_id)["created_at"].startswith("2026-01-01T05:0")


def test_wallet_is_read_and_set_in_minor_units(airtel):
    assert airtel.sandbox("GET", "/wallet") == {
        "balance_minor": 100_000_000,
        "currency": "KES",
        "balance": "1000000.00",
        "held_minor": 0,
    }
    assert airtel.sandbox("PUT", "/wallet", json={"balance_minor": 12345}) == {
        "balance_minor": 12345,
        "currency": "KES",
        "balance": "123.45",
        "held_minor": 0,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"balance_minor": -1},
        {"balance_minor": 1.5},
        {"balance_minor": "100"},
        {},
        {"balance_minor": 1, "x": 1},
    ],
)
def test_invalid_wallet_updates_are_422(airtel, body):
    assert airtel.http.put("/sandbox/wallet", json=body).status_code == 422
    assert airtel.wallet_minor() == 100_000_000


def test_transactions_have_the_documented_shape_oldest_first_and_filter(airtel):
    ok_id, failed_id, payout_id = new_id("col"), new_id("col"), new_id("tr")
    airtel.push(APPROVES, 1250, ok_id)
    airtel.push(DECLINES, 10, failed_id)
    airtel.wait_final(ok_id)
    airtel.wait_final(failed_id)
    airtel.disburse(txn_id=payout_id, amount=20)

    everything = airtel.sandbox("GET", "/transactions")
    assert [t["id"] for t in everything] == [ok_id, failed_id, payout_id]
    for txn in everything:
        assert list(txn) == TRANSACTION_KEYS
        assert txn["sandbox"] is True
    ok = everything[0]
    assert ok["amount_minor"] == 125000
    assert ok["amount"] == "1250.00"
    assert ok["currency"] == "KES"
    assert ok["completed_at"] is not None
    assert ok["reference"] == "QMOI order"
    assert [
        t["id"] for t in airtel.sandbox("GET", "/transactions", params={"kind": "collection"})
    ] == [
        ok_id,
        failed_id,
    ]
    assert [
        t["id"] for t in airtel.sandbox("GET", "/transactions", params={"status": "failed"})
    ] == [failed_id]
    assert [
        t["id"]
        for t in airtel.sandbox(
            "GET", "/transactions", params={"kind": "disbursement", "status": "succeeded"}
        )
    ] == [payout_id]
    assert airtel.sandbox("GET", "/transactions", params={"kind": "", "status": ""}) == everything


def test_one_transaction_by_our_id_or_the_provider_id_and_404_otherwise(airtel):
    txn_id = new_id("col")
    airtel.push(APPROVES, 5, txn_id)
    txn = airtel.wait_final(txn_id)

    assert airtel.transaction(txn["provider_id"]) == txn
    assert airtel.http.get("/sandbox/transactions/nothing-like-it").status_code == 404


def test_callback_log_has_the_delivery_shape(airtel_cb, receiver):
    txn_id = new_id("col")
    airtel_cb.push(APPROVES, 5, txn_id)
    receiver.wait_for(txn_id)

    delivery = airtel_cb.delivery(txn_id, lambda d: d["delivered"])
    assert airtel_cb.sandbox("GET", "/callbacks") == [delivery]
    assert set(delivery) == {
        "id",
        "url",
        "transaction_id",
        "fault",
        "delivered",
        "attempts",
        "body",
    }
    assert delivery["url"] == receiver.url
    assert delivery["transaction_id"] == txn_id
    assert delivery["fault"] is None
    assert delivery["body"] == receiver.for_id(txn_id)[0]
    assert delivery["attempts"][0]["status"] == 200


def test_no_callback_url_means_no_callbacks(airtel):
    txn_id = new_id("col")
    airtel.push(APPROVES, 5, txn_id)
    airtel.wait_final(txn_id)
    assert airtel.sandbox("GET", "/callbacks") == []


@pytest.mark.parametrize(
    "body",
    [
        {"count": 0},
        {"count": 10_001},
        {"count": 1, "approve_rate": 1.5},
        {"count": "3"},
        {"count": 1, "x": 2},
    ],
)
def test_invalid_customer_requests_are_422(airtel, body):
    assert airtel.http.post("/sandbox/customers", json=body).status_code == 422


def test_reset_forgets_transactions_customers_faults_callbacks_and_restores_the_wallet(
    airtel_cb, receiver
):
    txn_id = new_id("col")
    airtel_cb.push(APPROVES, 150, txn_id)
    receiver.wait_for(txn_id)
    first_money_id = airtel_cb.wait_final(txn_id)["provider_id"]
    airtel_cb.sandbox("PUT", "/wallet", json={"balance_minor": 1})
    airtel_cb.sandbox("PUT", "/faults", json={"error_rate": 0.5})
    airtel_cb.http.get("/standard/v1/users/balance", headers=airtel_cb.headers())
    [created] = airtel_cb.sandbox("POST", "/customers", json={"count": 1, "approve_rate": 0.0})[
        "msisdns"
    ]

    assert airtel_cb.sandbox("POST", "/reset") == {"ok": True}

    assert airtel_cb.sandbox("GET", "/transactions") == []
    assert airtel_cb.sandbox("GET", "/callbacks") == []
    assert airtel_cb.wallet_minor() == 100_000_000
    assert airtel_cb.sandbox("GET", "/faults")["error_rate"] == 0
    assert set(airtel_cb.sandbox("GET", "/faults/injected")["counts"].values()) == {0}
    # The id may be used again, and Airtel's ids stay unique across the reset.
    airtel_cb.push(APPROVES, 150, txn_id)
    assert airtel_cb.wait_final(txn_id)["provider_id"] != first_money_id
    # The created customer is forgotten: that number is back at the default rate.
    assert airtel_cb.engine.customers.get(created[3:]).approve_rate == 0.9


def test_reset_cancels_customers_still_deciding(start_airtel):
    airtel = start_airtel(**SLOW)
    txn_id = new_id("col")
    airtel.push(APPROVES, 150, txn_id)
    airtel.sandbox("POST", "/reset")

    time.sleep(0.3)
    assert airtel.sandbox("GET", "/transactions") == []
    assert airtel.wallet_minor() == 100_000_000


def test_the_app_exposes_its_engine_for_tests(airtel):
    engine = airtel.app.state.sandbox
    assert engine.config.client_id == "qmoi-sandbox"
    assert engine.state.balance_minor == 100_000_000
