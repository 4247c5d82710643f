"""The owner's exchange rates, as data: QMOI never fetches or invents a rate, so a figure
is converted only with a rate the owner gave, and says which one and from when.

``rate`` is how many units of the reporting currency one unit of ``currency`` is worth
(``UGX=0.0349``: 1 UGX = 0.0349 KES). A conversion rounds once, half to even, to the
reporting currency's minor unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from qmoi.domain.money import Money, exponent


@dataclass(frozen=True, slots=True)
class Rate:
    currency: str
    rate: Decimal
    as_of: date


def convert(money: Money, rate: Rate, into: str) -> Money:
    """``money`` (in ``rate.currency``) in ``into``, rounded once to its minor unit."""
    if money.currency == into:
        return money
    if money.currency != rate.currency:
        raise ValueError(f"a {rate.currency} rate cannot convert {money.currency}")
    units = Decimal(money.minor).scaleb(-exponent(money.currency)) * rate.rate
    minor = units.scaleb(exponent(into)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return Money(int(minor), into)
