"""Mobile numbers (MSISDNs) of one country: the one rule every payment, payout and setting
uses, so a number is stored in one form (E.164 digits without ``+``: ``2547…``,
``2567…``) whatever way it was typed. Parsing, validity and carriers come from
``phonenumbers`` (Google's libphonenumber data), never from prefix tables of our own.

A number's carrier in that data is only where its range was first allocated: numbers can
be ported between networks, so a mismatch is a hint (:attr:`CheckedMsisdn.network_hint`)
that becomes a refusal only when the caller asks for strictness.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, carrier

#: Network names as ``phonenumbers`` knows the carriers.
NETWORKS = {"Airtel": ("Airtel",), "Safaricom": ("Safaricom",)}

#: How error messages name a country's numbers ("not a valid Ugandan mobile number");
#: other countries are named "of {region}".
NATIONALITIES = {
    "KE": "Kenyan",
    "UG": "Ugandan",
    "TZ": "Tanzanian",
    "ZM": "Zambian",
    "MW": "Malawian",
    "RW": "Rwandan",
    "CD": "Congolese (DRC)",
    "NG": "Nigerian",
    "CG": "Congolese",
    "GA": "Gabonese",
    "TD": "Chadian",
    "NE": "Nigerien",
    "MG": "Malagasy",
    "SC": "Seychellois",
}

_MOBILE = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
_SEPARATORS = re.compile(r"[\s\-().]")


@dataclass(frozen=True, slots=True)
class CheckedMsisdn:
    """What :func:`check_msisdn` found: the stored form, or why there is none."""

    number: str  # E.164 digits without "+", or the input as given when invalid
    problem: str | None = None  # not a valid mobile number of the country
    network_hint: str | None = None  # valid, but its range belongs to another network


def mobile_description(country: str) -> str:
    """``"Ugandan mobile number"``; countries without an entry: ``"mobile number of XY"``."""
    name = NATIONALITIES.get(country)
    return f"{name} mobile number" if name else f"mobile number of {country}"


def dial_code(country: str) -> int:
    """The country calling code of an ISO region (``"UG"`` → 256); ValueError if unknown."""
    code = phonenumbers.country_code_for_region(country)
    if not code:
        raise ValueError(f"{country!r} is not a country phonenumbers knows")
    return int(code)


def check_msisdn(value: str, country: str = "KE", network: str | None = None) -> CheckedMsisdn:
    """Parse ``value`` as a mobile number of ``country`` (ISO 3166 alpha-2).

    Local (``0701 234 567``), international (``+256701234567``) and bare international
    (``256701234567``) forms are all accepted. When ``network`` is given ("Airtel" or
    "Safaricom") and the number's range belongs to another, ``network_hint`` says so.
    """
    code = str(dial_code(country))
    cleaned = _SEPARATORS.sub("", value)
    parsed = None
    if cleaned.isdigit() and cleaned.startswith(code):  # 2567… typed without its "+"
        parsed = _parse("+" + cleaned, country)
        if parsed is not None and not phonenumbers.is_valid_number(parsed):
            parsed = None
    if parsed is None:
        parsed = _parse(cleaned, country)
    if parsed is None:
        return CheckedMsisdn(value, f"{value!r} is not a phone number")
    if (
        not phonenumbers.is_valid_number_for_region(parsed, country)
        or phonenumbers.number_type(parsed) not in _MOBILE
    ):
        return CheckedMsisdn(value, f"{value!r} is not a valid {mobile_description(country)}")
    number = f"{parsed.country_code}{parsed.national_number}"
    hint = None
    operator = carrier.name_for_number(parsed, "en")
    if network is not None and operator not in NETWORKS[network]:
        if operator:
            article = "an" if operator[:1].upper() in "AEIOU" else "a"
            hint = f"{value!r} is {article} {operator} number, not {network}"
        else:
            hint = f"{value!r} is in a range of no known network, not {network}"
    return CheckedMsisdn(number, None, hint)


def normalise_msisdn(
    value: str, country: str = "KE", network: str | None = None, *, strict: bool = False
) -> tuple[str, str | None]:
    """``0733 123 456`` / ``+254733123456`` / ``254733123456`` → ``254733123456``.

    Returns the number and None, or the input and what is wrong with it. A number of
    another ``network`` is wrong only when ``strict``; otherwise ask :func:`check_msisdn`
    for the hint.
    """
    checked = check_msisdn(value, country, network)
    if checked.problem is not None:
        return value, checked.problem
    if strict and checked.network_hint is not None:
        return value, checked.network_hint
    return checked.number, None


def _parse(text: str, country: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException:
        return None


def masked(msisdn: str | None) -> str | None:
    """A number as answers and screens show it: the first 3 and last 3 digits
    (``254*****100``); one already masked, or too short to mask, as it is."""
    if msisdn is None:
        return None
    return msisdn if "*" in msisdn or len(msisdn) < 7 else f"{msisdn[:3]}*****{msisdn[-3:]}"
