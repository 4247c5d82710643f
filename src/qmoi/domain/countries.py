"""The countries Airtel Money serves, each with the one currency its wallets hold (the
``X-Country`` / ``X-Currency`` pair of every Airtel call). Plain data, kept in the domain
because both the settings (which check ``AIRTEL_COUNTRY`` / ``AIRTEL_CURRENCY``) and the
Airtel connector use it, and the settings sit below the providers. Dial codes and number
rules are not kept here: they come from ``phonenumbers``; decimals from ISO 4217."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

#: ISO 3166 country → ISO 4217 currency of its Airtel Money wallets. The first eight
#: are the countries QMOI is tested for; DR Congo's USD wallets are unconfirmed.
AIRTEL_CURRENCIES: dict[str, str] = {
    "KE": "KES",
    "UG": "UGX",
    "TZ": "TZS",
    "ZM": "ZMW",
    "MW": "MWK",
    "RW": "RWF",
    "CD": "CDF",
    "NG": "NGN",
    "CG": "XAF",
    "GA": "XAF",
    "TD": "XAF",
    "NE": "XOF",
    "MG": "MGA",
    "SC": "SCR",
}

#: Country names for messages ("'KES' is not the currency of Airtel Money in Uganda").
NAMES: dict[str, str] = {
    "KE": "Kenya",
    "UG": "Uganda",
    "TZ": "Tanzania",
    "ZM": "Zambia",
    "MW": "Malawi",
    "RW": "Rwanda",
    "CD": "DR Congo",
    "NG": "Nigeria",
    "CG": "Congo-Brazzaville",
    "GA": "Gabon",
    "TD": "Chad",
    "NE": "Niger",
    "MG": "Madagascar",
    "SC": "Seychelles",
}

#: Sandbox only: roughly how many units of a currency a shilling's worth is, so that the
#: traffic model (whose stream ranges are in KES) asks Ugandan customers for UGX-sized
#: amounts. Illustrative round numbers, never an exchange rate: nothing real is converted.
SANDBOX_UNITS_PER_KES: dict[str, Decimal] = {
    "KES": Decimal(1),
    "UGX": Decimal(30),
    "TZS": Decimal(20),
    "ZMW": Decimal("0.2"),
    "MWK": Decimal(13),
    "RWF": Decimal(10),
    "CDF": Decimal(22),
    "NGN": Decimal(12),
    "XAF": Decimal(5),
    "XOF": Decimal(5),
    "MGA": Decimal(35),
    "SCR": Decimal("0.1"),
}


def sandbox_units(shillings: int, currency: str) -> int:
    """``shillings`` of the KES-based traffic model as whole units of ``currency``
    (at least 1): sales keep round, whole amounts in every currency."""
    factor = SANDBOX_UNITS_PER_KES.get(currency, Decimal(1))
    return max(1, int((shillings * factor).to_integral_value(ROUND_HALF_UP)))
