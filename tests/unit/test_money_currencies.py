"""Currency decimals come from ISO 4217 (the ``iso4217`` package): amounts in currencies
without a minor unit have no cents, unknown codes are refused, and each currency is
shown with its own decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qmoi.domain.errors import InvalidAmount, UnknownCurrency
from qmoi.domain.money import Money, exponent


@pytest.mark.parametrize(
    ("currency", "places"),
    [
        ("KES", 2),
        ("UGX", 0),
        ("RWF", 0),
        ("TZS", 2),
        ("ZMW", 2),
        ("MWK", 2),
        ("CDF", 2),
        ("NGN", 2),
        ("XAF", 0),
        ("MGA", 2),
    ],
)
def test_exponents_are_iso_4217(currency: str, places: int) -> None:
    assert exponent(currency) == places


@pytest.mark.parametrize("code", ["ABC", "GAB", "XAU", "XXX", "kes", "KESX", ""])
def test_an_unknown_currency_is_refused_with_a_clear_error(code: str) -> None:
    with pytest.raises(UnknownCurrency, match="is not an ISO 4217 currency code"):
        exponent(code)


def test_unknown_currencies_are_refused_wherever_money_is_made() -> None:
    with pytest.raises(InvalidAmount, match="'ABC' is not an ISO 4217 currency code"):
        Money(100, "ABC")
    with pytest.raises(InvalidAmount, match="'XAU' is not an ISO 4217 currency code"):
        Money.parse("1", "XAU")  # gold has no minor unit to count in


@pytest.mark.parametrize("currency", ["UGX", "RWF"])
@pytest.mark.parametrize("value", ["1500.50", "1,500.5", Decimal("1500.1")])
def test_amounts_with_cents_are_refused_without_a_minor_unit(
    currency: str, value: str | Decimal
) -> None:
    with pytest.raises(InvalidAmount, match=f"has decimals, and {currency} has no minor unit"):
        Money.parse(value, currency)


def test_whole_amounts_are_minor_units_without_a_minor_unit() -> None:
    assert Money.parse("300,000", "UGX") == Money(300_000, "UGX")
    assert Money.parse(300_000, "UGX") == Money(300_000, "UGX")
    assert Money.parse("1500.00", "RWF") == Money(1500, "RWF")  # zeros are no cents
    assert Money.parse(1500, "KES") == Money(150_000, "KES")


@pytest.mark.parametrize(
    ("money", "shown"),
    [
        (Money(30_000_000, "KES"), "KES 300,000.00"),
        (Money(125_050, "KES"), "KES 1,250.50"),
        (Money(-5, "KES"), "KES -0.05"),
        (Money(300_000, "UGX"), "UGX 300,000"),
        (Money(1500, "RWF"), "RWF 1,500"),
        (Money(123_456, "NGN"), "NGN 1,234.56"),
    ],
)
def test_each_currency_is_shown_with_its_own_decimals(money: Money, shown: str) -> None:
    assert money.format() == shown
    assert str(money) == shown


def test_to_decimal_follows_the_exponent() -> None:
    assert str(Money(300_000, "UGX").to_decimal()) == "300000"
    assert str(Money(125_050, "KES").to_decimal()) == "1250.50"
