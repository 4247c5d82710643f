"""Telling the owner: target reached (once per provider per day) and the forecast; the
notifications are written to the outbox, which the notifier delivers."""

from __future__ import annotations

from qmoi.services.context import Services
from qmoi.services.metrics import figures


def check_targets(services: Services) -> int:
    """Queue "target reached" once per provider and day; returns how many were new."""
    new = 0
    current = figures(services)
    with services.uows() as uow:
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
