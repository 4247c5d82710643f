"""A QMOI whose Airtel account is Ugandan, over real HTTP: a UGX payment from a Ugandan
test number is booked in UGX, the auto-transfer pays the owner in UGX, M-Pesa still books
KES beside it, and the simulated sales ask for whole-shilling-free UGX amounts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.runtime_support import Running, drain, running, sandbox_settings

pytestmark = [pytest.mark.revenue, pytest.mark.transfer, pytest.mark.slow]

REV = "/api/qmoi/revenue"
UG_APPROVES = "256753000100"  # docs/sandbox.md: Uganda's "approves" test number


@pytest.fixture
async def uganda(tmp_path: Path) -> AsyncIterator[Running]:
    settings = sandbox_settings(
        tmp_path,
        AIRTEL_COUNTRY="UG",
        QMOI_DAILY_TARGET_AIRTEL="300000",
        QMOI_AUTO_TRANSFER_AIRTEL="50000",
    )
    async with running(settings, speed=10, simulate=False) as r:
        yield r


async def until(check: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_ugandan_airtel_account_books_and_pays_ugx_beside_mpesa_in_kes(
    uganda: Running,
) -> None:
    run = uganda
    assert run.services.policy.provider("airtel").currency == "UGX"
    assert run.services.policy.provider("airtel").owner_msisdn == UG_APPROVES
    answer = await run.api.post(
        f"{REV}/airtel/generate",
        json={"requests": [{"msisdn": UG_APPROVES, "amount": 120000, "stream": "airtime_sales"}]},
    )
    assert answer.status_code == 202, answer.text
    mpesa = await run.api.post(
        f"{REV}/mpesa/generate",
        json={"requests": [{"msisdn": "254708000100", "amount": 300, "stream": "data_packages"}]},
    )
    assert mpesa.status_code == 202, mpesa.text

    async def booked() -> bool:
        m = (await run.api.get(f"{REV}/metrics")).json()
        return bool(m["airtel"]["dailyEarnings"] == 120000 and m["mpesa"]["dailyEarnings"] == 300)

    await until(booked)
    await drain(run)
    metrics = (await run.api.get(f"{REV}/metrics")).json()
    assert metrics["airtel"]["currency"] == "UGX"
    assert metrics["mpesa"]["currency"] == "KES"
    # the combined KES figure never adds shillings to Ugandan shillings
    assert metrics["combined"]["combined"] == 300
    transfers = (await run.api.get(f"{REV}/airtel/transactions?kind=transfer")).json()["items"]
    assert sorted((x["trigger"], x["amount"], x["status"]) for x in transfers) == [
        ("auto", 50000, "succeeded"),
        ("auto", 50000, "succeeded"),
    ]
    # the emulator's Ugandan wallet, in UGX, saw the collection and both payouts
    payouts = await run.emulator("airtel", "GET", "/sandbox/transactions?kind=disbursement")
    assert {(t["currency"], t["country"], t["msisdn"]) for t in payouts} == {
        ("UGX", "UG", UG_APPROVES)
    }
    collected = await run.emulator("airtel", "GET", "/sandbox/transactions?kind=collection")
    assert [(t["amount"], t["currency"]) for t in collected] == [("120000", "UGX")]
    wallet = await run.emulator("airtel", "GET", "/sandbox/wallet?country=UG")
    assert wallet["currency"] == "UGX"
    with run.services.uows(read_only=True) as uow:
        from sqlalchemy import select

        from qmoi.db import tables as t

        rows = uow.session.execute(select(t.collections.c.provider, t.collections.c.currency)).all()
    assert sorted(set(rows)) == [("airtel", "UGX"), ("mpesa", "KES")]


async def test_simulated_ugandan_sales_are_whole_ugx_amounts(tmp_path: Path) -> None:
    settings = sandbox_settings(tmp_path, AIRTEL_COUNTRY="UG", MPESA_ENABLED="false")
    async with running(settings, speed=10, simulate=True) as run:
        answer = await run.api.post(f"{REV}/airtel/generate")
        assert answer.status_code == 202, answer.text
        started = answer.json()["collections"]
        assert started
        with run.services.uows(read_only=True) as uow:
            from sqlalchemy import select

            from qmoi.db import tables as t

            rows = uow.session.execute(
                select(t.collections.c.currency, t.collections.c.amount_minor)
            ).all()
        assert {currency for currency, _ in rows} == {"UGX"}
        # KES 80..2,200 scaled by 30: UGX-sized amounts, never shilling-sized
        assert all(2_400 <= amount <= 66_000 for _, amount in rows), rows
