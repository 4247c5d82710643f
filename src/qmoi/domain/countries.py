"""The countries Airtel Money serves, each with the one currency its wallets hold (the
``X-Country`` / ``X-Currency`` pair of every Airtel call). Plain data, kept in the domain
because both the settings (which check ``AIRTEL_COUNTRY`` / ``AIRTEL_CURRENCY``) and the
Airtel connector use it, and the settings sit below the providers. Dial codes and number
rules are not kept here: they come from ``phonenumbers``; decimals from ISO 4217."""

from __future__ import annotations

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
