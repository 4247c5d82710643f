"""``GET /metrics``: Prometheus text format.

Business figures come from the database at scrape time (:mod:`qmoi.services.observability`),
so every API process answers alike and nothing is lost when one restarts; provider
request latencies and the process's own figures are this process's. Revenue is not
public: the scrape needs the API key (``bearer_token`` / ``authorization`` in the
Prometheus scrape config). Every label takes a bounded set of values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from qmoi.api.deps import ReadDep, ServicesDep
from qmoi.api.errors import documented
from qmoi.services.observability import Snapshot, snapshot

router = APIRouter(tags=["health"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _family(
    kind: type[GaugeMetricFamily] | type[CounterMetricFamily],
    name: str,
    documentation: str,
    labels: list[str],
    samples: Mapping[Any, float],
) -> Metric:
    """One metric family from ``{label values (a tuple, or one value): number}``."""
    family = kind(name, documentation, labels=labels)
    for key, number in sorted(samples.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], number)
    return family


class SnapshotCollector(Collector):
    def __init__(self, figures: Snapshot) -> None:
        self._s = figures

    def collect(self) -> Iterator[Metric]:
        s, gauge = self._s, GaugeMetricFamily
        yield _family(
            gauge, "qmoi_collections",
            "Collections (payment requests) by provider, stream and state.",
            ["provider", "stream", "state"], s.collections,
        )  # fmt: skip
        yield _family(
            gauge, "qmoi_revenue_today_minor",
            "Revenue booked today (QMOI_TIMEZONE) in minor units, by provider and stream.",
            ["provider", "stream", "currency"], s.earned_today,
        )  # fmt: skip
        yield _family(
            gauge, "qmoi_target_progress_ratio",
            "Today's earnings over today's target (1 = target reached).",
            ["provider"], s.progress,
        )  # fmt: skip
        yield _family(
            gauge, "qmoi_transfers",
            "Transfers to the owner by provider, trigger (auto/manual) and state.",
            ["provider", "trigger", "state"], s.transfers,
        )  # fmt: skip
        yield _family(
            CounterMetricFamily, "qmoi_callbacks_rejected",
            "Callbacks refused (forged, unknown, malformed…) by provider and reason.",
            ["provider", "reason"], s.rejected,
        )  # fmt: skip
        yield _family(
            gauge, "qmoi_notification_deliveries",
            "Notifications to the owner by channel and delivery status (pending, delivered, "
            "failed).",
            ["channel", "status"], s.deliveries,
        )  # fmt: skip
        yield _family(
            gauge, "qmoi_worker_lag_seconds",
            "How long the oldest unfinished item of each kind has waited (0 when none).",
            ["kind"], s.lag_s,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "qmoi_sandbox", "1 when the figures are simulated sandbox money.", value=int(s.sandbox)
        )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"},
        **documented(401, 403),
    },
    summary="Prometheus metrics (needs the API key)",
)
async def prometheus_metrics(_: ReadDep, svc: ServicesDep) -> Response:
    figures = await asyncio.to_thread(snapshot, svc)
    business = CollectorRegistry(auto_describe=False)
    business.register(SnapshotCollector(figures))
    body = generate_latest(business) + generate_latest(REGISTRY)
    return Response(body, media_type=CONTENT_TYPE)
