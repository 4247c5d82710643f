"""Helpers for the connector-against-emulator tests: a control client for the Daraja
emulator and a tiny callback receiver that does what QMOI's API layer will do.

The receiver runs in its own thread (``serve_in_thread``); it checks the path token with
the connector's helper, maps the sub-path to a :class:`CallbackKind`, parses with
``parse_callback``, keeps an inbox keyed by ``event_id`` (a repeat is recorded as a
duplicate), hands waited-for results to the test loop's ``ResultWaiter`` and answers with
``callback_answer``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qmoi.providers.base import CallbackEvent, CallbackKind, CallbackRejected, ResultWaiter
from qmoi.providers.mpesa import callbacks
from qmoi.providers.mpesa.client import MpesaConnector

APPROVES, CANCELS, SILENT, NO_FUNDS, WRONG_PIN = (
    "254708000100",
    "254708000101",
    "254708000102",
    "254708000103",
    "254708000104",
)


class Emulator:
    """The emulator's control and inspection API (docs/sandbox.md)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=5.0)

    def close(self) -> None:
        self.http.close()

    def _ok(self, response: httpx.Response) -> Any:
        assert response.status_code == 200, response.text
        return response.json()

    def reset(self) -> None:
        self._ok(self.http.post("/sandbox/reset"))

    def faults(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._ok(self.http.put("/sandbox/faults", json=changes))
        return result

    def clear_faults(self) -> None:
        self._ok(self.http.delete("/sandbox/faults"))

    def injected(self) -> dict[str, int]:
        counts: dict[str, int] = self._ok(self.http.get("/sandbox/faults/injected"))["counts"]
        return counts

    def wallet_minor(self) -> int:
        return int(self._ok(self.http.get("/sandbox/wallet"))["balance_minor"])

    def set_wallet(self, minor: int) -> None:
        self._ok(self.http.put("/sandbox/wallet", json={"balance_minor": minor}))

    def transactions(self, kind: str | None = None) -> list[dict[str, Any]]:
        params = {"kind": kind} if kind else {}
        result: list[dict[str, Any]] = self._ok(
            self.http.get("/sandbox/transactions", params=params)
        )
        return result

    def transaction(self, transaction_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._ok(self.http.get(f"/sandbox/transactions/{transaction_id}"))
        return result

    def deliveries(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._ok(self.http.get("/sandbox/callbacks"))
        return result

    def certificate(self) -> str:
        response = self.http.get("/sandbox/certificate")
        assert response.status_code == 200
        return response.text

    def c2b_pay(self, msisdn: str, amount: int, bill_ref_number: str) -> dict[str, Any]:
        body = {"msisdn": msisdn, "amount": amount, "bill_ref_number": bill_ref_number}
        result: dict[str, Any] = self._ok(self.http.post("/sandbox/c2b/pay", json=body))
        return result

    def wait_until(self, check: Callable[[], bool], timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError("the emulator never reached the expected state")
            time.sleep(0.01)


@dataclass
class Record:
    """One callback as the receiver saw it."""

    sub_path: str
    kind: CallbackKind | None
    event: CallbackEvent | None
    rejected: str | None  # CallbackRejected.reason, "bad_token" or "unknown_path"
    answer: dict[str, Any] | None
    duplicate: bool = False


@dataclass
class Receiver:
    url: str = ""
    records: list[Record] = field(default_factory=list)
    inbox: dict[str, CallbackEvent] = field(default_factory=dict)
    connector: MpesaConnector | None = None
    results: ResultWaiter | None = None
    loop: asyncio.AbstractEventLoop | None = None

    def attach(
        self, connector: MpesaConnector, results: ResultWaiter, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.connector, self.results, self.loop = connector, results, loop
        self.records.clear()
        self.inbox.clear()

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/hooks/{token}/{rest:path}", self.handle, methods=["POST"])]
        )

    async def handle(self, request: Request) -> JSONResponse:
        connector = self.connector
        assert connector is not None
        sub_path = "/" + request.path_params["rest"]
        body = await request.body()
        if not connector.callback_token_valid(request.path_params["token"]):
            self.records.append(Record(sub_path, None, None, "bad_token", None))
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        found = callbacks.route(sub_path)
        if found is None:
            self.records.append(Record(sub_path, None, None, "unknown_path", None))
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        kind, tag = found
        try:
            event = connector.parse_callback(kind, dict(request.headers), body)
        except CallbackRejected as exc:
            answer = (
                connector.validation_answer(None, False)
                if kind is CallbackKind.C2B_VALIDATION
                else connector.callback_answer(None, False)
            )
            self.records.append(Record(sub_path, kind, None, exc.reason, answer))
            return JSONResponse(answer)
        duplicate = event.event_id in self.inbox
        self.inbox.setdefault(event.event_id, event)
        delivery = callbacks.waiter_delivery(event, tag)
        if delivery is not None and self.loop is not None and self.results is not None:
            self.loop.call_soon_threadsafe(self.results.deliver, *delivery)
        answer = connector.callback_answer(event, True)
        self.records.append(Record(sub_path, kind, event, None, answer, duplicate))
        return JSONResponse(answer)

    def events(self, kind: CallbackKind, reference: str | None = None) -> list[Record]:
        return [
            r
            for r in self.records
            if r.kind is kind
            and r.event is not None
            and (reference is None or r.event.reference == reference)
        ]

    async def wait_for(
        self, kind: CallbackKind, reference: str | None = None, *, count: int = 1,
        timeout_s: float = 5.0,
    ) -> list[Record]:  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while len(found := self.events(kind, reference)) < count:
            if time.monotonic() > deadline:
                seen = [(r.sub_path, r.rejected) for r in self.records]
                raise AssertionError(f"no {kind.value} callback for {reference!r}; saw {seen}")
            await asyncio.sleep(0.01)
        return found
