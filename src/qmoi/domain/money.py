"""Money as an integer count of minor units (cents) with its currency.

Never a float: a float amount is refused at the door, and every split goes through
:meth:`Money.allocate`, whose parts sum exactly to the whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import ClassVar

from iso4217 import Currency

from qmoi.domain.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency

#: the largest amount the books hold: a signed 64-bit count of minor units (BIGINT)
MAX_MINOR = 2**63 - 1

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_AMOUNT = re.compile(r"^(?P<sign>-)?(?P<whole>\d{1,3}(,\d{3})+|\d+)(\.(?P<frac>\d+))?$")


@cache
def exponent(currency: str) -> int:
    """Decimal places of ``currency`` as ISO 4217 gives them (KES 2, UGX and RWF 0), from
    the maintained ``iso4217`` data rather than a table of our own that would drift.

    Raises :class:`UnknownCurrency` for a code ISO 4217 does not list, or one with no
    minor unit defined (gold, "no currency"), so no amount is read with guessed decimals.
    """
    try:
        places = Currency(currency).exponent if _CURRENCY.match(currency) else None
    except ValueError:
        places = None
    if places is None:
        raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency code")
    return places


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in integer minor units of one currency. Immutable; arithmetic checks currency."""

    minor: int
    currency: str

    DEFAULT_CURRENCY: ClassVar[str] = "KES"

    def __post_init__(self) -> None:
        if type(self.minor) is not int:  # bool and float are refused too
            raise InvalidAmount(
                f"amount must be an integer number of minor units, got {self.minor!r}"
            )
        if not isinstance(self.currency, str) or not _CURRENCY.match(self.currency):
            raise InvalidAmount(f"currency must be a 3-letter ISO code, got {self.currency!r}")
        exponent(self.currency)  # an unknown code is refused here, not when first shown

    # --- construction -----------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str = DEFAULT_CURRENCY) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(
        cls,
        value: str | int | Decimal,
        currency: str = DEFAULT_CURRENCY,
        *,
        allow_negative: bool = False,
    ) -> Money:
        """Parse major units: ``"1,250.50"``, ``"1250"``, ``1250`` or ``Decimal("1250.5")``.

        Refuses floats, more decimals than the currency has, amounts too large for the
        books (:data:`MAX_MINOR`), and negatives unless allowed.
        """
        if isinstance(value, bool) or isinstance(value, float):
            raise InvalidAmount(
                f"amount {value!r} is a {type(value).__name__}; give a string or integer"
            )
        places = exponent(currency)
        if isinstance(value, int):
            minor = value * 10**places
        elif isinstance(value, Decimal):
            minor = _decimal_to_minor(value, places, str(value), currency)
        elif isinstance(value, str):
            text = value.strip().replace(" ", "")
            match = _AMOUNT.match(text)
            if not match:
                raise InvalidAmount(f"{value!r} is not an amount like 1250 or 1,250.50")
            try:
                number = Decimal(text.replace(",", ""))
            except InvalidOperation as exc:  # pragma: no cover - the regex excludes this
                raise InvalidAmount(f"{value!r} is not an amount") from exc
            minor = _decimal_to_minor(number, places, value, currency)
        else:
            raise InvalidAmount(f"amount {value!r} has unsupported type {type(value).__name__}")
        if abs(minor) > MAX_MINOR:
            raise InvalidAmount(f"amount {value!r} is too large")
        money = cls(minor, currency)
        if money.minor < 0 and not allow_negative:
            raise InvalidAmount(f"amount {value!r} is negative")
        return money

    # --- arithmetic ---------------------------------------------------------------------

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot mix {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise InvalidAmount("money can only be multiplied by an integer; use allocate()")
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def __bool__(self) -> bool:
        return self.minor != 0

    @property
    def is_positive(self) -> bool:
        return self.minor > 0

    @property
    def is_negative(self) -> bool:
        return self.minor < 0

    def allocate(self, weights: list[int]) -> list[Money]:
        """Split in proportion to integer ``weights``; the parts sum exactly to ``self``.

        Remainders go one minor unit at a time to the largest fractional shares (ties to
        the earlier weight), so the result is deterministic.
        """
        if not weights or any(type(w) is not int or w < 0 for w in weights):
            raise InvalidAmount("weights must be non-negative integers")
        total = sum(weights)
        if total == 0:
            raise InvalidAmount("weights must not all be zero")
        sign = -1 if self.minor < 0 else 1
        whole = abs(self.minor)
        shares = [whole * w // total for w in weights]
        remainders = [(whole * w % total, -i) for i, w in enumerate(weights)]
        for _, neg_index in sorted(remainders, reverse=True)[: whole - sum(shares)]:
            shares[-neg_index] += 1
        return [Money(sign * s, self.currency) for s in shares]

    # --- presentation -------------------------------------------------------------------

    def to_decimal(self) -> Decimal:
        """Major units as an exact Decimal (``Money(125050, "KES")`` → ``Decimal("1250.50")``)."""
        places = exponent(self.currency)
        return Decimal(self.minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))

    def format(self) -> str:
        """``KES 1,250.50``, ``UGX 300,000``: the currency's own decimals, never more."""
        places = exponent(self.currency)
        return f"{self.currency} {self.to_decimal():,.{places}f}"

    def __str__(self) -> str:
        return self.format()


def _decimal_to_minor(number: Decimal, places: int, shown: object, currency: str) -> int:
    if not number.is_finite():
        raise InvalidAmount(f"amount {shown!r} is not a finite number")
    scaled = number.scaleb(places)
    if scaled != scaled.to_integral_value():
        if places == 0:
            raise InvalidAmount(f"amount {shown!r} has decimals, and {currency} has no minor unit")
        raise InvalidAmount(f"amount {shown!r} has more than {places} decimal places")
    return int(scaled)
