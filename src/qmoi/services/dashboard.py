"""What the owner's dashboard shows, in one read: the enabled providers, the metrics
answer, revenue by hour today and yesterday, and recent alerts with how their delivery
went."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from qmoi.domain.money import Money
from qmoi.services import metrics
from qmoi.services.context import Services

HOURS = range(24)


def providers(services: Services) -> list[dict[str, str]]:
    """The enabled providers, in order, as the page lists them: the page draws a card
    and a choice for each of these and for no other, each in its own currency."""
    return [
        {"key": p.name, "label": p.label, "currency": p.currency}
        for p in services.policy.providers.values()
    ]


def board(services: Services) -> dict[str, Any]:
    policy = services.policy
    answer = metrics.metrics(services)
    with services.uows(read_only=True) as uow:
        today = policy.day(uow.now)
        by_hour = {
            "today": uow.totals.by_hour(today),
            "yesterday": uow.totals.by_hour(today - timedelta(days=1)),
        }
        notes = uow.notifications.recent(12)
        deliveries = {n.id: uow.deliveries.for_notification(n.id) for n in notes}
        failing = {
            channel: count
            for (channel, status), count in uow.deliveries.counts().items()
            if status == "failed"
        }
    hourly = {
        provider: {
            when: [metrics.amount(Money(totals.get((provider, hour), 0), "KES")) for hour in HOURS]
            for when, totals in by_hour.items()
        }
        for provider in policy.providers
    }
    alerts = [
        {
            "kind": n.kind,
            "provider": n.provider,
            "message": n.message,
            "created_at": n.created_at.isoformat(),
            "deliveries": {c: s for c, (s, _, _) in deliveries[n.id].items()},
        }
        for n in notes
    ]
    return {
        "providers": providers(services),
        "metrics": answer,
        "hourly": hourly,
        "alerts": alerts,
        "failing_channels": failing,
        "sandbox": policy.sandbox,
    }


def version(services: Services) -> str:
    with services.uows(read_only=True) as uow:
        return uow.observed.version()
