"""``qmoi reconcile`` and ``POST /api/qmoi/reconcile`` against the running QMOI and both
emulators over real HTTP: a C2B payment whose confirmation Daraja never delivered is
found on the statement, confirmed by Transaction Status and booked once; the floats
agree with the books (M-Pesa's balance answered at the query's own tagged URL)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qmoi.domain import accounts
from tests.e2e.runtime_support import Running, running, sandbox_settings

pytestmark = [pytest.mark.revenue, pytest.mark.mpesa, pytest.mark.slow]

QMOI = str(Path(sys.executable).with_name("qmoi"))


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(sandbox_settings(tmp_path), speed=10, simulate=False) as r:
        yield r


async def reconcile_cli(
    run: Running, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QMOI_", "AIRTEL_", "MPESA_"))}
    env |= {"QMOI_MASTER_KEY": run.runtime.master_key, "QMOI_VAR_DIR": str(tmp_path / "cli-var"),
            "QMOI_LOG_DIR": str(tmp_path / "cli-logs")}  # fmt: skip
    return await asyncio.to_thread(
        subprocess.run,
        [QMOI, "reconcile", "--api-url", run.base_url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_a_c2b_payment_whose_confirmation_was_lost_is_found_and_booked_once(
    run: Running, tmp_path: Path
) -> None:
    first = await reconcile_cli(run, tmp_path)  # nothing yet: the opening floats agree
    assert first.returncode == 0, first.stdout + first.stderr
    assert "mpesa" in first.stdout
    assert "agrees" in first.stdout
    await run.emulator("mpesa", "PUT", "/sandbox/faults", json={"lost_callback_rate": 1.0})
    paid = await run.emulator(
        "mpesa", "POST", "/sandbox/c2b/pay",
        json={"msisdn": "254708123456", "amount": 1750, "bill_ref_number": "DATA-7"},
    )  # fmt: skip
    await run.emulator("mpesa", "DELETE", "/sandbox/faults")
    for _ in range(50):
        found = await run.emulator("mpesa", "GET", "/sandbox/transactions", params={"kind": "c2b"})
        if found and found[-1]["status"] == "succeeded":
            break
        await asyncio.sleep(0.1)
    receipt = found[-1]["provider_id"]
    assert paid
    assert receipt
    with run.services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("mpesa")).minor == 0  # QMOI never heard
    today = run.services.policy.day(run.services.clock.now()).isoformat()
    answer = await run.api.post("/api/qmoi/reconcile", json={"provider": "mpesa", "day": today})
    assert answer.status_code == 200, answer.text
    (mpesa,) = answer.json()["reconciliations"]
    assert mpesa["statement"]["accounted"] == {"booked": 1}, json.dumps(mpesa)
    assert mpesa["float"]["verdict"] == "agrees", mpesa["float"]
    with run.services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("mpesa")).minor == 175_000
        booked = uow.collections.by_provider_reference("mpesa", receipt)
        assert booked is not None
        assert (booked.origin, booked.stream.value) == ("c2b", "data_packages")
    again = await reconcile_cli(run, tmp_path, "--provider", "mpesa", "--day", today)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 owned by a collection" in again.stdout
    with run.services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("mpesa")).minor == 175_000


async def test_reconcile_refuses_a_bad_day_or_provider_with_one_line(
    run: Running, tmp_path: Path
) -> None:
    bad = await reconcile_cli(run, tmp_path, "--day", "yesterday")
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0
    assert "--day" in bad.stderr
    future = await run.api.post("/api/qmoi/reconcile", json={"day": "2999-01-01"})
    assert (future.status_code, future.json()["error"]["code"]) == (422, "invalid_request")
    other = await run.api.post("/api/qmoi/reconcile", json={"provider": "mtn"})
    assert other.status_code == 422
    for body in (
        {"day": "0001-01-01"},  # its Nairobi day begins before year 1 in UTC
        {"account": "mpesa-ug"},
        {"account": "mpesa", "provider": "mpesa"},
    ):
        refused = await run.api.post("/api/qmoi/reconcile", json=body)
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, "invalid_request")
    one = await run.api.post("/api/qmoi/reconcile", json={"account": "mpesa"})
    assert [r["provider"] for r in one.json()["reconciliations"]] == ["mpesa"]
