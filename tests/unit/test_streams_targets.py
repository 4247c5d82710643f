from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qmoi.domain.autotransfer import chunk_id, chunks_due
from qmoi.domain.errors import CurrencyMismatch, InvalidAmount, UnknownStream
from qmoi.domain.money import Money
from qmoi.domain.streams import STREAMS, StreamKey, attribute, stream
from qmoi.domain.targets import growth, next_day_target, progress_percent, split_target


def kes(text: str) -> Money:
    return Money.parse(text)


def test_five_streams_with_mission_ranges() -> None:
    assert [s.key.value for s in STREAMS] == [
        "mobile_services",
        "digital_payments",
        "airtime_sales",
        "data_packages",
        "utility_payments",
    ]
    mobile = stream("mobile_services")
    assert (mobile.sandbox_min, mobile.sandbox_max) == (kes("400"), kes("2200"))
    assert mobile.sandbox_success_percent == 95
    assert stream(StreamKey.DATA_PACKAGES).metrics_key == "dataPackages"


def test_unknown_stream_is_named_in_the_error() -> None:
    with pytest.raises(UnknownStream, match="lottery"):
        stream("lottery")


def test_c2b_attribution_longest_prefix_wins_else_default() -> None:
    rules = ((("AIR", StreamKey.AIRTIME_SALES)), ("AIRDATA", StreamKey.DATA_PACKAGES))
    assert attribute("air-123", rules, StreamKey.DIGITAL_PAYMENTS) is StreamKey.AIRTIME_SALES
    assert attribute("AIRDATA9", rules, StreamKey.DIGITAL_PAYMENTS) is StreamKey.DATA_PACKAGES
    assert attribute("INV-9", rules, StreamKey.DIGITAL_PAYMENTS) is StreamKey.DIGITAL_PAYMENTS


def test_split_follows_range_midpoints_and_sums_exactly() -> None:
    split = split_target(kes("10000"))
    assert sum(m.minor for m in split.values()) == 1_000_000
    # midpoints 1300, 850, 630, 470, 330 (total 3580): mobile gets 1300/3580 of the target
    assert split[StreamKey.MOBILE_SERVICES] == kes("3631.28")
    assert split[StreamKey.UTILITY_PAYMENTS] == kes("921.79")


def test_configured_stream_targets_keep_their_figure() -> None:
    split = split_target(kes("10000"), {StreamKey.AIRTIME_SALES: kes("5000")})
    assert split[StreamKey.AIRTIME_SALES] == kes("5000")
    assert sum(m.minor for m in split.values()) == 1_000_000


@given(st.integers(min_value=0, max_value=10**12))
def test_split_always_sums_to_the_target(minor: int) -> None:
    split = split_target(Money(minor, "KES"))
    assert sum(m.minor for m in split.values()) == minor


def test_progress_percent_is_exact_and_may_pass_100() -> None:
    assert progress_percent(kes("7300"), kes("10000")) == Decimal("73.00")
    assert progress_percent(kes("1"), kes("3")) == Decimal("33.33")
    assert progress_percent(kes("12500"), kes("10000")) == Decimal("125.00")
    assert progress_percent(kes("5"), Money.zero()) == Decimal("0.00")
    with pytest.raises(CurrencyMismatch):
        progress_percent(Money(1, "UGX"), kes("1"))


def test_growth_against_yesterday() -> None:
    assert growth(kes("12000"), kes("10000")) == Decimal("0.2000")
    assert growth(kes("9000"), kes("10000")) == Decimal("-0.1000")
    assert growth(kes("9000"), Money.zero()) is None


def test_growth_mode_target_never_below_minimum() -> None:
    assert next_day_target(kes("10000"), Decimal("0.20"), kes("8000")) == kes("12000")
    assert next_day_target(kes("5000"), Decimal("0.20"), kes("8000")) == kes("8000")


def test_auto_transfer_rule_mission_example() -> None:
    # 7,300 KES earned by noon means three transfers of 2,000, with 1,300 waiting
    assert chunks_due(kes("7300"), kes("2000"), 0) == 3
    assert chunks_due(kes("7300"), kes("2000"), 3) == 0
    assert chunks_due(kes("8000"), kes("2000"), 3) == 1
    assert chunks_due(kes("1999.99"), kes("2000"), 0) == 0


def test_auto_transfer_rule_refuses_nonsense() -> None:
    with pytest.raises(InvalidAmount):
        chunks_due(kes("100"), Money.zero(), 0)
    with pytest.raises(CurrencyMismatch):
        chunks_due(Money(1, "UGX"), kes("1"), 0)


@given(st.integers(min_value=0, max_value=10**10), st.integers(min_value=1, max_value=10**8))
def test_planned_chunks_never_exceed_earnings(earned: int, chunk: int) -> None:
    due = chunks_due(Money(earned, "KES"), Money(chunk, "KES"), 0)
    assert due * chunk <= earned < (due + 1) * chunk


def test_chunk_identity_is_deterministic_and_airtel_safe() -> None:
    first = chunk_id("airtel", date(2026, 11, 29), 3)
    assert first == "QMOI-AT-20261129-0003" == chunk_id("airtel", date(2026, 11, 29), 3)
    assert chunk_id("mpesa", date(2026, 11, 29), 3) != first
    with pytest.raises(ValueError, match="start at 1"):
        chunk_id("airtel", date(2026, 11, 29), 0)
