"""Helpers for the M-Pesa connector tests: constants, a key pair type and a scriptable
fake Daraja on httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from qmoi.providers.base import InMemoryResultWaiter

#: The public Daraja sandbox passkey (doc §5 test vector, decoded from the sample Password).
PUBLIC_SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
CALLBACK_TOKEN = "k3y-" + "x" * 28
CALLBACK_BASE = f"https://qmoi.example/api/hooks/{CALLBACK_TOKEN}"
FAKE_BASE = "https://daraja.test"


@dataclass(frozen=True)
class KeyPair:
    private_key: rsa.RSAPrivateKey
    certificate_pem: str


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class FakeDaraja:
    """A scriptable Daraja: ``routes[path]`` answers requests to that path; every request
    is recorded. The OAuth route answers a fresh token each time unless scripted."""

    results: InMemoryResultWaiter
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    tokens_issued: int = 0
    token_delay_s: float = 0.0

    def answer(self, path: str, status: int, body: dict[str, Any]) -> None:
        """Answer every request to ``path`` with ``status`` and ``body``."""

        async def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(status, json=body)

        self.routes[path] = handler

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.url.path == path)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path == path]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in self.routes:
            return await self.routes[path](request)
        if path == "/oauth/v1/generate":
            await asyncio.sleep(self.token_delay_s)
            self.tokens_issued += 1
            return httpx.Response(
                200, json={"access_token": f"tok-{self.tokens_issued}", "expires_in": "3599"}
            )
        return httpx.Response(404, json={"errorCode": "404.001.01", "errorMessage": "not found"})
