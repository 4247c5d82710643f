"""Daily targets, progress, growth and the per-stream split: arithmetic only.

Targets are goals QMOI measures and forecasts; nothing here ever refuses a payment.
Percentages are exact Decimals rounded half-up to two places for display.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from qmoi.domain.errors import InvalidAmount
from qmoi.domain.money import Money
from qmoi.domain.streams import STREAMS, StreamKey

_CENT = Decimal("0.01")


def progress_percent(earned: Money, target: Money) -> Decimal:
    """``earned`` as a percentage of ``target`` (may exceed 100); 0 when there is no target."""
    if earned.currency != target.currency:
        earned - target  # raises CurrencyMismatch
    if target.minor <= 0:
        return Decimal("0.00")
    return (Decimal(earned.minor) * 100 / Decimal(target.minor)).quantize(_CENT, ROUND_HALF_UP)


def growth(today: Money, yesterday: Money) -> Decimal | None:
    """Day-over-day growth as a fraction (0.25 = +25 %); None when yesterday earned nothing."""
    if yesterday.minor == 0:
        return None
    change = today - yesterday
    return (Decimal(change.minor) / Decimal(yesterday.minor)).quantize(
        Decimal("0.0001"), ROUND_HALF_UP
    )


def split_target(
    target: Money, overrides: dict[StreamKey, Money] | None = None
) -> dict[StreamKey, Money]:
    """A provider's daily target per stream.

    Configured streams keep their configured figure; the rest of the target is split
    among the other streams in proportion to their sandbox range midpoints, with parts
    that sum exactly to what is left.
    """
    overrides = dict(overrides or {})
    for amount in overrides.values():
        if amount.currency != target.currency or amount.is_negative:
            raise InvalidAmount(f"stream target {amount} does not fit a {target.currency} target")
    rest = [s for s in STREAMS if s.key not in overrides]
    remaining = target - sum(overrides.values(), Money.zero(target.currency))
    result = dict(overrides)
    if rest:
        if remaining.is_negative:
            remaining = Money.zero(target.currency)
        parts = remaining.allocate([s.midpoint_minor for s in rest])
        result.update({s.key: part for s, part in zip(rest, parts, strict=True)})
    return {s.key: result[s.key] for s in STREAMS}


def next_day_target(today_actual: Money, goal: Decimal, minimum: Money) -> Money:
    """Growth mode: tomorrow's target is today's actual × (1 + goal), never below minimum."""
    grown = Decimal(today_actual.minor) * (1 + goal)
    target = Money(int(grown.to_integral_value(ROUND_HALF_UP)), today_actual.currency)
    return max(target, minimum)
