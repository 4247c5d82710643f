"""SMS through the Africa's Talking messaging API.

The request and answer shapes follow Africa's Talking's public documentation (not one of
the provider documents this project was given, so treat them as unconfirmed; they live
here only): ``POST {base}/version1/messaging`` with an ``apiKey`` header and a form of
``username``, ``to`` (comma-separated +254… numbers), ``message`` and optional ``from``;
``201`` with ``SMSMessageData.Recipients[*].statusCode`` 100 (processed), 101 (sent) or
102 (queued) for each number that will get it."""

from __future__ import annotations

from typing import Any

import httpx

from qmoi.notify.base import DeliveryFailed, Message

LIVE_URL = "https://api.africastalking.com"
SANDBOX_URL = "https://api.sandbox.africastalking.com"
PATH = "/version1/messaging"
ACCEPTED = {100, 101, 102}
#: per-recipient codes that a retry cannot fix (invalid number, sender id, …)
PERMANENT = {402, 403, 404, 407}
MAX_CHARS = 480  # three SMS parts


class SmsChannel:
    name = "sms"

    def __init__(
        self,
        base_url: str,
        username: str,
        api_key: str,
        recipients: tuple[str, ...],
        *,
        sender: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + PATH
        self._username = username
        self._api_key = api_key
        self._recipients = recipients
        self._sender = sender
        self._transport = transport

    async def send(self, message: Message) -> None:
        form = {
            "username": self._username,
            "to": ",".join(f"+{n.lstrip('+')}" for n in self._recipients),
            "message": f"{message.subject}: {message.text}"[:MAX_CHARS],
        }
        if self._sender:
            form["from"] = self._sender
        headers = {"apiKey": self._api_key, "Accept": "application/json"}
        try:
            async with httpx.AsyncClient(timeout=15.0, transport=self._transport) as client:
                answer = await client.post(self._url, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"SMS gateway unreachable ({type(exc).__name__})") from None
        if answer.status_code in (401, 403):
            raise DeliveryFailed("the SMS gateway refused the API key", permanent=True)
        if not answer.is_success:
            raise DeliveryFailed(f"SMS gateway answered HTTP {answer.status_code}")
        _check_recipients(answer)


def _check_recipients(answer: httpx.Response) -> None:
    try:
        data: Any = answer.json()
        recipients = data["SMSMessageData"]["Recipients"]
        codes = [int(r["statusCode"]) for r in recipients]
    except (ValueError, KeyError, TypeError):
        raise DeliveryFailed("the SMS gateway's answer could not be read") from None
    if not codes:
        raise DeliveryFailed("the SMS gateway accepted no recipient", permanent=True)
    refused = [c for c in codes if c not in ACCEPTED]
    if refused:
        raise DeliveryFailed(
            f"the SMS gateway refused recipients (status {sorted(set(refused))})",
            permanent=all(c in PERMANENT for c in refused),
        )
