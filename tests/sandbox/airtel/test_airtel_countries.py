"""One emulator serving several Airtel countries at once: each its own wallet in its own
currency and its own fixed-outcome test numbers; ``X-Country`` picks the country and
``X-Currency`` must be that country's; numbers without the country code are read as the
request's country's."""

from __future__ import annotations

from typing import Any

import phonenumbers
import pytest
from tests.sandbox.airtel.airtel_support import Airtel, encrypt_pin, new_id

from qmoi.config.airtel_country import sandbox_owner
from qmoi_sandbox.airtel import AirtelSandboxConfig
from qmoi_sandbox.airtel.customers import TEST_PREFIXES, Outcome, fixed_numbers
from qmoi_sandbox.airtel.state import COUNTRIES

SERVED = ("UG", "TZ", "NG")
CURRENCY = {"KE": "KES", "UG": "UGX", "TZ": "TZS", "NG": "NGN"}


@pytest.fixture
def multi(start_airtel: Any) -> Airtel:
    client: Airtel = start_airtel(countries=SERVED)
    return client


def headers(airtel: Airtel, country: str, currency: str | None = None) -> dict[str, str]:
    return airtel.headers(**{"X-Country": country, "X-Currency": currency or CURRENCY[country]})


def push(airtel: Airtel, country: str, msisdn: str, amount: Any) -> tuple[str, Any]:
    currency = CURRENCY[country]
    txn_id = new_id("col")
    body = {
        "reference": "QMOI order",
        "subscriber": {"country": country, "currency": currency, "msisdn": msisdn},
        "transaction": {"amount": amount, "country": country, "currency": currency, "id": txn_id},
    }
    answer = airtel.http.post("/merchant/v1/payments/", json=body, headers=headers(airtel, country))
    assert answer.status_code == 200, answer.text
    return txn_id, answer.json()


def wallet(airtel: Airtel, country: str) -> dict[str, Any]:
    return dict(airtel.sandbox("GET", f"/wallet?country={country}"))


def test_every_served_country_has_a_wallet_in_its_currency_and_test_numbers(multi):
    countries = multi.sandbox("GET", "/countries")
    assert list(countries) == ["KE", *SERVED]
    for country, info in countries.items():
        assert info["currency"] == CURRENCY[country]
        assert info["wallet"]["currency"] == CURRENCY[country]
        assert info["wallet"]["balance_minor"] > 0
        assert len(info["test_numbers"]) == 5
    assert countries["UG"]["test_numbers"]["256753000100"] == "approve"
    assert countries["NG"]["test_numbers"]["2348083000104"] == "wrong_pin"
    assert countries["KE"]["test_numbers"]["254733000101"] == "decline"
    # UGX has no minor unit: the float is whole shillings
    assert countries["UG"]["wallet"]["balance"] == str(countries["UG"]["wallet"]["balance_minor"])


def test_a_ugandan_collection_credits_the_ugandan_wallet_only(multi):
    before_ke, before_ug = wallet(multi, "KE"), wallet(multi, "UG")
    txn_id, answer = push(multi, "UG", "753000100", 25000)
    assert answer["status"]["success"] is True
    txn = multi.wait_final(txn_id)
    assert (txn["status"], txn["currency"], txn["country"]) == ("succeeded", "UGX", "UG")
    assert (txn["msisdn"], txn["amount"], txn["amount_minor"]) == ("256753000100", "25000", 25000)
    assert wallet(multi, "UG")["balance_minor"] == before_ug["balance_minor"] + 25000
    assert wallet(multi, "KE") == before_ke


def test_a_number_without_country_code_is_read_in_the_requests_country(multi):
    kenyan, _ = push(multi, "KE", "733123456", 150)
    tanzanian, _ = push(multi, "TZ", "733123456", 150)
    assert multi.transaction(kenyan)["msisdn"] == "254733123456"
    assert multi.transaction(tanzanian)["msisdn"] == "255733123456"
    assert multi.transaction(tanzanian)["currency"] == "TZS"


@pytest.mark.parametrize(
    ("suffix", "status"),
    [("100", "succeeded"), ("101", "failed"), ("103", "failed"), ("104", "failed")],
)
def test_each_countrys_test_numbers_give_their_fixed_outcome(multi, suffix, status):
    for country, prefix in (("UG", "753000"), ("NG", "8083000")):
        txn_id, _ = push(multi, country, prefix + suffix, 1000)
        assert multi.wait_final(txn_id)["status"] == status, (country, suffix)


def test_x_currency_must_be_the_countrys_currency(multi):
    answer = multi.http.get("/standard/v1/users/balance", headers=headers(multi, "UG", "KES"))
    assert answer.status_code == 200
    status = answer.json()["status"]
    assert (status["message"], status["result_code"], status["success"]) == (
        "Invalid/Missing Currency",
        "ESB000035",
        False,
    )


def test_a_country_not_served_is_router110(multi):
    answer = multi.http.get("/standard/v1/users/balance", headers=headers(multi, "ZM", "ZMW"))
    assert answer.status_code == 400
    assert answer.json()["status_code"] == "ROUTER110"


def test_balance_and_payouts_are_per_country(multi):
    balance = multi.http.get("/standard/v1/users/balance", headers=headers(multi, "TZ")).json()
    assert balance["data"]["currency"] == "TZS"
    opening = wallet(multi, "TZ")["balance_minor"]
    body = {
        "payee": {"msisdn": "783123456"},
        "reference": "owner payout",
        "pin": encrypt_pin(multi.public_key(), "1234"),
        "transaction": {"amount": 5000.5, "id": new_id("tr")},
    }
    answer = multi.http.post("/standard/v1/disbursements/", json=body, headers=headers(multi, "TZ"))
    assert answer.json()["data"]["transaction"]["status"] == "TS", answer.text
    assert wallet(multi, "TZ")["balance_minor"] == opening - 500050
    assert "TZS 5000.50" in answer.json()["status"]["message"]


def test_ugx_amounts_with_cents_are_refused(multi):
    txn_id = new_id("col")
    body = {
        "reference": "QMOI order",
        "subscriber": {"msisdn": "753000100"},
        "transaction": {"amount": 100.5, "id": txn_id},
    }
    answer = multi.http.post("/merchant/v1/payments/", json=body, headers=headers(multi, "UG"))
    assert answer.json()["status"]["success"] is False


def test_customers_are_created_per_country_as_valid_mobiles(multi):
    created = multi.sandbox("POST", "/customers", json={"count": 5, "country": "UG"})
    for msisdn in created["msisdns"]:
        parsed = phonenumbers.parse("+" + msisdn)
        assert phonenumbers.region_code_for_number(parsed) == "UG"
        assert phonenumbers.is_valid_number(parsed)


@pytest.mark.parametrize("country", sorted(TEST_PREFIXES))
def test_test_numbers_are_valid_mobiles_and_match_qmois_sandbox_owner(country):
    rules = COUNTRIES[country]
    numbers = fixed_numbers(country)
    assert sorted(numbers.values()) == sorted(Outcome)
    for national in numbers:
        assert len(national) == rules.national_length
        parsed = phonenumbers.parse("+" + rules.to_international(national))
        assert phonenumbers.is_valid_number(parsed), national
    approves = next(n for n, o in numbers.items() if o is Outcome.APPROVE)
    assert sandbox_owner(country) == rules.to_international(approves)


def test_an_unknown_served_country_is_refused_by_the_config():
    with pytest.raises(ValueError, match="countries"):
        AirtelSandboxConfig(countries=("XX",))
