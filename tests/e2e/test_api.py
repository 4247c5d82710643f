"""The revenue API over real HTTP, with QMOI and both emulators running: who may call
it, what bad input gets (a 4xx with a stable code, nothing changed), idempotency, the
history's cursor, and callbacks that are forged, unknown, mismatched or replayed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from qmoi.domain import accounts
from tests.e2e.runtime_support import Running, running, sandbox_settings

pytestmark = [pytest.mark.revenue, pytest.mark.slow]

SILENT_AIRTEL = "254733000102"  # the emulator's customer who never answers
SILENT_MPESA = "254708000102"
REV = "/api/qmoi/revenue"


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[Running]:
    # speed 10: customers answer within 3 s; the silent one times out only after 6 s
    async with running(sandbox_settings(tmp_path), speed=10, simulate=False) as r:
        yield r


def ledger_state(run: Running) -> tuple[int, int, int]:
    with run.services.uows(read_only=True) as uow:
        return (
            uow.ledger.entry_count(),
            uow.ledger.balance(accounts.wallet("airtel")).minor,
            uow.ledger.balance(accounts.wallet("mpesa")).minor,
        )


async def pending_collection(
    run: Running, provider: str, msisdn: str, amount: Any = 1500
) -> dict[str, Any]:
    answer = await run.api.post(
        f"{REV}/{provider}/generate",
        json={"requests": [{"msisdn": msisdn, "amount": amount, "stream": "airtime_sales"}]},
    )
    assert answer.status_code == 202, answer.text
    (collection,) = answer.json()["collections"]
    assert collection["status"] == "pending"
    return dict(collection)


async def test_every_route_needs_a_valid_key(run: Running) -> None:
    for key in (None, "Bearer wrong-key", "Basic abc"):
        headers = {"Authorization": key} if key else {}
        answer = await run.api.get(f"{REV}/metrics", headers=headers or {"Authorization": ""})
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        (
            "/bogus/generate",
            {"requests": [{"msisdn": SILENT_AIRTEL, "amount": 10, "stream": "airtime_sales"}]},
            404,
            "unknown_provider",
        ),
        (
            "/airtel/generate",
            {"requests": [{"msisdn": SILENT_AIRTEL, "amount": 10, "stream": "lottery"}]},
            422,
            "unknown_stream",
        ),
        (
            "/airtel/generate",
            {"requests": [{"msisdn": SILENT_AIRTEL, "amount": "-5", "stream": "airtime_sales"}]},
            422,
            "invalid_amount",
        ),
        (
            "/airtel/generate",
            {
                "requests": [
                    {"msisdn": SILENT_AIRTEL, "amount": "10.005", "stream": "airtime_sales"}
                ]
            },
            422,
            "invalid_amount",
        ),
        (
            "/airtel/generate",
            {"requests": [{"msisdn": SILENT_AIRTEL, "amount": 10.555, "stream": "airtime_sales"}]},
            422,
            "invalid_amount",
        ),
        (
            "/airtel/generate",
            {"requests": [{"msisdn": "+256701234567", "amount": 10, "stream": "airtime_sales"}]},
            422,
            "invalid_msisdn",
        ),
        (
            "/mpesa/generate",
            {"requests": [{"msisdn": SILENT_MPESA, "amount": "10.50", "stream": "airtime_sales"}]},
            422,
            "invalid_amount",
        ),
        (
            "/airtel/generate",
            {
                "requests": [
                    {"msisdn": SILENT_AIRTEL, "amount": 10, "stream": "airtime_sales", "tip": 5}
                ]
            },
            422,
            "invalid_request",
        ),
        ("/airtel/transfer", {"amount": "-100"}, 422, "invalid_amount"),
        ("/airtel/transfer", {"amount": "100.001"}, 422, "invalid_amount"),
        ("/airtel/transfer", {"amount": "1000"}, 409, "insufficient_funds"),
        ("/mpesa/transfer", {"amount": 0}, 422, "invalid_amount"),
    ],
)
async def test_bad_input_gets_a_stable_code_and_changes_nothing(
    run: Running, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    before = ledger_state(run)
    answer = await run.api.post(f"{REV}{path}", json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert "Traceback" not in error["message"]
    assert ledger_state(run) == before
    history = await run.api.get(f"{REV}/airtel/transactions")
    assert history.json()["items"] == []


async def test_a_number_of_another_network_is_refused_only_when_strict(tmp_path: Path) -> None:
    """QMOI_STRICT_NETWORK=true: an M-Pesa-range number asked of Airtel is refused."""
    settings = sandbox_settings(tmp_path, QMOI_STRICT_NETWORK="true")
    async with running(settings, speed=10, simulate=False) as run:
        before = ledger_state(run)
        body = {"requests": [{"msisdn": SILENT_MPESA, "amount": 10, "stream": "airtime_sales"}]}
        answer = await run.api.post(f"{REV}/airtel/generate", json=body)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid_msisdn"
        assert "is a Safaricom number, not Airtel" in error["message"]
        assert ledger_state(run) == before
        assert (await run.api.get(f"{REV}/airtel/transactions")).json()["items"] == []


async def test_a_number_of_another_network_is_sent_and_logged_by_default(run: Running) -> None:
    """Numbers can be ported: the request goes out, and a warning event names the case
    (the number masked like every number in the logs)."""
    collection = await pending_collection(run, "airtel", SILENT_MPESA)
    assert collection["msisdn"] == "254*****102"
    log = (run.runtime.container.settings.log_dir / "qmoi.log").read_text()
    (line,) = [x for x in log.splitlines() if "collection.network_mismatch" in x]
    event = json.loads(line)
    assert event["level"] == "warning"
    assert event["provider"] == "airtel"
    assert event["expected_network"] == "Airtel"
    assert event["country"] == "KE"
    assert SILENT_MPESA not in line


async def test_a_ugandan_airtel_account_takes_no_cents(tmp_path: Path) -> None:
    """AIRTEL_COUNTRY=UG: amounts are UGX, which has no minor unit, and numbers Ugandan."""
    settings = sandbox_settings(tmp_path, AIRTEL_COUNTRY="UG", AIRTEL_CURRENCY="UGX")
    async with running(settings, speed=10, simulate=False) as run:
        before = ledger_state(run)
        for amount in ("1500.50", 1500.5, "1,500.5"):
            body = {
                "requests": [
                    {"msisdn": "256701234567", "amount": amount, "stream": "airtime_sales"}
                ]
            }
            answer = await run.api.post(f"{REV}/airtel/generate", json=body)
            assert answer.status_code == 422, answer.text
            assert answer.json()["error"]["code"] == "invalid_amount"
        kenyan = {
            "requests": [{"msisdn": SILENT_AIRTEL, "amount": 1500, "stream": "airtime_sales"}]
        }
        answer = await run.api.post(f"{REV}/airtel/generate", json=kenyan)
        assert answer.status_code == 422, answer.text
        assert "not a valid Ugandan mobile number" in answer.json()["error"]["message"]
        assert ledger_state(run) == before
        collection = await pending_collection(run, "airtel", "0701234567", 1500)
        assert (collection["amount"], collection["currency"]) == (1500, "UGX")


@pytest.mark.parametrize(
    ("method", "path", "request_"),
    [
        ("POST", f"{REV}/airtel/transfer", {"json": {"amount": 100, "currency": "KES"}}),
        ("POST", f"{REV}/mpesa/generate", {"json": {"requests": [], "dry_run": True}}),
        ("GET", f"{REV}/airtel/transactions", {"params": {"strem": "airtime_sales"}}),
        ("GET", "/api/qmoi/audit", {"params": {"afer": 3}}),
    ],
)
async def test_our_schemas_refuse_unknown_fields_with_a_stable_code(
    run: Running, method: str, path: str, request_: dict[str, Any]
) -> None:
    """A typo or a field we do not have is refused, in a body or a query string — never
    ignored (``?strem=…`` would otherwise list everything, unfiltered)."""
    before = ledger_state(run)
    answer = await run.api.request(method, path, **request_)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert "Extra inputs are not permitted" in error["message"]
    assert ledger_state(run) == before


async def test_provider_callbacks_with_fields_we_do_not_know_are_still_booked(
    run: Running,
) -> None:
    """Airtel and Daraja add fields without notice: their callbacks are parsed for what
    we need and the rest is tolerated, at every level of the body."""
    airtel = await pending_collection(run, "airtel", SILENT_AIRTEL)
    success = {
        "id": airtel["id"],
        "message": "Paid",
        "status_code": "TS",
        "airtel_money_id": "MP-NEWFIELDS-1",
        "fee": {"amount": 0, "currency": "KES"},  # not in the documented shape
    }
    answer = await run.api.post(
        "/api/airtel/callback",
        content=airtel_callback(run, success),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    # Daraja's own callback is lost; the one that comes (with new fields) is a hint,
    # which the STK query confirms
    await run.emulator("mpesa", "PUT", "/sandbox/faults", json={"lost_callback_rate": 1.0})
    mpesa = await pending_collection(run, "mpesa", APPROVING_MPESA, 1500)
    with run.services.uows(read_only=True) as uow:
        stored = uow.collections.by_reference(mpesa["id"])
    assert stored is not None
    assert stored.provider_request_id is not None
    await paid_in_emulator(run, "mpesa", stored.provider_request_id)
    body = stk_success(stored.provider_request_id, 1500, APPROVING_MPESA)
    body["Signature"] = "new-in-some-release"
    stk = body["Body"]["stkCallback"]
    stk["Channel"] = "USSD"
    stk["CallbackMetadata"]["Item"].append({"Name": "LoyaltyPoints", "Value": "12"})
    answer = await run.api.post(f"/hooks/{mpesa_token(run)}/stk", json=body)
    assert answer.status_code == 200, answer.text
    await settle(run)
    assert await payments(run, "airtel") == 1
    assert await payments(run, "mpesa") == 1


APPROVING_MPESA = "254708000100"


def mpesa_token(run: Running) -> str:
    token = run.runtime.container.settings.mpesa.callback_token
    assert token is not None
    return token.get_secret_value()


def stk_success(checkout: str, kes: int, msisdn: str) -> dict[str, Any]:
    fixture = Path(__file__).parents[1] / "contract/fixtures/mpesa/stk_callback_success.json"
    body: dict[str, Any] = json.loads(fixture.read_text())
    stk = body["Body"]["stkCallback"]
    stk["CheckoutRequestID"] = checkout
    for item in stk["CallbackMetadata"]["Item"]:
        if item["Name"] == "Amount":
            item["Value"] = kes
        if item["Name"] == "PhoneNumber":
            item["Value"] = int(msisdn)
    return body


async def paid_in_emulator(run: Running, provider: str, transaction_id: str) -> None:
    for _ in range(100):
        found = await run.emulator(provider, "GET", f"/sandbox/transactions/{transaction_id}")
        if found["status"] == "succeeded":
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{transaction_id} never succeeded in the {provider} emulator")


async def test_odd_but_valid_history_filters_answer_rather_than_crash(run: Running) -> None:
    """Found by the OpenAPI fuzzing (tests/e2e/test_openapi_fuzz.py): each was a 500."""
    for params in (
        {"kind": "fee", "stream": "airtime_sales"},  # fees have no stream: nothing
        {"kind": "transfer", "stream": "data_packages"},
        {"from": "0001-01-01", "to": "9999-12-31"},  # days whose edges leave the calendar
    ):
        answer = await run.api.get(f"{REV}/airtel/transactions", params=params)
        assert answer.status_code == 200, (params, answer.text)
        assert answer.json() == {"items": [], "next_cursor": None}
    past_every_id = base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|fee|" + b"9" * 30)
    for params in ({"from": "0.0"}, {"cursor": past_every_id.decode()}):
        answer = await run.api.get(f"{REV}/airtel/transactions", params=params)
        assert answer.status_code == 422, (params, answer.text)
    huge = await run.api.get("/api/qmoi/audit", params={"after": 10**22})
    assert huge.status_code == 422
    too_much = await run.api.post(  # a JSON number, read as a Decimal: 1.8 × 10^310 cents
        f"{REV}/airtel/transfer",
        content=b'{"amount": 1.7976931348623155e+308}',
        headers={"Content-Type": "application/json"},
    )
    assert too_much.status_code == 422
    assert too_much.json()["error"]["code"] == "invalid_amount"


async def test_transfer_idempotency_key_replays_or_conflicts(run: Running) -> None:
    headers = {"Idempotency-Key": "payout-42"}
    first = await run.api.post(f"{REV}/airtel/transfer", json={"amount": 500}, headers=headers)
    again = await run.api.post(f"{REV}/airtel/transfer", json={"amount": 500}, headers=headers)
    assert first.status_code == again.status_code == 409  # nothing earned yet: refused…
    assert again.headers.get("Idempotent-Replayed") == "true"  # …and the refusal replayed
    assert again.json() == first.json()
    other = await run.api.post(f"{REV}/airtel/transfer", json={"amount": 600}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"


async def test_history_is_cursor_paginated_without_repeats(run: Running) -> None:
    for amount in (100, 200, 300, 400, 500):
        await pending_collection(run, "airtel", SILENT_AIRTEL, amount)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "kind": "collection"}
        if cursor:
            params["cursor"] = cursor
        page = (await run.api.get(f"{REV}/airtel/transactions", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        assert all(item["msisdn"] == "254*****102" for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    bad = await run.api.get(f"{REV}/airtel/transactions", params={"cursor": "nonsense"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_cursor"


def airtel_callback(run: Running, transaction: dict[str, Any], *, forge: bool = False) -> bytes:
    secret = run.runtime.container.settings.airtel.callback_secret
    assert secret is not None
    outer = json.dumps({"transaction": transaction}, separators=(",", ":")).encode()
    key = b"not-the-secret" if forge else secret.get_secret_value().encode()
    digest = base64.b64encode(hmac.new(key, outer, hashlib.sha256).digest()).decode()
    return json.dumps({"transaction": transaction, "hash": digest}).encode()


async def payments(run: Running, provider: str) -> int:
    return int((await run.api.get(f"{REV}/metrics")).json()[provider]["payments"])


async def settle(run: Running) -> None:
    for _ in range(20):
        run.runtime.worker.wake()
        await asyncio.sleep(0.1)


async def test_forged_unknown_and_replayed_airtel_callbacks(run: Running) -> None:
    collection = await pending_collection(run, "airtel", SILENT_AIRTEL)
    success = {
        "id": collection["id"],
        "message": "Paid",
        "status_code": "TS",
        "airtel_money_id": "MP-FORGED-1",
    }
    forged = await run.api.post(
        "/api/airtel/callback",
        content=airtel_callback(run, success, forge=True),
        headers={"Content-Type": "application/json"},
    )
    assert forged.status_code == 400
    assert forged.json()["error"]["code"] == "callback_rejected"
    unknown = await run.api.post(
        "/api/airtel/callback",
        content=airtel_callback(run, {**success, "id": "QC-not-ours"}),
        headers={"Content-Type": "application/json"},
    )
    assert unknown.status_code == 200  # acknowledged, stored, never booked
    await settle(run)
    assert await payments(run, "airtel") == 0
    genuine = airtel_callback(run, {**success, "airtel_money_id": "MP-REAL-1"})
    for _ in range(3):  # the same callback delivered three times
        answer = await run.api.post(
            "/api/airtel/callback", content=genuine, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 200
    await settle(run)
    assert await payments(run, "airtel") == 1
    with run.services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("airtel")).minor == 150000
        assert uow.inbox.counts().get("rejected", 0) == 2  # the forgery and the stranger


async def test_an_mpesa_callback_is_a_hint_whatever_it_claims(run: Running) -> None:
    """Daraja signs nothing and the path token travels in URLs: whoever holds it can
    post a "paid" for a customer who never paid, with any amount. It is asked about
    (the STK query: still waiting) and nothing is booked — no revenue, no suspense."""
    collection = await pending_collection(run, "mpesa", SILENT_MPESA, 1500)
    with run.services.uows(read_only=True) as uow:
        stored = uow.collections.by_reference(collection["id"])
    assert stored is not None
    assert stored.provider_request_id
    before = ledger_state(run)
    wrong = await run.api.post(
        "/hooks/wrong-token/stk", json=stk_success(stored.provider_request_id, 15, SILENT_MPESA)
    )
    assert wrong.status_code == 404
    for kes in (1500, 15):  # the amount asked, and another
        forged = stk_success(stored.provider_request_id, kes, SILENT_MPESA)
        answer = await run.api.post(f"/hooks/{mpesa_token(run)}/stk", json=forged)
        assert answer.status_code == 200
    await settle(run)
    assert await payments(run, "mpesa") == 0
    assert ledger_state(run) == before
    with run.services.uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.SUSPENSE).minor == 0
        still = uow.collections.by_reference(collection["id"])
        assert still is not None
        assert still.state.value == "pending"
        assert uow.inbox.counts().get("hint") == 2


async def test_a_payment_made_in_the_emulator_is_booked_and_shows_in_metrics(
    run: Running,
) -> None:
    answer = await run.api.post(
        f"{REV}/airtel/generate",
        json={
            "requests": [
                {
                    "msisdn": "254733000100",
                    "amount": "1,250.50",
                    "stream": "data_packages",
                    "reference": "INV-77",
                }
            ]
        },
    )
    assert answer.status_code == 202
    for _ in range(100):
        metrics = (await run.api.get(f"{REV}/metrics")).json()
        if metrics["airtel"]["dailyEarnings"]:
            break
        await asyncio.sleep(0.1)
    assert metrics["airtel"]["dailyEarnings"] == 1250.5
    assert metrics["airtel"]["streamPerformance"]["dataPackages"]["earned"] == 1250.5
    balance = (await run.api.get(f"{REV}/airtel/balance")).json()
    assert balance["available"] == 1250.5
    assert balance["todays_earnings"] == 1250.5
    assert balance["provider_balance"] is not None


async def raw_post(run: Running, path: str, head: str, body: bytes) -> tuple[int, bytes]:
    """POST over a bare socket (a client that keeps sending is cut off by the refusal:
    httpx would report that, not the answer)."""
    host, port = run.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    key = run.runtime.master_key
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\n{head}\r\n".encode()
        + body
    )
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), timeout=10)
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


async def test_oversized_bodies_are_refused_before_they_are_read(run: Running) -> None:
    before = ledger_state(run)
    # declared too large: refused before a byte of the body is read
    status, body = await raw_post(
        run, f"{REV}/airtel/generate", "Content-Length: 50000000\r\n", b""
    )
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    # no length declared: counted as it streams, cut off at the callbacks' 64 KiB
    chunk = b"x" * 8192
    chunked = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(10))
    status, _ = await raw_post(
        run, "/api/airtel/callback", "Transfer-Encoding: chunked\r\n", chunked
    )
    assert status == 413
    assert ledger_state(run) == before
    ok = await run.api.get(f"{REV}/metrics")  # the server is fine afterwards
    assert ok.status_code == 200


async def post_raw(run: Running, path: str, body: str) -> Any:
    """POST ``body`` as written: a JSON library would re-encode our numbers first."""
    return await run.api.post(
        f"{REV}{path}", content=body.encode(), headers={"Content-Type": "application/json"}
    )


@pytest.mark.parametrize(
    ("number", "minor"),
    [
        ("1234567890.12", 123456789012),
        ("0.29", 29),  # 0.29 × 100 is 28.999999999999996 as floats
        ("1.15", 115),
        ("90071992547409.91", 9007199254740991),  # through a float: …409.9, a cent lost
        ("1.5E+3", 150000),
        ("250.50", 25050),
    ],
)
async def test_a_json_number_amount_is_stored_exactly_as_sent(
    run: Running, number: str, minor: int
) -> None:
    answer = await post_raw(
        run,
        "/airtel/generate",
        f'{{"requests": [{{"msisdn": "{SILENT_AIRTEL}", "amount": {number}, '
        '"stream": "airtime_sales"}]}',
    )
    assert answer.status_code == 202, answer.text
    (collection,) = answer.json()["collections"]
    with run.services.uows(read_only=True) as uow:
        stored = uow.collections.by_reference(collection["id"])
    assert stored is not None
    assert stored.amount.minor == minor


@pytest.mark.parametrize(
    ("path", "body", "why"),
    [
        ("/airtel/transfer", '{"amount": 1234567890123456.78}', "too large"),  # the issue's
        ("/mpesa/transfer", '{"amount": 1234567890123456.78}', "too large"),
        ("/airtel/transfer", '{"amount": 90071992547409.93}', "too large"),  # 2**53 + 1 cents
        ("/airtel/transfer", '{"amount": 90071992547410}', "too large"),
        ("/airtel/transfer", '{"amount": -90071992547410}', "too large"),
        ("/airtel/transfer", '{"amount": 1e400}', "too large"),
        ("/airtel/transfer", '{"amount": 100.001}', "more than 2 decimal places"),
        ("/airtel/transfer", '{"amount": 0.30000000000000004}', "more than 2 decimal places"),
        ("/airtel/transfer", '{"amount": 1e-400}', "more than 2 decimal places"),
        (
            "/airtel/generate",
            f'{{"requests": [{{"msisdn": "{SILENT_AIRTEL}", "amount": 1234567890123456.78, '
            '"stream": "airtime_sales"}]}',
            "too large",
        ),
        (
            "/airtel/generate",
            f'{{"requests": [{{"msisdn": "{SILENT_AIRTEL}", "amount": 12.345, '
            '"stream": "airtime_sales"}]}',
            "more than 2 decimal places",
        ),
    ],
)
async def test_a_json_number_that_would_be_rounded_is_refused_and_nothing_is_stored(
    run: Running, path: str, body: str, why: str
) -> None:
    """Refused as sent, never rounded first: read as a float, 1234567890123456.78 became
    …456.8 and was then judged (and could have been booked) as that."""
    before = ledger_state(run)
    answer = await post_raw(run, path, body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_amount"
    assert why in error["message"]
    assert "QMOI never rounds an amount" in error["message"]
    assert ledger_state(run) == before
    for provider in ("airtel", "mpesa"):
        history = await run.api.get(f"{REV}/{provider}/transactions")
        assert history.json()["items"] == []


async def test_nan_and_infinity_are_not_json_and_are_refused(run: Running) -> None:
    for literal in ("NaN", "Infinity", "-Infinity"):
        answer = await post_raw(run, "/airtel/transfer", f'{{"amount": {literal}}}')
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "invalid_request"
