"""Is each provider reachable? A light probe (a fresh token: no money, no callback to
wait for) at most once a minute per provider across all workers; when a provider has
failed every probe for longer than the policy allows, the owner is told once per
outage, and told again when it is back."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from qmoi.providers.base import ProviderError
from qmoi.services.context import Services

log = structlog.get_logger("qmoi.services.health")

PROBE_EVERY = timedelta(minutes=1)
#: how long a provider may fail every probe before the owner is told
DOWN_ALERT_AFTER = timedelta(minutes=5)


def _down_key(provider: str) -> str:
    return f"provider_down_since:{provider}"


async def probe_providers(services: Services) -> dict[str, bool]:
    """Probe the providers whose turn it is; returns provider → reachable."""
    results: dict[str, bool] = {}
    for name, provider in services.providers.items():
        with services.uows() as uow:
            minute = int(uow.now.timestamp() // PROBE_EVERY.total_seconds())
            mine = uow.slots.claim(f"probe:{name}", str(minute), "worker", uow.now)
            uow.commit()
        if not mine:
            continue
        problem: str | None = None
        try:
            await provider.ping()
        except ProviderError as exc:
            problem = f"{type(exc).__name__}: {exc}"[:200]
        except Exception as exc:  # noqa: BLE001 - any failure to reach it counts as down
            problem = type(exc).__name__
        results[name] = problem is None
        _record(services, name, problem)
    return results


def _record(services: Services, provider: str, problem: str | None) -> None:
    with services.uows() as uow:
        since_text = uow.meta.get(_down_key(provider))
        since = datetime.fromisoformat(since_text) if since_text else None
        if problem is None:
            if since is not None:
                uow.meta.put(_down_key(provider), None)
                uow.notifications.add(
                    "provider_recovered",
                    f"{provider} answers again (unreachable since {since.isoformat()})",
                    uow.now,
                    provider=provider,
                    dedupe_key=f"provider_recovered:{provider}:{since.isoformat()}",
                )
        elif since is None:
            uow.meta.put(_down_key(provider), uow.now.isoformat())
            log.warning("provider.unreachable", provider=provider, problem=problem)
        elif uow.now - since >= DOWN_ALERT_AFTER:
            minutes = int((uow.now - since).total_seconds() // 60)
            uow.notifications.add(
                "provider_unavailable",
                f"{provider} has been unreachable for {minutes} minutes ({problem})",
                uow.now,
                provider=provider,
                payload={"since": since.isoformat(), "problem": problem},
                dedupe_key=f"provider_unavailable:{provider}:{since.isoformat()}",
            )
        uow.commit()
