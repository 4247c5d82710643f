"""The failed-key throttle over real HTTP on 127.0.0.1: an address that keeps presenting
bad keys is answered 429 with Retry-After at once (nothing sleeps, and no key it sends is
checked meanwhile) until its block has passed; other addresses, signed-in sources
elsewhere and provider callbacks carry on as if nothing happened.

Other source addresses are real: the client binds 127.0.0.2 (any 127/8 address reaches
the loopback listener). The throttle's clock is injected so the test moves time on
instead of waiting it out."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from qmoi.api.app import create_app
from qmoi.api.throttle import FREE, AuthThrottle
from qmoi_sandbox.common.server import free_port
from tests.e2e.runtime_support import Running, running, sandbox_settings

pytestmark = [pytest.mark.slow]

METRICS = "/api/qmoi/revenue/metrics"
BAD_KEY = {"Authorization": "Bearer qk_12345678_" + "y" * 43}


class ManualClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Api:
    run: Running
    url: str
    clock: ManualClock
    owner: dict[str, str]

    def client(self, source: str = "127.0.0.1") -> httpx.AsyncClient:
        """A client whose connections leave from ``source``."""
        transport = httpx.AsyncHTTPTransport(local_address=source)
        return httpx.AsyncClient(base_url=self.url, transport=transport, timeout=30)


@asynccontextmanager
async def serving(run: Running, throttle: AuthThrottle) -> AsyncIterator[str]:
    """The API (as ``qmoi start`` serves it) over the running QMOI, with ``throttle``."""
    port = free_port()
    config = uvicorn.Config(
        create_app(run.runtime.container, throttle=throttle),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running(sandbox_settings(tmp_path), speed=10, simulate=False) as run:
        clock = ManualClock()
        async with serving(run, AuthThrottle(clock=clock)) as url:
            owner = {"Authorization": f"Bearer {run.runtime.master_key}"}
            yield Api(run, url, clock, owner)


def retry_after(answer: httpx.Response) -> int:
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"]["code"] == "too_many_attempts"
    seconds = int(answer.headers["Retry-After"])  # whole seconds, as HTTP wants
    assert seconds >= 1
    return seconds


async def test_bad_keys_from_one_address_get_429_until_the_block_has_passed(api: Api) -> None:
    async with api.client() as client:
        for _ in range(FREE):
            answer = await client.get(METRICS, headers=BAD_KEY)
            assert answer.status_code == 401, answer.text
        for _ in range(20):  # answered at once, each without its key being checked
            wait = retry_after(await client.get(METRICS, headers=BAD_KEY))
        assert wait == 1
        # blocked means blocked: not even the right key is checked from there
        assert retry_after(await client.get(METRICS, headers=api.owner)) == wait
        api.clock.now += wait - 0.5
        assert retry_after(await client.get(METRICS, headers=api.owner)) == 1
        api.clock.now += 0.5
        served = await client.get(METRICS, headers=api.owner)
        assert served.status_code == 200, served.text
        assert (await client.get(METRICS, headers=api.owner)).status_code == 200
        # one more failure within the minute: blocked again, for twice as long
        assert (await client.get(METRICS, headers=BAD_KEY)).status_code == 401
        assert retry_after(await client.get(METRICS, headers=api.owner)) == 2
        api.clock.now += 61  # the failures have left the window: five free tries again
        for _ in range(FREE - 1):
            assert (await client.get(METRICS, headers=BAD_KEY)).status_code == 401
        assert (await client.get(METRICS, headers=api.owner)).status_code == 200
    log = (api.run.runtime.container.settings.log_dir / "qmoi.log").read_text()
    assert '"event": "auth.failed_repeatedly"' in log


async def test_other_addresses_are_unaffected_by_a_blocked_one(api: Api) -> None:
    async with api.client("127.0.0.1") as attacker, api.client("127.0.0.2") as owner:
        for _ in range(FREE + 3):
            await attacker.get(METRICS, headers=BAD_KEY)
        retry_after(await attacker.get(METRICS, headers=api.owner))
        answer = await owner.get(METRICS, headers=api.owner)
        assert answer.status_code == 200, answer.text
        # its own count starts at nothing: a wrong key there is a plain 401
        assert (await owner.get(METRICS, headers=BAD_KEY)).status_code == 401
        assert (await owner.get(METRICS, headers=api.owner)).status_code == 200


def airtel_callback(run: Running, transaction: dict[str, str]) -> bytes:
    secret = run.runtime.container.settings.airtel.callback_secret
    assert secret is not None
    outer = json.dumps({"transaction": transaction}, separators=(",", ":")).encode()
    digest = hmac.new(secret.get_secret_value().encode(), outer, hashlib.sha256).digest()
    hashed = {"transaction": transaction, "hash": base64.b64encode(digest).decode()}
    return json.dumps(hashed).encode()


async def test_provider_callbacks_from_a_blocked_address_are_answered(api: Api) -> None:
    """A callback needs no key: sixty bad-key connections from the same address, at
    once, neither block it nor hold the threads it needs."""
    callback = airtel_callback(
        api.run,
        {"id": "QC-not-ours", "message": "Paid", "status_code": "TS", "airtel_money_id": "MP-1"},
    )
    headers = {"Content-Type": "application/json"}
    async with api.client() as client:
        answers = await asyncio.gather(
            *(client.get(METRICS, headers=BAD_KEY) for _ in range(60)),
            client.post("/api/airtel/callback", content=callback, headers=headers),
        )
        *refused, during = answers
        assert {a.status_code for a in refused} <= {401, 429}
        assert any(a.status_code == 429 for a in refused)
        assert during.status_code == 200, during.text
        retry_after(await client.get(METRICS, headers=api.owner))  # still blocked…
        after = await client.post("/api/airtel/callback", content=callback, headers=headers)
        assert after.status_code == 200, after.text  # …and callbacks still answered
