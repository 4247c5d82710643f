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
    """The enabled accounts, in order, as the page lists them: the page draws a card
    and a choice for each of these and for no other, each in its own currency. ``title``
    names the provider, and the account when it is not simply that provider's."""
    return [
        {
            "key": p.name,
            "label": p.label,
            "title": p.label if p.name == p.provider else f"{p.label} · {p.name}",
            "currency": p.currency,
            "country": p.country,
            "provider": p.provider,
        }
        for p in services.policy.providers.values()
    ]


def by_currency(services: Services) -> list[tuple[str, list[dict[str, str]]]]:
    """The accounts grouped by currency, the combined target's currency first: the page
    shows each group under its own total, never a total across currencies."""
    first = services.policy.combined_target.currency
    groups: dict[str, list[dict[str, str]]] = {}
    for account in providers(services):
        groups.setdefault(account["currency"], []).append(account)
    return sorted(groups.items(), key=lambda item: (item[0] != first, item[0]))


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
            when: [
                metrics.amount(Money(totals.get((provider, hour), 0), rules.currency))
                for hour in HOURS
            ]
            for when, totals in by_hour.items()
        }
        for provider, rules in policy.providers.items()
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
