"""Helpers for the Airtel connector tests: settings, RSA helpers, Airtel envelopes and a
scripted fake Airtel (an ``httpx.MockTransport``) for unit tests of the client."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qmoi.config import AirtelSettings, Environment
from qmoi.providers.base import CallbackEvent, CallbackKind, CallbackRejected

FAKE_URL = "http://airtel.test"


def make_settings(**overrides: Any) -> AirtelSettings:
    values: dict[str, Any] = {
        "environment": Environment.SANDBOX,
        "client_id": "qmoi-sandbox",
        "client_secret": SecretStr("qmoi-sandbox-secret"),
        "phone_number": "254733000100",
        "country": "KE",
        "currency": "KES",
        "pin": SecretStr("1234"),
        "public_key": None,
        "base_url": None,
        "account_reference": "QMOI_AIRTEL",
        "transaction_desc": "QMOI Airtel Revenue",
        "callback_url": None,
        "message_signing": False,
        "callback_auth": False,
        "callback_secret": None,
        "debug": False,
    }
    for key, value in overrides.items():
        if key in ("client_secret", "pin", "callback_secret") and isinstance(value, str):
            value = SecretStr(value)
        values[key] = value
    return AirtelSettings(**values)


def public_der_b64(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def decrypt(key: rsa.RSAPrivateKey, b64: str) -> bytes:
    return key.decrypt(base64.b64decode(b64), padding.PKCS1v15())


def envelope(
    response_code: str,
    *,
    result_code: str = "ESB000010",
    success: bool = True,
    message: str = "SUCCESS",
    code: str = "200",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": {
            "code": code,
            "message": message,
            "result_code": result_code,
            "response_code": response_code,
            "success": success,
        }
    }
    if data is not None:
        body["data"] = data
    return body


def tx_data(**fields: Any) -> dict[str, Any]:
    return {"transaction": fields}


Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


@dataclass
class FakeAirtel:
    """A scripted Airtel: a handler per (method, path prefix); records every request."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    token_calls: int = 0
    token_value: str = "tok-1"
    token_lifetime: Any = "180"
    token_delay_s: float = 0.0

    def __post_init__(self) -> None:
        self.routes.setdefault(("POST", "/auth/oauth2/token"), self._token)

    async def _token(self, request: httpx.Request) -> httpx.Response:
        self.token_calls += 1
        await asyncio.sleep(self.token_delay_s)
        return httpx.Response(
            200,
            json={
                "access_token": f"{self.token_value}-{self.token_calls}",
                "expires_in": self.token_lifetime,
                "token_type": "bearer",
            },
        )

    def on(self, method: str, path: str, handler: Handler | dict[str, Any]) -> None:
        if isinstance(handler, dict):
            body = handler

            def answer(_: httpx.Request) -> httpx.Response:
                return httpx.Response(200, json=body)

            self.routes[(method, path)] = answer
        else:
            self.routes[(method, path)] = handler

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        best: tuple[str, str] | None = None
        for method, prefix in self.routes:
            if method == request.method and request.url.path.startswith(prefix):
                if best is None or len(prefix) > len(best[1]):
                    best = (method, prefix)
        if best is None:
            return httpx.Response(404, text="not found")
        answer = self.routes[best](request)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.startswith(path)]

    def body(self, request: httpx.Request) -> Any:
        return json.loads(request.content)


class FakeMonotonic:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CallbackInbox:
    """QMOI's side of Airtel callbacks for integration tests: a tiny ASGI app that hands
    every POST to ``parse`` (the connector's ``parse_callback``) and answers with
    ``answer`` (its ``callback_answer``), recording events and rejections."""

    def __init__(self) -> None:
        self.url = ""
        self.parse: Callable[[CallbackKind, dict[str, str], bytes], CallbackEvent] | None = None
        self.answer: Callable[[CallbackEvent | None, bool], dict[str, Any]] | None = None
        self.events: list[CallbackEvent] = []
        self.rejections: list[tuple[str, bytes]] = []
        self.answers: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[Route("/api/airtel/callback", self._receive, methods=["POST"])]
        )

    def attach(self, connector: Any) -> None:
        with self._lock:
            self.parse = connector.parse_callback
            self.answer = connector.callback_answer

    def clear(self) -> None:
        with self._lock:
            self.events.clear()
            self.rejections.clear()
            self.answers.clear()

    async def _receive(self, request: Request) -> JSONResponse:
        body = await request.body()
        with self._lock:
            parse, answer = self.parse, self.answer
        assert parse is not None
        assert answer is not None
        try:
            event: CallbackEvent | None = parse(
                CallbackKind.COLLECTION, dict(request.headers), body
            )
            accepted = True
        except CallbackRejected as exc:
            event, accepted = None, False
            with self._lock:
                self.rejections.append((exc.reason, body))
        reply = answer(event, accepted)
        with self._lock:
            if event is not None:
                self.events.append(event)
            self.answers.append(reply)
        return JSONResponse(reply, status_code=200)

    def for_reference(self, reference: str) -> list[CallbackEvent]:
        with self._lock:
            return [e for e in self.events if e.reference == reference]

    async def wait_for(
        self, reference: str, count: int = 1, timeout_s: float = 5.0
    ) -> list[CallbackEvent]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            events = self.for_reference(reference)
            if len(events) >= count:
                return events
            await asyncio.sleep(0.01)
        raise AssertionError(
            f"expected {count} callbacks for {reference}, got {len(self.for_reference(reference))}"
        )
