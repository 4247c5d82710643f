"""The owner's rates: a conversion rounds once, half to even, into the reporting
currency's minor unit, and a rate converts only its own currency; the settings refuse a
rate without its day and warn about a currency without one."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qmoi.config import RawValues, build_settings
from qmoi.domain.money import Money
from qmoi.domain.rates import Rate, convert

DAY = date(2026, 12, 1)


@given(
    minor=st.integers(min_value=0, max_value=10**12),
    rate=st.decimals(min_value="0.0001", max_value="1000", places=4),
)
def test_a_conversion_is_the_exact_product_rounded_once_half_to_even(
    minor: int, rate: Decimal
) -> None:
    got = convert(Money(minor, "UGX"), Rate("UGX", rate, DAY), "KES")
    exact = Decimal(minor) * rate * 100  # UGX has no minor unit, KES has two places
    assert got == Money(int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)), "KES")


@given(a=st.integers(min_value=0, max_value=10**9), b=st.integers(min_value=0, max_value=10**9))
def test_a_conversion_never_reverses_an_order(a: int, b: int) -> None:
    rate = Rate("TZS", Decimal("0.0478"), DAY)
    low, high = sorted((a, b))
    assert convert(Money(low * 100, "TZS"), rate, "KES") <= convert(
        Money(high * 100, "TZS"), rate, "KES"
    )


def test_a_rate_converts_only_its_own_currency() -> None:
    with pytest.raises(ValueError, match="a UGX rate cannot convert TZS"):
        convert(Money(100, "TZS"), Rate("UGX", Decimal("0.03"), DAY), "KES")
    assert convert(Money(100, "KES"), Rate("UGX", Decimal("0.03"), DAY), "KES") == Money(100, "KES")


@pytest.mark.parametrize(
    "rates",
    [
        "UGX=0.0349",
        "UGX=-1@2026-12-01",
        "UGX=abc@2026-12-01",
        "UGX=0.03@yesterday",
        "XXZ=1@2026-12-01",
        "KES=1@2026-12-01",
    ],
)
def test_a_rate_without_its_day_or_sense_is_a_problem(rates: str) -> None:
    settings, report = build_settings(
        RawValues({"QMOI_REPORTING_CURRENCY": "KES", "QMOI_RATES": rates, "AIRTEL_COUNTRY": "UG"})
    )
    assert settings is None
    assert [p.split(":", 1)[0] for p in report.problems] == ["QMOI_RATES"]


def test_a_currency_without_a_rate_is_warned_about_and_a_good_rate_is_kept() -> None:
    raw = {"QMOI_REPORTING_CURRENCY": "kes", "AIRTEL_COUNTRY": "UG"}
    settings, report = build_settings(RawValues(raw))
    assert settings is not None, report.problems
    assert any(w.startswith("QMOI_RATES: no rate into KES for UGX") for w in report.warnings)
    settings, report = build_settings(RawValues({**raw, "QMOI_RATES": "UGX=0.0349@2026-12-01"}))
    assert settings is not None, report.problems
    assert settings.reporting.currency == "KES"
    assert settings.reporting.rates == (Rate("UGX", Decimal("0.0349"), DAY),)
    assert not [w for w in report.warnings if w.startswith("QMOI_RATES")]
