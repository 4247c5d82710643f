"""Kenyan mobile numbers (MSISDNs): the one rule every payment, payout and setting uses,
so a number is stored in one form (``2547…``) whatever way it was typed."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import carrier

#: Network names as ``phonenumbers`` knows the carriers.
NETWORKS = {"Airtel": ("Airtel",), "Safaricom": ("Safaricom",)}


def normalise_msisdn(value: str, network: str | None = None) -> tuple[str, str | None]:
    """``0733 123 456`` / ``+254733123456`` / ``254733123456`` → ``254733123456``.

    Returns the number and None, or the input and what is wrong with it. When
    ``network`` is given ("Airtel" or "Safaricom"), the number must belong to it.
    """
    cleaned = re.sub(r"[\s\-().]", "", value)
    if cleaned.startswith("254") and not cleaned.startswith("+"):
        cleaned = "+" + cleaned
    try:
        parsed = phonenumbers.parse(cleaned, "KE")
    except phonenumbers.NumberParseException:
        return value, f"{value!r} is not a phone number"
    if not phonenumbers.is_valid_number(parsed) or parsed.country_code != 254:
        return value, f"{value!r} is not a valid Kenyan mobile number"
    operator = carrier.name_for_number(parsed, "en")
    if network is not None and operator not in NETWORKS[network]:
        article = "an" if operator[:1].upper() in "AEIOU" else "a"
        what = f"{article} {operator} number" if operator else "not a mobile number"
        return value, f"{value!r} is {what}, not {network}"
    return f"{parsed.country_code}{parsed.national_number}", None
