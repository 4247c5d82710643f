"""The reporting currency and the owner's dated rates into it (``QMOI_REPORTING_CURRENCY``,
``QMOI_RATES``): read and checked here; QMOI never fetches or invents a rate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from qmoi.config.models import ReportingSettings
from qmoi.config.reader import Reader, key_values
from qmoi.domain.errors import UnknownCurrency
from qmoi.domain.money import exponent
from qmoi.domain.rates import Rate

NAME, RATES = "QMOI_REPORTING_CURRENCY", "QMOI_RATES"
EXAMPLE = "UGX=0.0349@2026-12-01"


def read_reporting(reader: Reader, currencies: set[str]) -> ReportingSettings:
    """``currencies``: those the accounts collect in, each of which wants a rate."""
    given = reader.text(NAME)
    currency = given.upper() if given else None
    if currency is not None and not _known(currency):
        reader.problem(NAME, f"{given!r} is not an ISO 4217 currency code", "use e.g. KES")
        currency = None
    rates: list[Rate] = []
    for code, text in key_values(reader, RATES):
        rate = _rate(reader, code.upper(), text, currency)
        if rate is not None:
            rates.append(rate)
    if rates and currency is None and given is None:
        reader.warn(RATES, f"rates are given but no {NAME}, so nothing is converted", f"set {NAME}")
    if currency is not None:
        missing = sorted(currencies - {currency} - {r.currency for r in rates})
        if missing:
            reader.warn(
                RATES,
                f"no rate into {currency} for {', '.join(missing)}, so the converted totals "
                "are left out (QMOI never invents a rate)",
                f"add {missing[0]}=rate@YYYY-MM-DD",
            )
    return ReportingSettings(currency=currency, rates=tuple(rates))


def _rate(reader: Reader, code: str, text: str, into: str | None) -> Rate | None:
    number, at, day = text.partition("@")
    if not _known(code):
        reader.problem(RATES, f"{code!r} is not an ISO 4217 currency code", f"e.g. {EXAMPLE}")
        return None
    if code == into:
        reader.problem(RATES, f"{code} is the reporting currency itself", "leave it out")
        return None
    try:
        rate = Decimal(number.strip())
        as_of = date.fromisoformat(day.strip()) if at else None
    except (InvalidOperation, ValueError):
        rate, as_of = Decimal(0), None
    if not rate.is_finite() or rate <= 0 or as_of is None:
        reader.problem(
            RATES,
            f"{code}={text!r} is not a positive rate with the day it is from",
            f"give e.g. {EXAMPLE}",
        )
        return None
    return Rate(code, rate, as_of)


def _known(currency: str) -> bool:
    try:
        exponent(currency)
    except UnknownCurrency:
        return False
    return True
