"""Local stand-ins for where notifications go, served over real HTTP/SMTP on 127.0.0.1:
a webhook receiver that checks QMOI's signature, a small emulator of the Africa's Talking
messaging API (written from its public documentation), and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from qmoi_sandbox.common.server import free_port, serve_in_thread


@dataclass
class Webhook:
    secret: str
    #: HTTP statuses to answer, in order, before answering 204
    failures: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        timestamp = request.headers.get("x-qmoi-timestamp", "")
        expected = hmac.new(
            self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        given = request.headers.get("x-qmoi-signature", "")
        if not hmac.compare_digest(given, f"v1={expected}"):
            self.bad_signatures += 1
            return Response(status_code=401)
        if self.failures:
            return Response(status_code=self.failures.pop(0))
        self.received.append({"headers": dict(request.headers), "body": json.loads(body)})
        return Response(status_code=204)


@contextmanager
def webhook(secret: str, failures: list[int] | None = None) -> Iterator[tuple[str, Webhook]]:
    hook = Webhook(secret, list(failures or []))
    app = Starlette(routes=[Route("/hook", hook.receive, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield f"{url}/hook", hook


@dataclass
class AfricasTalking:
    """POST /version1/messaging: apiKey header, form username/to/message[/from]."""

    api_key: str
    username: str
    #: numbers answered with status 403 (InvalidPhoneNumber)
    invalid: set[str] = field(default_factory=set)
    sent: list[dict[str, str]] = field(default_factory=list)

    async def messaging(self, request: Request) -> Response:
        if request.headers.get("apikey") != self.api_key:
            return Response("The supplied authentication is invalid", status_code=401)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("username") != self.username or not form.get("message"):
            return Response("Request is missing required form field", status_code=400)
        recipients = []
        for number in form["to"].split(","):
            if number in self.invalid:
                recipients.append(
                    {
                        "statusCode": 403,
                        "number": number,
                        "status": "InvalidPhoneNumber",
                        "cost": "0",
                        "messageId": "None",
                    }  # fmt: skip
                )
            else:
                recipients.append(
                    {
                        "statusCode": 101,
                        "number": number,
                        "status": "Success",
                        "cost": "KES 0.8000",
                        "messageId": f"ATXid_{len(self.sent)}",
                    }  # fmt: skip
                )
        self.sent.append(form)
        sent = sum(1 for r in recipients if r["statusCode"] == 101)
        return JSONResponse(
            {
                "SMSMessageData": {
                    "Message": f"Sent to {sent}/{len(recipients)}",
                    "Recipients": recipients,
                }
            },  # fmt: skip
            status_code=201,
        )


@contextmanager
def africas_talking(
    api_key: str, username: str, invalid: set[str] | None = None
) -> Iterator[tuple[str, AfricasTalking]]:
    gateway = AfricasTalking(api_key, username, set(invalid or ()))
    app = Starlette(routes=[Route("/version1/messaging", gateway.messaging, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield url, gateway


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[EmailMessage]]]:
    mailbox = _Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox.messages
    finally:
        controller.stop()
