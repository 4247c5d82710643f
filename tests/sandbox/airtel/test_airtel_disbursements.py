"""Disbursements: RSA-encrypted PIN, wallet debit, fee, final status, enquiry."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from tests.sandbox.airtel.airtel_support import (
    PIN,
    encrypt_pin,
    encrypt_pin_oaep,
    load_public_key,
    new_id,
)

pytestmark = pytest.mark.airtel


def test_payout_with_a_correctly_encrypted_pin_is_final_ts_and_debits_the_wallet(airtel):
    before = airtel.wallet_minor()
    txn_id = new_id("tr")

    answer = airtel.disburse("733123456", 2000, txn_id)

    assert answer.status_code == 200
    body = answer.json()
    transaction = body["data"]["transaction"]
    assert list(transaction) == ["reference_id", "airtel_money_id", "id", "status"]
    assert transaction["id"] == txn_id
    assert transaction["status"] == "TS"
    assert transaction["reference_id"].startswith("CI")
    assert body["status"]["response_code"] == "DP00900001001"
    assert body["status"]["result_code"] == "ESB000010"
    assert body["status"]["success"] is True
    assert airtel.wallet_minor() == before - 200000
    # The status message carries the remaining balance.
    assert f"Bal KES {(before - 200000) // 100}.00" in body["status"]["message"]
    record = airtel.transaction(txn_id)
    assert record["kind"] == "disbursement"
    assert record["status"] == "succeeded"
    assert record["provider_id"] == transaction["airtel_money_id"]
    assert record["msisdn"] == "254733123456"
    assert record["amount_minor"] == 200000
    assert record["fee_minor"] == 0
    assert airtel.transaction(transaction["reference_id"])["id"] == txn_id


def test_the_configured_fee_is_debited_with_the_payout_and_recorded(start_airtel):
    airtel = start_airtel(disbursement_fee_minor=100)
    before = airtel.wallet_minor()
    txn_id = new_id("tr")

    answer = airtel.disburse("733123456", 2000, txn_id)

    assert answer.json()["status"]["response_code"] == "DP00900001001"
    assert "Com KES 1.00" in answer.json()["status"]["message"]
    assert airtel.wallet_minor() == before - 200000 - 100
    assert airtel.transaction(txn_id)["fee_minor"] == 100


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_disbursement_enquiry_answers_ts_with_the_airtel_money_id(airtel, version):
    txn_id = new_id("tr")
    paid = airtel.disburse("733123456", 2000, txn_id).json()["data"]["transaction"]

    query = "?transactionType=B2C" if version == "v2" else ""
    answer = airtel.http.get(
        f"/standard/{version}/disbursements/{txn_id}{query}", headers=airtel.headers()
    )

    assert answer.status_code == 200
    assert answer.json()["data"]["transaction"] == {
        "airtel_money_id": paid["airtel_money_id"],
        "id": txn_id,
        "message": "success",
        "status": "TS",
    }
    assert answer.json()["status"]["response_code"] == "DP00900001001"


def test_disbursement_enquiry_of_an_unknown_id_is_not_found(airtel):
    answer = airtel.http.get("/standard/v1/disbursements/nope", headers=airtel.headers())
    assert answer.json()["status"]["response_code"] == "DP00900001015"
    assert answer.json()["status"]["result_code"] == "ESB000045"


def test_v2_payout_with_payee_details_and_b2c_type_succeeds(airtel):
    txn_id = new_id("tr")
    body = {
        "payee": {
            "msisdn": "733123456",
            "currency": "KES",
            "name": "Jane Owner",
            "wallet_type": "NORMAL",
        },
        "reference": "owner payout",
        "pin": encrypt_pin(airtel.public_key(), PIN),
        "transaction": {"amount": 2000, "id": txn_id, "type": "B2C"},
    }

    answer = airtel.http.post("/standard/v2/disbursements/", json=body, headers=airtel.headers())

    assert answer.json()["status"]["response_code"] == "DP00900001001"
    assert "Jane Owner" in answer.json()["status"]["message"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"transaction": {"type": "B2B"}}, "B2B"),
        ({"transaction": {"type": "P2P"}}, "Invalid transaction type"),
        ({"payee": {"wallet_type": "COLL"}}, "Invalid wallet type"),
        ({"payee": {"currency": "UGX"}}, "Invalid Currency"),
    ],
)
def test_v2_payout_with_wrong_type_wallet_or_currency_is_refused(airtel, change, message):
    txn_id = new_id("tr")
    body = {
        "payee": {"msisdn": "733123456", "currency": "KES"},
        "reference": "owner payout",
        "pin": encrypt_pin(airtel.public_key(), PIN),
        "transaction": {"amount": 2000, "id": txn_id, "type": "B2C"},
    }
    for part, fields in change.items():
        body[part].update(fields)
    before = airtel.wallet_minor()

    answer = airtel.http.post("/standard/v2/disbursements/", json=body, headers=airtel.headers())

    assert answer.status_code == 200
    assert answer.json()["status"]["success"] is False
    assert answer.json()["status"]["response_code"] == "DP00900001013"
    assert message in answer.json()["status"]["message"]
    assert airtel.wallet_minor() == before


@pytest.mark.parametrize(
    "make_pin",
    [
        lambda key: encrypt_pin(key, "9999"),
        lambda key: encrypt_pin_oaep(key, PIN),
        lambda key: base64.b64encode(b"1234").decode(),
        lambda key: "not base64 at all!",
        lambda key: "1234",
    ],
    ids=["wrong-pin", "oaep-padding", "unencrypted-base64", "garbage", "plain-pin"],
)
def test_a_wrong_or_wrongly_encrypted_pin_is_refused_and_moves_no_money(airtel, make_pin):
    before = airtel.wallet_minor()
    txn_id = new_id("tr")

    answer = airtel.disburse("733123456", 2000, txn_id, pin=make_pin(airtel.public_key()))

    assert answer.status_code == 200
    assert answer.json()["status"] == {
        "code": "400",
        "message": "Incorrect Encrypted Pin",
        "result_code": "ESB000011",
        "response_code": "DP00900001013",
        "success": False,
    }
    assert airtel.wallet_minor() == before
    assert airtel.sandbox("GET", "/transactions", params={"kind": "disbursement"}) == []


def test_a_pin_encrypted_with_another_key_is_refused(airtel):
    from cryptography.hazmat.primitives.asymmetric import rsa

    # Same size as Airtel's keys, so only the key differs.
    other = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505
    answer = airtel.disburse("733123456", 2000, new_id("tr"), pin=encrypt_pin(other, PIN))
    assert answer.json()["status"]["message"] == "Incorrect Encrypted Pin"


def test_the_configured_pin_is_the_one_checked(start_airtel):
    airtel = start_airtel(pin="8642")
    key = airtel.public_key()
    assert (
        airtel.disburse(pin=encrypt_pin(key, "1234")).json()["status"]["response_code"]
        == "DP00900001013"
    )
    assert (
        airtel.disburse(pin=encrypt_pin(key, "8642")).json()["status"]["response_code"]
        == "DP00900001001"
    )


def test_insufficient_funds_fails_with_dp00900001007_and_the_balance_in_the_message(airtel):
    airtel.sandbox("PUT", "/wallet", json={"balance_minor": 1999_99})
    txn_id = new_id("tr")

    answer = airtel.disburse("733123456", 2000, txn_id)

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"]["response_code"] == "DP00900001007"
    assert body["status"]["success"] is False
    assert "Bal KES 1999.99" in body["status"]["message"]
    assert body["data"]["transaction"] == {"id": txn_id, "status": "TF"}
    assert airtel.wallet_minor() == 1999_99
    record = airtel.transaction(txn_id)
    assert (record["status"], record["result_code"], record["provider_id"]) == (
        "failed",
        "DP00900001007",
        None,
    )
    enquiry = airtel.http.get(
        f"/standard/v1/disbursements/{txn_id}", headers=airtel.headers()
    ).json()
    assert enquiry["data"]["transaction"]["status"] == "TF"
    assert enquiry["status"]["response_code"] == "DP00900001007"


def test_a_held_float_refuses_payouts_until_released_and_moves_no_money(airtel):
    """``held_minor`` makes the float insufficient for a while (a reliability run's
    "insufficient float at times") without changing the balance the books are held to."""
    held = airtel.sandbox("PUT", "/wallet", json={"held_minor": 100_000_000 - 1999_99})
    assert (held["balance_minor"], held["held_minor"]) == (100_000_000, 100_000_000 - 1999_99)

    refused = airtel.disburse("733123456", 2000, new_id("tr")).json()
    airtel.sandbox("PUT", "/wallet", json={"held_minor": 0})
    paid = airtel.disburse("733123456", 2000, new_id("tr")).json()

    assert refused["status"]["response_code"] == "DP00900001007"
    assert paid["status"]["response_code"] == "DP00900001001"
    assert airtel.wallet_minor() == 100_000_000 - 2000_00


def test_the_fee_counts_when_checking_funds(start_airtel):
    airtel = start_airtel(disbursement_fee_minor=100)
    airtel.sandbox("PUT", "/wallet", json={"balance_minor": 200000})
    assert airtel.disburse(amount=2000).json()["status"]["response_code"] == "DP00900001007"
    airtel.sandbox("PUT", "/wallet", json={"balance_minor": 200100})
    assert airtel.disburse(amount=2000).json()["status"]["response_code"] == "DP00900001001"
    assert airtel.wallet_minor() == 0


def test_a_reused_payout_id_is_rejected_and_pays_once(airtel):
    txn_id = new_id("tr")
    first = airtel.disburse("733123456", 2000, txn_id)
    after_first = airtel.wallet_minor()

    again = airtel.disburse("733123456", 2000, txn_id)

    assert first.json()["status"]["response_code"] == "DP00900001001"
    status = again.json()["status"]
    assert (status["response_code"], status["result_code"], status["success"]) == (
        "DP00900001017",
        "ESB000041",
        False,
    )
    assert airtel.wallet_minor() == after_first
    assert len(airtel.sandbox("GET", "/transactions", params={"kind": "disbursement"})) == 1


def test_a_payout_id_that_failed_for_funds_is_burnt(airtel):
    txn_id = new_id("tr")
    airtel.sandbox("PUT", "/wallet", json={"balance_minor": 0})
    airtel.disburse("733123456", 2000, txn_id)
    airtel.sandbox("PUT", "/wallet", json={"balance_minor": 10_000_000})
    assert (
        airtel.disburse("733123456", 2000, txn_id).json()["status"]["response_code"]
        == "DP00900001017"
    )


def test_collection_and_disbursement_ids_are_separate_namespaces(airtel):
    shared = new_id("same")
    assert airtel.push(txn_id=shared).json()["status"]["success"] is True
    assert airtel.disburse(txn_id=shared).json()["status"]["response_code"] == "DP00900001001"


def test_the_public_key_is_served_as_der_at_the_airtel_path_and_as_pem_in_the_sandbox(airtel):
    answer = airtel.http.get("/v1/rsa/encryption-keys", headers=airtel.headers())
    pem = airtel.http.get("/sandbox/public-key")

    assert answer.status_code == 200
    data = answer.json()["data"]
    assert isinstance(data["key_id"], int)
    assert answer.json()["status"]["response_code"] == "DP02010001001"
    der_key = load_public_key(data["key"])
    assert der_key.key_size == 1024
    assert pem.status_code == 200
    assert pem.text.startswith("-----BEGIN PUBLIC KEY-----")
    pem_key = serialization.load_pem_public_key(pem.content)
    assert pem_key.public_numbers() == der_key.public_numbers()
    day, month, rest = data["valid_upto"].split("-")
    assert len(day) == 2
    assert len(month) == 2
    assert len(rest) == len("2026 21:29:26")


def test_a_pin_encrypted_with_the_pem_key_works(airtel):
    key = load_public_key(airtel.http.get("/sandbox/public-key").text)
    answer = airtel.disburse(pin=encrypt_pin(key, PIN))
    assert answer.json()["status"]["response_code"] == "DP00900001001"


def test_a_fixed_private_key_can_be_supplied(start_airtel):
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    airtel = start_airtel(fresh=True, private_key_pem=pem)
    assert airtel.public_key().public_numbers() == private.public_key().public_numbers()
    answer = airtel.disburse(pin=encrypt_pin(private.public_key(), PIN))
    assert answer.json()["status"]["response_code"] == "DP00900001001"


def test_disbursement_callbacks_can_be_switched_on(start_airtel, receiver):
    airtel = start_airtel(callback_url=receiver.url, disbursement_callbacks=True)
    txn_id = new_id("tr")
    paid = airtel.disburse(txn_id=txn_id).json()["data"]["transaction"]
    [callback] = receiver.wait_for(txn_id)
    assert callback["transaction"]["status_code"] == "TS"
    assert callback["transaction"]["airtel_money_id"] == paid["airtel_money_id"]


def test_a_configured_transaction_limit_refuses_bigger_payouts_and_pushes(start_airtel):
    airtel = start_airtel(max_transaction_minor=150_000_00)
    before = airtel.wallet_minor()

    payout = airtel.disburse(amount=150_000.01).json()["status"]
    push = airtel.push(amount=150_001).json()["status"]

    assert (payout["response_code"], payout["success"]) == ("DP00900001003", False)
    assert (push["response_code"], push["success"]) == ("DP00800001003", False)
    assert airtel.disburse(amount=150_000).json()["status"]["response_code"] == "DP00900001001"
    assert airtel.wallet_minor() == before - 150_000_00
