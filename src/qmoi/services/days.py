"""Closing days: at midnight in QMOI_TIMEZONE each provider's day is frozen (figures,
target), and ``qmoi revenue reset`` closes the current counting period early like a
till's Z-report. Nothing in the ledger is ever deleted; a close is a new record."""

from __future__ import annotations

from datetime import date, timedelta

import structlog

from qmoi.services.context import Services
from qmoi.services.metrics import provider_figures
from qmoi.services.records import Close

log = structlog.get_logger("qmoi.services.days")


def close_day(services: Services, provider: str, day: date, actor: str = "system") -> bool:
    """Freeze ``day`` for ``provider``; False if it was closed already."""
    policy = services.policy
    with services.uows() as uow:
        f = provider_figures(uow, policy, provider, day)
        totals = {s: m for (_, s), m in uow.totals.by_stream(day, provider).items()}
        close = Close(
            provider,
            day,
            "close",
            uow.now,
            f.day_earned.currency,
            f.day_earned.minor,
            totals,
            f.target.minor,
        )
        if not uow.totals.add_close(close, actor):
            return False
        uow.audit.append(
            actor,
            "day.closed",
            {
                "provider": provider,
                "day": day.isoformat(),
                "earned_minor": f.day_earned.minor,
                "target_minor": f.target.minor,
            },
            uow.now,
        )
        uow.notifications.add(
            "day_closed",
            f"{provider}: {day} closed at {f.day_earned} of {f.target}",
            uow.now,
            provider=provider,
            payload={"day": day.isoformat(), "earned_minor": f.day_earned.minor},
            dedupe_key=f"day_closed:{provider}:{day}",
        )
        uow.commit()
    log.info("day.closed", provider=provider, day=day.isoformat())
    return True


def reset_period(services: Services, provider: str, actor: str) -> Close:
    """Z-report: record the period's figures and start the counters again."""
    policy = services.policy
    with services.uows() as uow:
        day = policy.day(uow.now)
        f = provider_figures(uow, policy, provider, day)
        totals = {s: m for (_, s), m in uow.totals.by_stream(day, provider).items()}
        close = Close(
            provider,
            day,
            "reset",
            uow.now,
            f.day_earned.currency,
            f.day_earned.minor,
            totals,
            f.target.minor,
        )
        uow.totals.add_close(close, actor)
        uow.audit.append(
            actor,
            "period.reset",
            {
                "provider": provider,
                "day": day.isoformat(),
                "period_earned_minor": f.earned.minor,
                "day_earned_minor": f.day_earned.minor,
            },
            uow.now,
        )
        uow.commit()
    return close


def roll_over(services: Services) -> list[tuple[str, date]]:
    """Close every past day not closed yet — yesterday, and any earlier day with revenue
    that a stopped worker left open — for every provider, each after planning its last
    auto-transfer chunks. Idempotent; any worker may run it."""
    from qmoi.services.transfers import plan_auto_transfers

    with services.uows(read_only=True) as uow:
        today = services.policy.day(uow.now)
        yesterday = today - timedelta(days=1)
        pending = [
            (p, day)
            for p in services.policy.providers
            for day in sorted({*uow.totals.open_days(p, today), yesterday})
            if uow.totals.close_of(p, day) is None
        ]
    closed = []
    for provider, day in pending:
        plan_auto_transfers(services, provider, day)
        if close_day(services, provider, day):
            closed.append((provider, day))
    return closed
