"""The Airtel package's view of the countries Airtel Money serves (§12): country →
currency, and each country's dialling code from ``phonenumbers``. The table itself is
:mod:`qmoi.domain.countries`, where the settings can check ``AIRTEL_COUNTRY`` against it
too (they may not import a provider)."""

from __future__ import annotations

from qmoi.domain.countries import AIRTEL_CURRENCIES as CURRENCIES
from qmoi.domain.countries import NAMES
from qmoi.domain.msisdn import dial_code

__all__ = ["CURRENCIES", "NAMES", "currency_of", "dialling_code"]


def currency_of(country: str) -> str | None:
    """The currency Airtel wallets of ``country`` hold, or None outside the footprint."""
    return CURRENCIES.get(country)


def dialling_code(country: str) -> str:
    """``"UG"`` → ``"256"``, from phonenumbers' metadata."""
    return str(dial_code(country))
