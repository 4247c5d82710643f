"""The owner's webhook: the notification as JSON, signed so the receiver can tell it is
QMOI's and fresh.

``X-QMOI-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`` with
``X-QMOI-Timestamp`` (Unix seconds): the receiver recomputes the HMAC over the exact
bytes and refuses old timestamps, which stops replays. ``X-QMOI-Delivery`` is the
notification id (the same on every retry, for deduplication)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx

from qmoi.notify.base import DeliveryFailed, Message

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


class WebhookChannel:
    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._secret = secret
        self._transport = transport
        self._clock = clock

    async def send(self, message: Message) -> None:
        body = json.dumps(message.as_json(), separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "QMOI-notify",
            "X-QMOI-Event": message.kind,
            "X-QMOI-Delivery": str(message.id),
            "X-QMOI-Timestamp": timestamp,
            "X-QMOI-Signature": signature(self._secret, timestamp, body),
        }
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT, transport=self._transport) as client:
                answer = await client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook unreachable ({type(exc).__name__})") from None
        if not answer.is_success:
            # 4xx other than 408/429 means the receiver refuses this request as it is
            permanent = 400 <= answer.status_code < 500 and answer.status_code not in (408, 429)
            raise DeliveryFailed(f"webhook answered HTTP {answer.status_code}", permanent=permanent)
