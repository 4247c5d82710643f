"""Request body size limits, enforced before a handler reads anything: a declared
``Content-Length`` over the limit is refused at once, and a body sent without one is
counted as it streams and cut off at the limit — so no request can make QMOI buffer
more than the limit. Answers ``413 payload_too_large`` in the API's error shape."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: our JSON API takes at most 500 payment requests: 1 MiB is plenty
DEFAULT_MAX = 1024 * 1024
#: provider callbacks are small; a large one is not a provider's
CALLBACK_MAX = 64 * 1024
CALLBACK_PREFIXES = ("/api/airtel/", "/api/mpesa/", "/hooks/")


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = CALLBACK_MAX if path.startswith(CALLBACK_PREFIXES) else DEFAULT_MAX
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"the request body is over {limit} bytes; send less",
            }
        }
    ).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
