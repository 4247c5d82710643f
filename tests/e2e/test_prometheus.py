"""``/metrics`` scraped over real HTTP with QMOI and both emulators running: parsed by
the Prometheus text-format parser, its business figures equal the revenue API's at the
same moment, provider latencies are recorded, labels stay bounded, and it needs the key."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.e2e.runtime_support import Running, running, sandbox_settings

pytestmark = [pytest.mark.revenue, pytest.mark.slow]

REV = "/api/qmoi/revenue"
#: what a label value may look like: names and codes, never a reference, number or key
BOUNDED = re.compile(r"^[a-z0-9_.+-]{1,40}$", re.IGNORECASE)


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(sandbox_settings(tmp_path), speed=10, simulate=False) as r:
        yield r


async def scrape(run: Running) -> dict[str, list[Sample]]:
    answer = await run.api.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {f.name: f.samples for f in text_string_to_metric_families(answer.text)}


async def test_metrics_scrape_cleanly_and_agree_with_the_revenue_api(run: Running) -> None:
    answer = await run.api.post(
        f"{REV}/airtel/generate",
        json={"requests": [{"msisdn": "254733000100", "amount": 420, "stream": "airtime_sales"}]},
    )
    assert answer.status_code == 202, answer.text
    for _ in range(100):
        figures = (await run.api.get(f"{REV}/metrics")).json()
        if figures["airtel"]["dailyEarnings"]:
            break
        await asyncio.sleep(0.1)
    assert figures["airtel"]["dailyEarnings"] == 420
    families = await scrape(run)

    revenue = {
        (s.labels["provider"], s.labels["stream"]): s.value
        for s in families["qmoi_revenue_today_minor"]
    }
    assert revenue[("airtel", "airtime_sales")] == 42_000
    assert sum(v for (p, _), v in revenue.items() if p == "airtel") == 42_000
    collections = {
        (s.labels["provider"], s.labels["state"]): s.value for s in families["qmoi_collections"]
    }
    assert collections[("airtel", "succeeded")] == 1
    progress = {s.labels["provider"]: s.value for s in families["qmoi_target_progress_ratio"]}
    assert progress["airtel"] == pytest.approx(figures["airtel"]["targetProgress"] / 100)
    assert {s.value for s in families["qmoi_sandbox"]} == {1}
    assert {s.labels["kind"] for s in families["qmoi_worker_lag_seconds"]} == {
        "collection",
        "transfer",
        "callback",
    }
    latency = [
        s
        for s in families["qmoi_provider_request_seconds"]
        if s.name.endswith("_count") and s.labels["provider"] == "airtel"
    ]
    assert {s.labels["operation"] for s in latency} >= {"token", "collect"}
    for samples in families.values():
        for sample in samples:
            for name, value in sample.labels.items():
                if name != "le":
                    assert BOUNDED.match(value), (sample.name, name, value)


async def test_metrics_need_the_api_key(run: Running) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
        answer = await run.api.get("/metrics", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"
