"""What the Prometheus scrape reports, as plain data: read from the database in one
read-only transaction, so that any process answers with the same figures."""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from qmoi.services import metrics
from qmoi.services.context import Services

K = TypeVar("K", bound=tuple[str, ...])


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    #: (provider, stream, state) → collections
    collections: dict[tuple[str, str, str], int]
    #: (provider, trigger, state) → transfers
    transfers: dict[tuple[str, str, str], int]
    #: (provider, reason) → rejected callbacks
    rejected: dict[tuple[str, str], int]
    #: (provider, stream, currency) → minor units earned today (day in QMOI_TIMEZONE)
    earned_today: dict[tuple[str, str, str], int]
    #: provider → today's earnings / today's target (0 when there is no target)
    progress: dict[str, float]
    #: (channel, status) → notification deliveries (a failing channel shows here)
    deliveries: dict[tuple[str, str], int]
    #: "collection" | "transfer" | "callback" → seconds the oldest unfinished one waits
    lag_s: dict[str, float]
    sandbox: bool


def _enabled(rows: Mapping[K, int], providers: Container[str]) -> dict[K, int]:
    """Only the enabled providers' rows: a disabled provider is absent from the scrape,
    whatever the database still holds from when it was on."""
    return {key: count for key, count in rows.items() if key[0] in providers}


def snapshot(services: Services) -> Snapshot:
    policy = services.policy
    figures = metrics.figures(services)
    with services.uows(read_only=True) as uow:
        now = uow.now
        oldest = uow.observed.oldest_open()
        return Snapshot(
            at=now,
            collections=_enabled(uow.observed.collections(), policy.providers),
            transfers=_enabled(uow.observed.transfers(), policy.providers),
            rejected=_enabled(uow.observed.rejected_callbacks(), policy.providers),
            deliveries=uow.deliveries.counts(),
            earned_today={
                (name, stream.value, money.currency): money.minor
                for name, f in figures.items()
                for stream, money in f.stream_earned.items()
            },
            progress={
                name: (f.earned.minor / f.target.minor if f.target.minor > 0 else 0.0)
                for name, f in figures.items()
            },
            lag_s={
                kind: max(0.0, (now - since).total_seconds()) if since is not None else 0.0
                for kind, since in oldest.items()
            },
            sandbox=policy.sandbox,
        )
