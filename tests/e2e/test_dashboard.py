"""The web dashboard in a real headless Chromium (Debian's ``chromium`` driven by
Playwright), with QMOI and both emulators running over real HTTP: sign in, the page's
numbers equal the API's, a payment made in the emulator and a transfer appear without a
reload, a viewer sees no transfer form, and the page fits a 360 px phone. Screenshots go
to ``$QMOI_TEST_ARTIFACTS`` (default ``test-artifacts/``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from qmoi.api import sessions
from qmoi.services.keys import create_key, revoke_key
from tests.e2e.runtime_support import Running, running, sandbox_settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("QMOI_TEST_REQUIRE_BROWSER"):
    raise RuntimeError("QMOI_TEST_REQUIRE_BROWSER is set but no chromium is installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium here: install Debian's `chromium` package (.ci/run does) to run "
        "the browser tests",
    ),
]
ARTIFACTS = Path(os.environ.get("QMOI_TEST_ARTIFACTS", "test-artifacts")) / "dashboard"
REV = "/api/qmoi/revenue"


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(sandbox_settings(tmp_path), speed=10, simulate=False) as r:
        yield r


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        await chromium.close()


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def value(page: Any, element: str) -> float:
    return float(await page.get_attribute(f"#{element}", "data-value") or "nan")


async def sign_in(page: Any, run: Running) -> None:
    first = await page.goto(run.base_url)
    policy = (await first.all_headers())["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    await page.fill("#key", "not-the-key")
    await page.click("button[type=submit]")
    assert "That key is not valid" in await page.inner_text(".error")
    await page.fill("#key", run.runtime.master_key)
    await page.click("button[type=submit]")
    await page.wait_for_selector("body[data-loaded]")


async def test_sign_in_numbers_live_payment_and_transfer(run: Running, browser: Any) -> None:
    # bypass_csp: Playwright's wait_for_function evaluates strings, which our CSP forbids
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = await context.new_page()
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await sign_in(page, run)
    assert "key" not in page.url  # the key never appears in a URL
    cookie = next(c for c in await context.cookies() if c["name"] == sessions.COOKIE)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert run.runtime.master_key not in cookie["value"]
    assert await page.is_visible("#sandbox")

    api = (await run.api.get(f"{REV}/metrics")).json()
    for provider in ("airtel", "mpesa"):
        assert await value(page, f"earned-{provider}") == api[provider]["dailyEarnings"]
        assert await value(page, f"target-{provider}") == api[provider]["target"]
        assert await value(page, f"progress-{provider}") == api[provider]["targetProgress"]
    await shot(page, "1-signed-in")

    # a customer pays in the emulator; the page follows without a reload
    answer = await run.api.post(
        f"{REV}/airtel/generate",
        json={"requests": [{"msisdn": "254733000100", "amount": 750, "stream": "data_packages"}]},
    )
    assert answer.status_code == 202, answer.text
    while (await run.api.get(f"{REV}/metrics")).json()["airtel"]["dailyEarnings"] != 750:
        await asyncio.sleep(0.05)
    booked_at = time.monotonic()
    await page.wait_for_function(
        "document.getElementById('earned-airtel').dataset.value === '750'", timeout=2000
    )
    assert time.monotonic() - booked_at <= 2.0
    await page.wait_for_function(
        "document.getElementById('transaction-rows').textContent.includes('750')", timeout=2000
    )
    await shot(page, "2-payment-arrived")

    # the owner transfers from the page; the transfer appears without a reload
    await page.fill("#transfer-amount", "100")
    await page.click("#transfer-form button[type=submit]")
    await page.wait_for_function(
        "document.getElementById('transfer-result').textContent.includes('QMOI-')",
        timeout=10000,
    )
    reference = (await page.inner_text("#transfer-result")).split()[1]
    await page.wait_for_function(
        f"document.getElementById('transfer-rows').textContent.includes('{reference}')",
        timeout=5000,
    )
    # a refused transfer is shown as the API's sentence
    await page.fill("#transfer-amount", "99999999")
    await page.click("#transfer-form button[type=submit]")
    await page.wait_for_function(
        "document.getElementById('transfer-result').classList.contains('error')", timeout=5000
    )
    assert "available" in (await page.inner_text("#transfer-result")).lower()
    await shot(page, "3-transfers")
    await context.close()


async def test_a_viewer_sees_no_transfer_form_and_may_not_transfer(
    run: Running, browser: Any
) -> None:
    context = await browser.new_context(viewport={"width": 360, "height": 780}, bypass_csp=True)
    viewer = create_key(run.services.uows, "viewer", "owner's accountant")
    page = await context.new_page()
    await page.goto(run.base_url)
    await page.fill("#key", viewer.secret)
    await page.click("button[type=submit]")
    await page.wait_for_selector("body[data-loaded]")
    assert await page.get_attribute("body", "data-role") == "viewer"
    assert await page.query_selector("#transfer-form") is None
    status = await page.evaluate(
        """async () => (await fetch('/api/qmoi/revenue/airtel/transfer', {method: 'POST',
             headers: {'X-QMOI-Dashboard': '1', 'Content-Type': 'application/json'},
             body: JSON.stringify({amount: 10})})).status"""
    )
    assert status == 403
    # a phone: nothing wider than the screen except inside the scrollable tables
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    await shot(page, "4-viewer-360px")
    # revoking the key ends the session at once
    assert revoke_key(run.services.uows, viewer.key_id)
    await page.reload()
    assert await page.query_selector("#key") is not None
    await context.close()


async def test_a_cookie_without_the_dashboard_header_cannot_move_money(run: Running) -> None:
    owner = sessions.issue(run.runtime.master_key, "owner")
    answer = await run.api.post(
        f"{REV}/airtel/transfer",
        json={"amount": 10},
        headers={"Authorization": "", "Cookie": f"{sessions.COOKIE}={owner}"},
    )
    assert answer.status_code == 403
    forged = owner[:-2] + ("00" if not owner.endswith("00") else "11")
    answer = await run.api.get(
        f"{REV}/metrics", headers={"Authorization": "", "Cookie": f"{sessions.COOKIE}={forged}"}
    )
    assert answer.status_code == 401


SIX = (
    {"id": "airtel-ke", "provider": "airtel", "default": True},
    {
        "id": "airtel-ug",
        "provider": "airtel",
        "country": "UG",
        "dailyTarget": 300000,
        "autoTransfer": 50000,
    },
    {
        "id": "airtel-tz",
        "provider": "airtel",
        "country": "TZ",
        "dailyTarget": 250000,
        "autoTransfer": 50000,
    },
    {
        "id": "airtel-rw",
        "provider": "airtel",
        "country": "RW",
        "dailyTarget": 150000,
        "autoTransfer": 20000,
    },
    {"id": "mpesa-ke", "provider": "mpesa", "default": True},
    {"id": "mpesa-till", "provider": "mpesa", "shortcodeType": "till"},
)


async def test_six_accounts_are_grouped_by_currency_and_one_can_be_picked_on_a_phone(
    tmp_path: Path, browser: Any
) -> None:
    from qmoi.config import RawValues, build_settings

    raw = {
        "QMOI_VAR_DIR": str(tmp_path / "var"),
        "QMOI_LOG_DIR": str(tmp_path / "logs"),
        "QMOI_DATABASE_URL": f"sqlite:///{tmp_path / 'qmoi.db'}",
    }
    settings, report = build_settings(RawValues(raw, accounts=SIX))
    assert settings is not None, report.problems
    async with running(settings, speed=10, simulate=False) as six:
        answer = await six.api.post(
            "/api/qmoi/accounts/airtel-ug/generate",
            json={
                "requests": [{"msisdn": "0753000100", "amount": 45000, "stream": "airtime_sales"}]
            },
        )
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 30
        while (await six.api.get("/api/qmoi/accounts/airtel-ug/metrics")).json()[
            "dailyEarnings"
        ] != 45000:
            assert time.monotonic() < deadline, "the Ugandan payment was not booked"
            await asyncio.sleep(0.05)
        context = await browser.new_context(viewport={"width": 360, "height": 780}, bypass_csp=True)
        try:
            page = await context.new_page()
            await sign_in(page, six)
            groups = await page.eval_on_selector_all(
                "section.currency",
                "(all) => all.map((g) => [g.dataset.currency, "
                "[...g.querySelectorAll('[data-account]')].map((c) => c.dataset.account)])",
            )
            assert groups == [
                ["KES", ["airtel-ke", "mpesa-ke", "mpesa-till"]],
                ["RWF", ["airtel-rw"]],
                ["TZS", ["airtel-tz"]],
                ["UGX", ["airtel-ug"]],
            ]
            assert await value(page, "earned-airtel-ug") == 45000
            assert await value(page, "currency-earned-UGX") == 45000
            assert await value(page, "currency-earned-KES") == 0  # never a sum across currencies
            assert "Airtel Money · airtel-ug" in await page.inner_text("#card-airtel-ug h2")
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360
            await shot(page, "5-six-accounts-360px")
            await page.select_option("#account-view", "airtel-ug")
            shown = await page.eval_on_selector_all(
                "[data-account]", "(all) => all.filter((c) => !c.hidden).map((c) => c.id)"
            )
            assert shown == ["card-airtel-ug"]
            assert await page.input_value("#filter-provider") == "airtel-ug"
            assert await page.input_value("#transfer-provider") == "airtel-ug"
            await page.wait_for_function(
                "document.getElementById('transaction-rows').textContent.includes('45,000')",
                timeout=5000,
            )
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360
            await shot(page, "6-one-account-picked")
        finally:
            await context.close()  # an open page would hold the server's shutdown
