"""Three accounts in two currencies (``examples/accounts.json``: Airtel Kenya, Airtel
Uganda, M-Pesa Kenya), each on its own emulator, over real HTTP: every account books its
own payments in its own currency, pays its own chunks under references that name it,
and is reached by the accounts API, the CLI and the original per-provider routes (which
act on each provider's default account)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qmoi.config import RawValues, Settings, build_settings, read_raw
from qmoi.domain import accounts
from tests.e2e.runtime_support import Running, drain, running
from tests.e2e.test_start import cli, start_qmoi, stop_qmoi

pytestmark = [pytest.mark.revenue, pytest.mark.transfer, pytest.mark.slow]

EXAMPLE = Path(__file__).parents[2] / "examples" / "accounts.json"
ACC = "/api/qmoi/accounts"
#: each account's "always approves" test customer (docs/sandbox.md)
APPROVES = {"airtel-ke": "254733000100", "airtel-ug": "256753000100", "mpesa-ke": "254708000100"}


def example_settings(tmp_path: Path) -> Settings:
    raw = read_raw(None, EXAMPLE)
    local = {
        "QMOI_VAR_DIR": str(tmp_path / "var"),
        "QMOI_LOG_DIR": str(tmp_path / "logs"),
        "QMOI_DATABASE_URL": f"sqlite:///{tmp_path / 'qmoi.db'}",
    }
    settings, report = build_settings(
        RawValues({**raw.values, **local}, accounts=raw.accounts, referenced=raw.referenced)
    )
    assert settings is not None, report.problems
    return settings


@pytest.fixture
async def three(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(example_settings(tmp_path), speed=10, simulate=False) as run:
        yield run


async def until(check: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_each_account_books_and_pays_in_its_own_currency(three: Running) -> None:
    run = three
    listed = (await run.api.get(ACC)).json()["accounts"]
    assert [(a["id"], a["provider"], a["currency"], a["default"]) for a in listed] == [
        ("airtel-ke", "airtel", "KES", True),
        ("airtel-ug", "airtel", "UGX", False),
        ("mpesa-ke", "mpesa", "KES", True),
    ]
    amounts = {"airtel-ke": 2500, "airtel-ug": 120000, "mpesa-ke": 2100}
    for account, amount in amounts.items():
        body = {
            "requests": [{"msisdn": APPROVES[account], "amount": amount, "stream": "airtime_sales"}]
        }
        answer = await run.api.post(f"{ACC}/{account}/generate", json=body)
        assert answer.status_code == 202, answer.text
        assert (answer.json()["account"], answer.json()["currency"]) == (
            account,
            listed[list(amounts).index(account)]["currency"],
        )

    async def booked() -> bool:
        figures = (await run.api.get("/api/qmoi/revenue/metrics")).json()["accounts"]
        return all(figures[a]["dailyEarnings"] == amounts[a] for a in amounts)

    await until(booked)
    await drain(run)
    metrics = (await run.api.get("/api/qmoi/revenue/metrics")).json()
    # the original shape names each provider's default account
    assert metrics["airtel"]["account"] == "airtel-ke"
    assert metrics["mpesa"]["account"] == "mpesa-ke"
    by_currency = metrics["combined"]["byCurrency"]
    assert by_currency["KES"]["earned"] == 2500 + 2100
    assert by_currency["KES"]["accounts"] == ["airtel-ke", "mpesa-ke"]
    assert by_currency["UGX"]["earned"] == 120000
    assert metrics["combined"]["combined"] == 4600, "KES and UGX are never added"
    # ...except at the owner's own dated rate, shown as such (examples/accounts.json)
    reporting = metrics["combined"]["reporting"]
    assert reporting["rates"] == [{"currency": "UGX", "rate": "0.0349", "asOf": "2026-12-01"}]
    assert reporting["earned"] == 4600 + 4188  # UGX 120,000 × 0.0349

    chunks = {"airtel-ke": [2000], "airtel-ug": [50000, 50000], "mpesa-ke": [2000]}
    fees = {"airtel-ke": 0, "airtel-ug": 0, "mpesa-ke": 22.4}  # Daraja's B2C fee
    for account, expected in chunks.items():
        page = await run.api.get(f"{ACC}/{account}/transactions", params={"kind": "transfer"})
        paid = page.json()["items"]
        assert sorted(x["amount"] for x in paid) == expected, paid
        assert all(x["status"] == "succeeded" for x in paid)
        assert all(x["id"].startswith(f"QMOI-{account.upper()}-") for x in paid)
        balance = (await run.api.get(f"{ACC}/{account}/balance")).json()
        assert (balance["account"], balance["available"]) == (
            account,
            round(amounts[account] - sum(expected) - fees[account], 2),
        )
        own = (await run.api.get(f"{ACC}/{account}/metrics")).json()
        assert own["account"] == account
        assert own["transferredToday"] == sum(expected)

    # each account's emulator holds only its own money, in its own currency
    ug = await run.emulator("airtel-ug", "GET", "/sandbox/transactions")
    assert {(t["kind"], t["currency"]) for t in ug} == {
        ("collection", "UGX"),
        ("disbursement", "UGX"),
    }
    ke = await run.emulator("airtel-ke", "GET", "/sandbox/transactions?kind=collection")
    assert [t["amount"] for t in ke] == ["2500.00"]
    with run.services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("airtel-ug"), "UGX").minor == 20000
        assert uow.ledger.balance(accounts.wallet("airtel"), "KES").minor == 0

    # the original routes act on the default account
    legacy = (await run.api.get("/api/qmoi/revenue/airtel/balance")).json()
    assert (legacy["account"], legacy["available"]) == ("airtel-ke", 500)


async def test_accounts_that_do_not_exist_are_refused_and_change_nothing(three: Running) -> None:
    run = three
    missing = await run.api.get(f"{ACC}/airtel-tz/balance")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "account_not_found")
    assert "airtel-ke, airtel-ug, mpesa-ke" in missing.json()["error"]["message"]
    malformed = await run.api.get(f"{ACC}/Airtel_UG/balance")
    assert malformed.status_code == 422
    body = {"transaction": {"id": "QC-forged", "status_code": "TS"}}
    for path in ("/api/airtel/callback/airtel-tz", "/api/airtel/callback/mpesa-ke"):
        forged = await run.api.post(path, json=body)
        assert (forged.status_code, forged.json()["error"]["code"]) == (404, "account_not_found")
    with run.services.uows(read_only=True) as uow:
        from sqlalchemy import func, select

        from qmoi.db import tables as t

        assert uow.session.scalar(select(func.count()).select_from(t.inbox)) == 0


def test_qmoi_start_with_the_example_file_books_and_pays_on_all_three(tmp_path: Path) -> None:
    """The newcomer's run: ``qmoi start --config examples/accounts.json --speed 60``;
    within a minute every account has paid an auto-transfer, and the CLI and the API tell
    the same accounts."""
    config = ["--config", str(EXAMPLE)]
    process, base = start_qmoi(tmp_path, *config, seed=5)
    paid: dict[str, list[dict[str, Any]]] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (paid and all(paid.values())):
            time.sleep(1)
            key_file = tmp_path / "var" / "master.key"
            if not key_file.exists():
                continue
            headers = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
            try:
                paid = {a: _auto_paid(base, headers, a) for a in APPROVES}
            except httpx.HTTPError:
                continue
        assert paid, "QMOI never answered"
        assert all(paid.values()), f"not every account paid a chunk in a minute: {paid}"
        metrics = httpx.get(f"{base}/api/qmoi/revenue/metrics", headers=headers).json()
        assert set(metrics["combined"]["byCurrency"]) == {"KES", "UGX"}
        listed = cli(tmp_path, *config, "accounts", "list")
        assert listed.returncode == 0, listed.stderr
        assert [line.split()[0] for line in listed.stdout.splitlines()] == list(APPROVES)
        status = cli(tmp_path, *config, "revenue", "status", "--account", "airtel-ug")
        assert status.returncode == 0, status.stderr
        assert "airtel-ug: UGX" in status.stdout
        assert "at your rates (UGX 0.0349 of 2026-12-01)" in status.stdout
        moved = cli(
            tmp_path, *config, "transfer", "--account", "mpesa-ke", "--amount", "10",
            "--api-url", base,
        )  # fmt: skip
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert "QMOI-MMPESA-KE-" in moved.stdout
        wrong = cli(tmp_path, *config, "revenue", "status", "--account", "airtel-tz")
        assert wrong.returncode == 1
        assert wrong.stderr.startswith("--account: there is no account 'airtel-tz'")
    finally:
        output = stop_qmoi(process)
    assert "Traceback" not in output
    for check in (("ledger", "verify"), ("audit", "verify")):
        result = cli(tmp_path, *config, *check)
        assert result.returncode == 0, result.stdout + result.stderr


def _auto_paid(base: str, headers: dict[str, str], account: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{base}{ACC}/{account}/transactions",
        params={"kind": "transfer", "limit": 200},
        headers=headers,
        timeout=5,
    )
    answer.raise_for_status()
    items = answer.json()["items"]
    assert not [t for t in items if t["status"] == "failed"], items
    return [t for t in items if t["trigger"] == "auto" and t["status"] == "succeeded"]


def test_the_example_file_is_valid_json_with_three_accounts() -> None:
    data = json.loads(EXAMPLE.read_text())
    assert [a["id"] for a in data["accounts"]] == list(APPROVES)
