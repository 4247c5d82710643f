"""A QMOI with one provider disabled, over real HTTP: the other one collects, books and
pays the owner as ever, and the disabled one is absent everywhere — no emulator, no
connector, no metrics key, no dashboard card, nothing in the Prometheus scrape — while
its routes and callbacks answer 404 ``provider_not_enabled`` and store nothing. Then a
live Airtel-only QMOI validates and starts."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qmoi_sandbox.common.server import free_port
from tests.e2e.runtime_support import Running, drain, running, sandbox_settings

pytestmark = [pytest.mark.revenue, pytest.mark.transfer, pytest.mark.slow]

REV = "/api/qmoi/revenue"
QMOI = shutil.which("qmoi") or str(Path(__file__).parents[2] / ".venv" / "bin" / "qmoi")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
async def airtel_only(tmp_path: Path) -> AsyncIterator[Running]:
    settings = sandbox_settings(tmp_path, MPESA_ENABLED="false", QMOI_AUTO_TRANSFER_AIRTEL="1000")
    async with running(settings, speed=10, simulate=False) as r:
        yield r


@pytest.fixture
async def mpesa_only(tmp_path: Path) -> AsyncIterator[Running]:
    settings = sandbox_settings(tmp_path, AIRTEL_ENABLED="false")
    async with running(settings, speed=10, simulate=False) as r:
        yield r


def inbox_size(run: Running) -> int:
    with run.services.uows(read_only=True) as uow:
        return sum(uow.inbox.counts().values())


async def until(check: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def assert_absent(run: Running, off: str, on: str, callbacks: list[str]) -> None:
    """``off`` is nowhere: routes and callbacks 404 (nothing stored), no metrics key, not
    on the dashboard, not in the Prometheus scrape."""
    assert set(run.runtime.emulators) == {on}
    assert set(run.runtime.container.providers) == {on}
    assert list(run.services.policy.providers) == [on]
    before = inbox_size(run)
    for method, path, body in (
        ("POST", f"{REV}/{off}/generate", {"requests": []}),
        ("POST", f"{REV}/{off}/transfer", {"amount": 100}),
        ("GET", f"{REV}/{off}/balance", None),
        ("GET", f"{REV}/{off}/transactions", None),
    ):
        answer = await run.api.request(method, path, json=body)
        assert answer.status_code == 404, (path, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "provider_not_enabled"
        assert f"{off} is not enabled" in error["message"]
        assert on in error["message"]
    for path in callbacks:
        answer = await run.api.post(path, json={"transaction": {"id": "x"}}, headers={})
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["error"]["code"] == "provider_not_enabled"
    assert inbox_size(run) == before  # nothing stored
    unknown = await run.api.get(f"{REV}/paypal/balance")
    assert unknown.json()["error"]["code"] == "unknown_provider"
    reconcile = await run.api.post("/api/qmoi/reconcile", json={"provider": off})
    assert reconcile.status_code == 422
    assert reconcile.json()["error"]["code"] == "provider_not_enabled"

    metrics = (await run.api.get(f"{REV}/metrics")).json()
    assert set(metrics) == {on, "combined", "accounts"}
    assert set(metrics["accounts"]) == {on}
    assert off not in metrics["combined"]
    assert metrics["combined"]["combined"] == metrics[on]["dailyEarnings"]
    board = (await run.api.get("/dashboard/data")).json()
    assert [p["key"] for p in board["providers"]] == [on]
    assert set(board["hourly"]) == {on}
    # the business figures (this test process's request latencies are shared by tests)
    scrape = [
        line
        for line in (await run.api.get("/metrics")).text.splitlines()
        if not line.startswith(("#", "qmoi_provider_request"))
    ]
    assert not any(f'provider="{off}"' in line for line in scrape)
    assert any(f'provider="{on}"' in line for line in scrape)


async def test_an_airtel_only_qmoi_collects_books_and_pays_and_has_no_mpesa(
    airtel_only: Running,
) -> None:
    run = airtel_only
    answer = await run.api.post(
        f"{REV}/airtel/generate",
        json={"requests": [{"msisdn": "254733000100", "amount": 1250, "stream": "airtime_sales"}]},
    )
    assert answer.status_code == 202, answer.text

    async def booked() -> bool:
        metrics = (await run.api.get(f"{REV}/metrics")).json()
        return bool(metrics["airtel"]["dailyEarnings"] == 1250)

    await until(booked)
    manual = await run.api.post(
        f"{REV}/airtel/transfer", json={"amount": 200}, headers={"Idempotency-Key": "one"}
    )
    assert manual.status_code == 201, manual.text
    await drain(run)
    transfers = (await run.api.get(f"{REV}/airtel/transactions?kind=transfer")).json()["items"]
    triggers = sorted((x["trigger"], x["amount"], x["status"]) for x in transfers)
    assert triggers == [("auto", 1000, "succeeded"), ("manual", 200, "succeeded")]
    metrics = (await run.api.get(f"{REV}/metrics")).json()
    assert metrics["airtel"]["transferredToday"] == 1200
    assert metrics["airtel"]["autoTransferStatus"] == "completed"

    await assert_absent(
        run,
        "mpesa",
        "airtel",
        ["/api/mpesa/some-token/stk", "/hooks/some-token/c2b/confirmation"],
    )


async def test_an_mpesa_only_qmoi_collects_and_has_no_airtel(mpesa_only: Running) -> None:
    run = mpesa_only
    answer = await run.api.post(
        f"{REV}/mpesa/generate",
        json={"requests": [{"msisdn": "254708000100", "amount": 300, "stream": "data_packages"}]},
    )
    assert answer.status_code == 202, answer.text

    async def booked() -> bool:
        metrics = (await run.api.get(f"{REV}/metrics")).json()
        return bool(metrics["mpesa"]["dailyEarnings"] == 300)

    await until(booked)
    await assert_absent(run, "airtel", "mpesa", ["/api/airtel/callback"])


async def test_the_sandbox_simulates_sales_on_the_enabled_provider_only(tmp_path: Path) -> None:
    settings = sandbox_settings(tmp_path, MPESA_ENABLED="false")
    async with running(settings, speed=10, simulate=True) as run:
        assert set(run.runtime.worker.sales_customers or {}) == {"airtel"}
        answer = await run.api.post(f"{REV}/airtel/generate")
        assert answer.status_code == 202, answer.text
        assert answer.json()["simulated"] is True
        assert answer.json()["collections"]
        refused = await run.api.post(f"{REV}/mpesa/generate")
        assert refused.status_code == 404
        with run.services.uows(read_only=True) as uow:
            assert {key[0] for key in uow.observed.collections()} == {"airtel"}


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: install Debian's `chromium`")
async def test_the_dashboard_draws_only_the_enabled_provider(airtel_only: Running) -> None:
    from playwright.async_api import async_playwright

    run = airtel_only
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 360, "height": 800})
        failed: list[str] = []
        page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
        await page.goto(run.base_url)
        await page.fill("#key", run.runtime.master_key)
        await page.click("button[type=submit]")
        await page.wait_for_selector("body[data-loaded]")
        assert await page.query_selector("#card-airtel") is not None
        assert await page.query_selector("#card-mpesa") is None
        options = await page.eval_on_selector_all(
            "#filter-provider option", "nodes => nodes.map(n => n.value)"
        )
        assert options == ["airtel"]
        assert not any("mpesa" in url for url in failed), failed
        await browser.close()


def _live_env(port: int, airtel_url: str, var: Path) -> dict[str, str]:
    from qmoi_sandbox.airtel import AirtelSandboxConfig

    emulator = AirtelSandboxConfig()
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QMOI_", "AIRTEL_", "MPESA_", "DEBUG_"))
    }
    return {
        **clean,
        "MPESA_ENABLED": "false",
        "AIRTEL_ENVIRONMENT": "staging",
        "AIRTEL_CLIENT_ID": emulator.client_id,
        "AIRTEL_CLIENT_SECRET": emulator.client_secret,
        "AIRTEL_PIN": emulator.pin,
        "AIRTEL_PHONE_NUMBER": "0733000100",
        "AIRTEL_BASE_URL": airtel_url,
        "QMOI_MASTER_KEY": "k" * 40,
        "QMOI_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "QMOI_VAR_DIR": str(var),
    }


def test_a_live_airtel_only_qmoi_validates_and_starts(tmp_path: Path) -> None:
    from qmoi_sandbox.airtel import AirtelSandboxConfig, create_app
    from qmoi_sandbox.common.server import serve_in_thread

    port = free_port()
    with serve_in_thread(create_app(AirtelSandboxConfig())) as airtel_url:
        env = _live_env(port, airtel_url, tmp_path / "var")
        checked = subprocess.run(
            [QMOI, "validate"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "configuration is usable: live; Airtel staging, M-Pesa disabled" in checked.stdout
        assert "MPESA_" not in checked.stdout
        process = subprocess.Popen(
            [QMOI, "start", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            headers = {"Authorization": f"Bearer {env['QMOI_MASTER_KEY']}"}
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, process.communicate()[0]
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "QMOI did not start"
                time.sleep(0.2)
            metrics = httpx.get(f"{base}{REV}/metrics", headers=headers, timeout=10).json()
            assert set(metrics) == {"airtel", "combined", "accounts"}
            assert metrics["combined"]["sandbox"] is False
            balance = httpx.get(f"{base}{REV}/mpesa/balance", headers=headers, timeout=10)
            assert balance.status_code == 404
            assert balance.json()["error"]["code"] == "provider_not_enabled"
        finally:
            process.terminate()
            output = process.communicate(timeout=30)[0]
        assert "Traceback" not in output


def test_live_refusal_names_only_the_enabled_providers_settings(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QMOI_", "AIRTEL_", "MPESA_", "DEBUG_"))
    }
    env.update({"AIRTEL_ENVIRONMENT": "production", "MPESA_ENABLED": "false"})
    result = subprocess.run(
        [QMOI, "start"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("AIRTEL_CLIENT_ID:") for line in lines)
    assert any(line.startswith("QMOI_MASTER_KEY:") for line in lines)
    assert not any(line.startswith("MPESA_") for line in lines), lines
    assert "Traceback" not in result.stderr
