"""An Airtel account outside Kenya collects in its own currency: its figures, growth
target and minimum-alert checks never compare amounts across currencies (the minimum
guarantee is one amount in one currency, so it guards only that currency's figures)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qmoi.domain.clock import ManualClock
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey
from qmoi.services.collections import PaymentRequest, start_collections
from qmoi.services.days import close_day
from qmoi.services.metrics import figures, metrics
from qmoi.services.notices import check_targets
from qmoi.services.resolver import resolve_collections
from tests.fakes import FakeProvider, succeeded
from tests.unit.services.support import due_now, fake, make_services

pytestmark = [pytest.mark.revenue]

UGANDA = {"AIRTEL_COUNTRY": "UG", "AIRTEL_PHONE_NUMBER": "+256701234567"}


async def pay_ugx(services, amount: int) -> None:  # type: ignore[no-untyped-def]
    (made,) = await start_collections(
        services,
        "airtel",
        [PaymentRequest("256701234568", Money(amount, "UGX"), StreamKey.AIRTIME_SALES)],
        actor="test",
    )
    fake(services, "airtel").statuses[made.reference] = succeeded(
        Money(amount, "UGX"), receipt=f"R-{made.reference}"
    )
    due_now(services, made)
    await resolve_collections(services)


async def test_ugx_figures_have_a_ugx_minimum_and_a_grown_target(clock: ManualClock) -> None:
    services = make_services(
        clock,
        providers={"airtel": FakeProvider("airtel"), "mpesa": FakeProvider("mpesa")},
        QMOI_TARGET_MODE="growth",
        QMOI_MINIMUM_GUARANTEE="8000",
        **UGANDA,
    )
    await pay_ugx(services, 40_000)
    today = services.policy.day(clock.now())
    assert close_day(services, "airtel", today)
    clock.advance(timedelta(days=1))
    await pay_ugx(services, 1_000)

    airtel = figures(services)["airtel"]
    assert airtel.earned == Money(1_000, "UGX")
    assert airtel.minimum == Money(0, "UGX")  # the KES minimum does not reach UGX
    assert airtel.target.currency == "UGX"
    assert airtel.target.minor > 40_000  # yesterday's actual grown by the goal
    assert figures(services)["mpesa"].minimum == Money(800_000, "KES")

    answer = metrics(services)
    assert answer["airtel"]["dailyEarnings"] == 1_000
    assert answer["combined"]["combined"] == 0  # UGX is never added to the KES total
    check_targets(services)  # compares UGX with UGX and KES with KES: no mismatch raised


async def test_the_reporting_currency_converts_at_the_owners_dated_rate(
    clock: ManualClock,
) -> None:
    services = make_services(
        clock,
        QMOI_REPORTING_CURRENCY="KES",
        QMOI_RATES="UGX=0.0349@2026-12-01",
        QMOI_DAILY_TARGET_AIRTEL="300000",
        **UGANDA,
    )
    await pay_ugx(services, 40_001)
    reporting = metrics(services)["combined"]["reporting"]
    assert reporting["currency"] == "KES"
    assert reporting["rates"] == [{"currency": "UGX", "rate": "0.0349", "asOf": "2026-12-01"}]
    assert reporting["missing"] == []
    # UGX 40,001 × 0.0349 = KES 1,396.0349 → 1,396.03 (rounded once, half to even); the
    # M-Pesa account's KES figures are added as they are
    assert reporting["earned"] == 1396.03
    assert reporting["target"] == 10470 + 10000  # UGX 300,000 at the rate, and KES 10,000


async def test_without_a_rate_nothing_is_converted_and_the_missing_currency_is_named(
    clock: ManualClock,
) -> None:
    services = make_services(clock, QMOI_REPORTING_CURRENCY="KES", **UGANDA)
    await pay_ugx(services, 5_000)
    reporting = metrics(services)["combined"]["reporting"]
    assert reporting["missing"] == ["UGX"]
    assert reporting["earned"] is None
    assert reporting["target"] is None
    assert metrics(make_services(clock))["combined"]["reporting"] is None
