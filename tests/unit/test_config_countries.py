"""Airtel's country and currency in the settings: one Airtel Money serves, the
currency that country's, the owner's number and the amounts read as that country's."""

from __future__ import annotations

import phonenumbers
import pytest

from qmoi.config import RawValues, build_settings
from qmoi.domain.money import Money
from qmoi.providers.airtel import countries


def load(**values: str):  # type: ignore[no-untyped-def]
    return build_settings(RawValues(values))


def test_a_ugandan_airtel_account_with_its_owner_number_is_accepted() -> None:
    settings, report = load(
        AIRTEL_COUNTRY="UG", AIRTEL_CURRENCY="UGX", AIRTEL_PHONE_NUMBER="+256701234567"
    )
    assert settings is not None, report.problems
    # the one warning: the KES minimum guarantee cannot guard UGX collections
    assert report.warnings == [
        "QMOI_MINIMUM_GUARANTEE: is in KES, so it guards nothing collected in UGX, and the "
        "combined target counts only KES — expect no minimum alert for those collections"
    ]
    airtel = settings.airtel
    assert (airtel.country, airtel.currency, airtel.phone_number) == ("UG", "UGX", "256701234567")
    # amounts in UGX, which has no minor unit: 10000 is UGX 10,000, not 1,000,000 cents
    assert settings.targets.daily_airtel == Money(10_000, "UGX")
    assert settings.transfers.chunk_airtel == Money(2_000, "UGX")
    assert settings.targets.daily_mpesa == Money(1_000_000, "KES")


def test_the_currency_defaults_to_the_countrys() -> None:
    settings, report = load(AIRTEL_COUNTRY="rw", AIRTEL_PHONE_NUMBER="0731234567")
    assert settings is not None, report.problems
    assert (settings.airtel.country, settings.airtel.currency) == ("RW", "RWF")
    assert settings.airtel.phone_number == "250731234567"


@pytest.mark.parametrize(
    ("values", "line"),
    [
        (
            {"AIRTEL_COUNTRY": "UG", "AIRTEL_CURRENCY": "KES"},
            "AIRTEL_CURRENCY: 'KES' is not the currency of Airtel Money in Uganda — use UGX "
            "(AIRTEL_COUNTRY=UG), or leave it unset",
        ),
        (
            {"AIRTEL_CURRENCY": "UGX"},
            "AIRTEL_CURRENCY: 'UGX' is not the currency of Airtel Money in Kenya — use KES "
            "(AIRTEL_COUNTRY=KE), or leave it unset",
        ),
        (
            {"AIRTEL_CURRENCY": "ABC"},
            "AIRTEL_CURRENCY: 'ABC' is not an ISO 4217 currency code — use KES "
            "(AIRTEL_COUNTRY=KE), or leave it unset",
        ),
        (
            {"AIRTEL_COUNTRY": "GH"},
            "AIRTEL_COUNTRY: 'GH' is not a country Airtel Money serves — use one of "
            + ", ".join(countries.CURRENCIES),
        ),
        (
            {"AIRTEL_COUNTRY": "UG", "AIRTEL_PHONE_NUMBER": "0733123456"},
            "AIRTEL_PHONE_NUMBER: '0733123456' is not a valid Ugandan mobile number — give "
            "the owner's Airtel number, e.g. 0712 345678",
        ),
        (
            {"AIRTEL_PHONE_NUMBER": "+256701234567"},
            "AIRTEL_PHONE_NUMBER: '+256701234567' is not a valid Kenyan mobile number — give "
            "the owner's Airtel number, e.g. 0733 123 456",
        ),
        (
            {"AIRTEL_COUNTRY": "UG", "QMOI_DAILY_TARGET_AIRTEL": "300000.50"},
            "QMOI_DAILY_TARGET_AIRTEL: amount '300000.50' has decimals, and UGX has no minor "
            "unit — give an amount like 10000 or 10,000 (UGX has no cents)",
        ),
    ],
)
def test_a_country_currency_or_number_that_do_not_fit_is_one_clear_problem(
    values: dict[str, str], line: str
) -> None:
    settings, report = load(**values)
    assert settings is None
    assert report.problems == [line]


@pytest.mark.parametrize("country", ["KE", "UG", "TZ", "ZM", "MW", "RW", "CD", "NG"])
def test_every_tested_airtel_country_has_its_currency(country: str) -> None:
    currency = countries.currency_of(country)
    assert currency is not None
    settings, report = load(AIRTEL_COUNTRY=country, AIRTEL_CURRENCY=currency)
    assert settings is not None, report.problems
    assert settings.airtel.currency == currency
    owner = settings.airtel.phone_number
    assert owner.startswith(countries.dialling_code(country))
    # the sandbox owner is the emulator's approving test number: a valid mobile there
    assert phonenumbers.is_valid_number(phonenumbers.parse("+" + owner))
