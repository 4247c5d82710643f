"""Telling the owner: target reached (once per provider per day), a forecast below the
minimum (once per provider per day), callbacks rejected in bulk (once per hour); the
notifications are written to the outbox, which :mod:`qmoi.services.notify` delivers."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from qmoi.domain.money import Money
from qmoi.services.context import Services
from qmoi.services.metrics import ProviderFigures, figures

#: the forecast is not trusted before this much of the day has passed
FORECAST_FROM = timedelta(hours=10)
#: this many rejected callbacks within REJECTION_WINDOW is an attack or a misconfiguration
BULK_REJECTIONS = 20
REJECTION_WINDOW = timedelta(minutes=10)


def forecast(f: ProviderFigures, tz_now: datetime) -> Money | None:
    """Today's earnings extrapolated to midnight at the pace so far; None too early."""
    elapsed = tz_now - tz_now.replace(hour=0, minute=0, second=0, microsecond=0)
    if elapsed < FORECAST_FROM:
        return None
    day = timedelta(days=1)
    return Money(f.day_earned.minor * day // elapsed, f.day_earned.currency)


def check_targets(services: Services) -> int:
    """Queue the owner's target notices; returns how many were new."""
    new = 0
    current = figures(services)
    with services.uows() as uow:
        local = uow.now.astimezone(services.policy.tz)
        for name, f in current.items():
            expected = forecast(f, local)
            if expected is not None and expected < f.minimum:
                new += uow.notifications.add(
                    "forecast_below_minimum",
                    f"{name}: at today's pace the day ends near {expected}, below the "
                    f"minimum of {f.minimum} ({f.day_earned} so far)",
                    uow.now,
                    provider=name,
                    payload={
                        "day": f.day.isoformat(),
                        "forecast_minor": expected.minor,
                        "minimum_minor": f.minimum.minor,
                        "earned_minor": f.day_earned.minor,
                    },
                    dedupe_key=f"forecast_below_minimum:{name}:{f.day.isoformat()}",
                )
        rejected = uow.inbox.rejected_since(uow.now - REJECTION_WINDOW)
        if rejected >= BULK_REJECTIONS:
            hour = local.strftime("%Y-%m-%dT%H")
            new += uow.notifications.add(
                "callbacks_rejected",
                f"{rejected} callbacks were rejected in the last "
                f"{REJECTION_WINDOW.seconds // 60} minutes — forged traffic or a wrong "
                "callback secret",
                uow.now,
                payload={"rejected": rejected, "window_s": REJECTION_WINDOW.seconds},
                dedupe_key=f"callbacks_rejected:{hour}",
            )
        for name, f in current.items():
            if f.day_earned >= f.target:
                new += uow.notifications.add(
                    "target_reached",
                    f"{name}: today's target of {f.target} is reached ({f.day_earned} earned)",
                    uow.now,
                    provider=name,
                    payload={
                        "day": f.day.isoformat(),
                        "earned_minor": f.day_earned.minor,
                        "target_minor": f.target.minor,
                    },
                    dedupe_key=f"target_reached:{name}:{f.day.isoformat()}",
                )
        uow.commit()
    return new


def configuration_warnings(services: Services, warnings: list[str]) -> int:
    """Tell the owner about risky settings QMOI started with (``qmoi validate``'s
    warnings), once per distinct warning; returns how many were new."""
    new = 0
    with services.uows() as uow:
        for warning in warnings:
            digest = hashlib.sha256(warning.encode()).hexdigest()[:24]
            new += uow.notifications.add(
                "configuration_warning",
                f"configuration: {warning}",
                uow.now,
                dedupe_key=f"configuration_warning:{digest}",
            )
        uow.commit()
    return new
