"""The /sandbox/ control and inspection API (docs/sandbox.md) and the command line."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.sandbox.mpesa.mpesa_support import APPROVES, CANCELS, SILENT, Mpesa

from qmoi_sandbox.mpesa.__main__ import build_parser, config_from_args
from qmoi_sandbox.mpesa.customers import TEST_NUMBERS, is_safaricom

pytestmark = pytest.mark.mpesa

TRANSACTION_KEYS = {
    "id",
    "provider_id",
    "kind",
    "msisdn",
    "amount_minor",
    "amount",
    "currency",
    "status",
    "result_code",
    "result_text",
    "fee_minor",
    "reference",
    "created_at",
    "completed_at",
    "sandbox",
}


def test_health_and_clock(mpesa: Mpesa) -> None:
    health = mpesa.http.get("/sandbox/health").json()
    clock = mpesa.http.get("/sandbox/clock").json()

    assert health["ok"] is True
    assert health["provider"] == "mpesa"
    assert datetime.fromisoformat(health["now"]).tzinfo is not None
    assert clock["speed"] == 1000.0
    assert datetime.fromisoformat(clock["now"]) >= datetime.fromisoformat(health["now"])


def test_faults_get_put_delete_and_validation(mpesa: Mpesa) -> None:
    initial = mpesa.http.get("/sandbox/faults").json()
    assert initial["error_rate"] == 0.0
    assert initial["queue_timeout_rate"] == 0.0

    updated = mpesa.http.put("/sandbox/faults", json={"error_rate": 0.25, "latency_ms": 5})
    assert updated.status_code == 200
    assert updated.json()["error_rate"] == 0.25
    assert mpesa.http.get("/sandbox/faults").json()["latency_ms"] == 5

    assert mpesa.http.put("/sandbox/faults", json={"made_up": 1}).status_code == 422
    assert mpesa.http.put("/sandbox/faults", json={"error_rate": 2}).status_code == 422
    assert mpesa.http.put("/sandbox/faults", json=[1]).status_code == 422
    assert mpesa.http.get("/sandbox/faults").json()["error_rate"] == 0.25

    cleared = mpesa.http.delete("/sandbox/faults").json()
    assert cleared == initial


def test_injected_counts_name_every_fault(mpesa: Mpesa) -> None:
    counts = mpesa.injected()

    assert set(counts) >= {
        "error",
        "timeout_after_accept",
        "lost_callback",
        "duplicate_callback",
        "late_callback",
        "early_token_expiry",
        "enquiry_pending",
        "ambiguous_enquiry",
        "latency",
        "queue_timeout",
    }
    assert set(counts.values()) == {0}


def test_wallet_get_and_put(mpesa: Mpesa) -> None:
    assert mpesa.http.get("/sandbox/wallet").json() == {
        "balance_minor": 100_000_000,
        "currency": "KES",
        "balance": "1000000.00",
        "held_minor": 0,
    }

    answer = mpesa.http.put("/sandbox/wallet", json={"balance_minor": 123_405})

    assert answer.json() == {
        "balance_minor": 123_405,
        "currency": "KES",
        "balance": "1234.05",
        "held_minor": 0,
    }
    for bad in ({"balance_minor": -1}, {"balance_minor": "5"}, {"balance_minor": 1.5}, {}):
        assert mpesa.http.put("/sandbox/wallet", json=bad).status_code == 422


def test_transactions_listing_filters_and_lookup(mpesa: Mpesa) -> None:
    ok = mpesa.push(APPROVES, 10)["CheckoutRequestID"]
    bad = mpesa.push(CANCELS, 11)["CheckoutRequestID"]
    final_ok, _ = mpesa.wait_final(ok), mpesa.wait_final(bad)
    mpesa.http.post("/sandbox/c2b/pay", json={"msisdn": APPROVES, "amount": 12})

    everything = mpesa.http.get("/sandbox/transactions").json()
    assert [tx["id"] for tx in everything[:2]] == [ok, bad]  # oldest first
    assert all(set(tx) == TRANSACTION_KEYS and tx["sandbox"] is True for tx in everything)
    collections = mpesa.http.get("/sandbox/transactions", params={"kind": "collection"}).json()
    assert [tx["id"] for tx in collections] == [ok, bad]
    failed = mpesa.http.get("/sandbox/transactions", params={"status": "failed"}).json()
    assert [tx["id"] for tx in failed] == [bad]
    assert mpesa.transaction(final_ok["provider_id"])["id"] == ok
    assert mpesa.http.get("/sandbox/transactions/nope").status_code == 404
    assert final_ok["amount"] == "10.00"
    assert final_ok["currency"] == "KES"
    assert final_ok["completed_at"] is not None


def test_callbacks_log_shows_every_delivery(mpesa: Mpesa) -> None:
    ack = mpesa.push(APPROVES, 13)
    mpesa.receiver.wait_for("/lnm")

    [delivery] = mpesa.deliveries()

    assert delivery["transaction_id"] == ack["CheckoutRequestID"]
    assert delivery["url"] == mpesa.receiver.hook("/lnm")
    assert delivery["delivered"] is True
    assert delivery["attempts"][0]["status"] == 200
    assert delivery["body"]["Body"]["stkCallback"]["CheckoutRequestID"] == ack["CheckoutRequestID"]


def test_customers_are_new_valid_safaricom_numbers(mpesa: Mpesa) -> None:
    answer = mpesa.http.post("/sandbox/customers", json={"count": 25, "label": "walk-ins"})

    msisdns = answer.json()["msisdns"]
    assert len(set(msisdns)) == 25
    assert all(re.fullmatch(r"2547\d{8}", m) and is_safaricom(m) for m in msisdns)
    assert not set(msisdns) & set(TEST_NUMBERS)
    assert mpesa.http.post("/sandbox/customers", json={"count": 0}).status_code == 422
    assert mpesa.http.post("/sandbox/customers", json={"approve_rate": 1.5}).status_code == 422


def test_reset_forgets_traffic_but_keeps_tokens_and_registrations(mpesa: Mpesa) -> None:
    token = mpesa.token()
    mpesa.push(SILENT, 10)
    mpesa.http.put("/sandbox/wallet", json={"balance_minor": 5})
    mpesa.faults(error_rate=0.5)
    mpesa.http.post("/sandbox/customers", json={"count": 2})

    assert mpesa.http.post("/sandbox/reset").json() == {"ok": True}

    assert mpesa.http.get("/sandbox/transactions").json() == []
    assert mpesa.http.get("/sandbox/callbacks").json() == []
    assert mpesa.balance_minor() == 100_000_000
    assert mpesa.http.get("/sandbox/faults").json()["error_rate"] == 0.0
    assert set(mpesa.injected().values()) == {0}
    again = mpesa.post("/mpesa/stkpush/v1/processrequest", mpesa.stk_body(SILENT, 10), token=token)
    assert again.status_code == 200  # the open prompt was forgotten too


def test_certificate_is_a_pem_x509_with_an_rsa_key(mpesa: Mpesa) -> None:
    answer = mpesa.http.get("/sandbox/certificate")

    assert answer.status_code == 200
    assert answer.text.startswith("-----BEGIN CERTIFICATE-----")
    certificate = x509.load_pem_x509_certificate(answer.text.encode())
    assert isinstance(certificate.public_key(), rsa.RSAPublicKey)


def test_command_line_options_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QMOI_SANDBOX_MPESA_SHORTCODE", "600984")
    monkeypatch.setenv("QMOI_SANDBOX_MPESA_C2B_VALIDATION", "yes")
    monkeypatch.setenv("QMOI_SANDBOX_MPESA_SPEED", "60")

    args = build_parser().parse_args(["--port", "9999", "--seed", "3", "--speed", "120"])
    config = config_from_args(args)

    assert args.port == 9999
    assert config.shortcode == "600984"
    assert config.c2b_validation is True
    assert config.speed == 120.0  # the flag wins over the variable
    assert config.seed == 3
    assert config.consumer_key == "qmoi-sandbox"
    assert config.initiator == "qmoi_initiator"
    assert config.initiator_password == "Sandbox#1234"
    off = config_from_args(build_parser({}).parse_args(["--no-url-rules"]))
    assert off.enforce_url_rules is False
