"""``GET /metrics``: Prometheus text format.

Business figures come from the database at scrape time (:mod:`qmoi.services.observability`),
so every API process answers alike and nothing is lost when one restarts; provider
request latencies and the process's own figures are this process's. Revenue is not
public: the scrape needs the API key (``bearer_token`` / ``authorization`` in the
Prometheus scrape config). Every label takes a bounded set of values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from qmoi.api.deps import ReadDep, ServicesDep
from qmoi.services.observability import Snapshot, snapshot

router = APIRouter(tags=["health"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SnapshotCollector(Collector):
    def __init__(self, figures: Snapshot) -> None:
        self._s = figures

    def collect(self) -> Iterator[Metric]:
        s = self._s
        collections = GaugeMetricFamily(
            "qmoi_collections",
            "Collections (payment requests) by provider, stream and state.",
            labels=["provider", "stream", "state"],
        )
        for (provider, stream, state), count in sorted(s.collections.items()):
            collections.add_metric([provider, stream, state], count)
        yield collections
        earned = GaugeMetricFamily(
            "qmoi_revenue_today_minor",
            "Revenue booked today (QMOI_TIMEZONE) in minor units, by provider and stream.",
            labels=["provider", "stream", "currency"],
        )
        for (provider, stream), minor in sorted(s.earned_today.items()):
            earned.add_metric([provider, stream, "KES"], minor)
        yield earned
        progress = GaugeMetricFamily(
            "qmoi_target_progress_ratio",
            "Today's earnings over today's target (1 = target reached).",
            labels=["provider"],
        )
        for provider, ratio in sorted(s.progress.items()):
            progress.add_metric([provider], ratio)
        yield progress
        transfers = GaugeMetricFamily(
            "qmoi_transfers",
            "Transfers to the owner by provider, trigger (auto/manual) and state.",
            labels=["provider", "trigger", "state"],
        )
        for (provider, trigger, state), count in sorted(s.transfers.items()):
            transfers.add_metric([provider, trigger, state], count)
        yield transfers
        rejected = CounterMetricFamily(
            "qmoi_callbacks_rejected",
            "Callbacks refused (forged, unknown, malformed…) by provider and reason.",
            labels=["provider", "reason"],
        )
        for (provider, reason), count in sorted(s.rejected.items()):
            rejected.add_metric([provider, reason], count)
        yield rejected
        deliveries = GaugeMetricFamily(
            "qmoi_notification_deliveries",
            "Notifications to the owner by channel and delivery status (pending, delivered, "
            "failed).",
            labels=["channel", "status"],
        )
        for (channel, status), count in sorted(s.deliveries.items()):
            deliveries.add_metric([channel, status], count)
        yield deliveries
        lag = GaugeMetricFamily(
            "qmoi_worker_lag_seconds",
            "How long the oldest unfinished item of each kind has waited (0 when none).",
            labels=["kind"],
        )
        for kind, seconds in sorted(s.lag_s.items()):
            lag.add_metric([kind], seconds)
        yield lag
        yield GaugeMetricFamily(
            "qmoi_sandbox", "1 when the figures are simulated sandbox money.", value=int(s.sandbox)
        )


@router.get("/metrics", summary="Prometheus metrics (needs the API key)")
async def prometheus_metrics(_: ReadDep, svc: ServicesDep) -> Response:
    figures = await asyncio.to_thread(snapshot, svc)
    business = CollectorRegistry(auto_describe=False)
    business.register(SnapshotCollector(figures))
    body = generate_latest(business) + generate_latest(REGISTRY)
    return Response(body, media_type=CONTENT_TYPE)
