"""Airtel's country and currency: ``AIRTEL_COUNTRY`` one Airtel Money serves,
``AIRTEL_CURRENCY`` that country's (defaulting to it), and the owner's number read as
that country's, against the table in :mod:`qmoi.domain.countries`."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from qmoi.config.catalogue import SANDBOX_OWNER_AIRTEL
from qmoi.config.reader import Reader
from qmoi.domain.countries import AIRTEL_CURRENCIES, NAMES
from qmoi.domain.errors import UnknownCurrency
from qmoi.domain.money import exponent

#: the national part of the Airtel emulator's "always approves" test customer
_SANDBOX_OWNER_NATIONAL = SANDBOX_OWNER_AIRTEL.removeprefix("254")

#: The emulator's "always approves" national number per country where 733000100 is not a
#: valid mobile number (docs/sandbox.md "Test numbers"; a test keeps the two in step).
_SANDBOX_OWNER_ELSEWHERE: dict[str, str] = {
    "UG": "753000100",
    "TZ": "783000100",
    "ZM": "973000100",
    "MW": "993000100",
    "CD": "973000100",
    "NG": "8083000100",
    "CG": "053000100",
    "GA": "077000100",
    "MG": "333000100",
}


def read_country(reader: Reader) -> tuple[str, str]:
    """``(country, currency)``; on a problem, a valid pair to read the rest with."""
    currencies, names = AIRTEL_CURRENCIES, NAMES
    country = (reader.text("AIRTEL_COUNTRY") or "KE").upper()
    given = reader.text("AIRTEL_CURRENCY")
    currency = given.upper() if given else None
    if country not in currencies:
        reader.problem(
            "AIRTEL_COUNTRY",
            f"{country!r} is not a country Airtel Money serves",
            f"use one of {', '.join(currencies)}",
        )
        country = "KE"
        if currency is not None and not _known(currency):
            reader.problem(
                "AIRTEL_CURRENCY", f"{currency!r} is not an ISO 4217 currency code", "use KES"
            )
        return country, currencies[country]
    expected = currencies[country]
    if currency is not None and currency != expected:
        what = (
            f"the currency of Airtel Money in {names[country]}"
            if _known(currency)
            else "an ISO 4217 currency code"
        )
        reader.problem(
            "AIRTEL_CURRENCY",
            f"{currency!r} is not {what}",
            f"use {expected} (AIRTEL_COUNTRY={country}), or leave it unset",
        )
    return country, expected


def _known(currency: str) -> bool:
    try:
        exponent(currency)
    except UnknownCurrency:
        return False
    return True


def owner_example(country: str) -> str:
    """A number to show in a fix: Kenya's familiar Airtel one, else phonenumbers' example
    mobile of the country in its national format."""
    if country == "KE":
        return "0733 123 456"
    example = phonenumbers.example_number_for_type(country, PhoneNumberType.MOBILE)
    if example is None:  # pragma: no cover - every Airtel country has one
        return "the number in its local form"
    return phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)


def sandbox_owner(country: str) -> str:
    """The emulator's "always approves" test customer of ``country``: the owner's number
    when the sandbox is given none."""
    if country == "KE":
        return SANDBOX_OWNER_AIRTEL
    national = _SANDBOX_OWNER_ELSEWHERE.get(country, _SANDBOX_OWNER_NATIONAL)
    return str(phonenumbers.country_code_for_region(country)) + national
