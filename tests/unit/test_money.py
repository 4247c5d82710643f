from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qmoi.domain.errors import CurrencyMismatch, InvalidAmount
from qmoi.domain.money import MAX_MINOR, Money


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("1,250.50", 125050),
        ("1250.5", 125050),
        ("1250", 125000),
        (" 2,000 ", 200000),
        ("0.01", 1),
        ("1,000,000.00", 100000000),
        (Decimal("12.34"), 1234),
        (7, 700),
    ],
)
def test_parse_accepts_shillings_and_cents(text: str | int | Decimal, minor: int) -> None:
    assert Money.parse(text).minor == minor


@pytest.mark.parametrize(
    "bad", [1.5, 0.1, True, "1.234", "1,25", "12,34.00", "abc", "", "1e3", "NaN", "--1", None]
)
def test_parse_refuses_floats_and_malformed_text(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(bad)  # type: ignore[arg-type]


def test_negative_refused_unless_allowed() -> None:
    with pytest.raises(InvalidAmount, match="negative"):
        Money.parse("-5")
    assert Money.parse("-5", allow_negative=True).minor == -500


@pytest.mark.parametrize(
    "huge", [10**17, -(10**17), "92233720368547758.08", Decimal("1.7976931348623155e+308")]
)
def test_an_amount_too_large_for_the_books_is_refused_not_overflowed(huge: object) -> None:
    """The books hold a 64-bit count of cents; a JSON number like 1.8e308 once reached
    the API's transfer route and crashed it."""
    with pytest.raises(InvalidAmount, match="too large"):
        Money.parse(huge, allow_negative=True)  # type: ignore[arg-type]
    assert Money.parse("92233720368547758.07").minor == MAX_MINOR


def test_zero_decimal_currency_has_no_cents() -> None:
    assert Money.parse("1500", "UGX").minor == 1500
    with pytest.raises(InvalidAmount):
        Money.parse("1500.50", "UGX")


def test_constructor_refuses_float_and_bad_currency() -> None:
    with pytest.raises(InvalidAmount):
        Money(1.0, "KES")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(100, "kes")


def test_mixing_currencies_raises() -> None:
    with pytest.raises(CurrencyMismatch):
        Money(1, "KES") + Money(1, "UGX")
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "KES") < Money(1, "UGX")


def test_multiplying_by_a_float_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        Money(100, "KES") * 0.3  # type: ignore[operator]
    assert (Money(100, "KES") * 3).minor == 300


def test_format_and_decimal() -> None:
    money = Money(125050, "KES")
    assert money.format() == "KES 1,250.50"
    assert money.to_decimal() == Decimal("1250.50")
    assert str(money.to_decimal()) == "1250.50"


def test_allocate_gives_remainder_to_largest_shares_deterministically() -> None:
    parts = Money(100, "KES").allocate([1, 1, 1])
    assert [p.minor for p in parts] == [34, 33, 33]
    parts = Money(-100, "KES").allocate([1, 1, 1])
    assert [p.minor for p in parts] == [-34, -33, -33]


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=8).filter(any),
)
def test_allocate_parts_always_sum_to_the_whole(minor: int, weights: list[int]) -> None:
    parts = Money(minor, "KES").allocate(weights)
    assert sum(p.minor for p in parts) == minor
    assert len(parts) == len(weights)
    for part, weight in zip(parts, weights, strict=True):
        if weight == 0:
            assert part.minor == 0


@given(st.integers(min_value=0, max_value=10**15))
def test_parse_of_formatted_round_trips(minor: int) -> None:
    money = Money(minor, "KES")
    assert Money.parse(f"{money.to_decimal():,}") == money
