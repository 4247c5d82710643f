"""Helpers for the Daraja emulator tests, written from Daraja's documentation.

The merchant's side of the protocol (Basic auth, STK password, SecurityCredential
encryption with the published certificate) is written here with ``base64`` and
``cryptography`` directly; it shares no code with ``qmoi_sandbox.mpesa``, so a
misreading there shows up here.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from qmoi_sandbox.mpesa import MpesaState

# Simulated time runs 1000× faster: customers answer within 5-30 ms, an unanswered
# prompt gives up after 60 ms, initiator results come 1-5 ms after the request.
FAST: dict[str, Any] = {"speed": 1000.0, "seed": 11}

CONSUMER_KEY = "qmoi-sandbox"
CONSUMER_SECRET = "qmoi-sandbox-secret"
SHORTCODE = "174379"
PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
INITIATOR = "qmoi_initiator"
INITIATOR_PASSWORD = "Sandbox#1234"

APPROVES, CANCELS, SILENT, NO_FUNDS, WRONG_PIN = (
    "254708000100",
    "254708000101",
    "254708000102",
    "254708000103",
    "254708000104",
)
AIRTEL_NUMBER = "254733000100"

FIXTURES = Path(__file__).resolve().parents[2] / "contract" / "fixtures" / "mpesa"
NAIROBI = timezone(timedelta(hours=3))

_refs = itertools.count(1)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def unique(prefix: str = "qmoi") -> str:
    return f"{prefix}-{time.monotonic_ns() % 10**9}-{next(_refs)}"


def basic_auth(key: str = CONSUMER_KEY, secret: str = CONSUMER_SECRET) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def timestamp() -> str:
    return datetime.now(NAIROBI).strftime("%Y%m%d%H%M%S")


def stk_password(stamp: str, shortcode: str = SHORTCODE, passkey: str = PASSKEY) -> str:
    """STK password: base64(BusinessShortCode + Passkey + Timestamp)."""
    return base64.b64encode(f"{shortcode}{passkey}{stamp}".encode()).decode()


def security_credential(certificate_pem: str, password: str = INITIATOR_PASSWORD) -> str:
    """SecurityCredential: RSA PKCS#1 v1.5 under the certificate's public key, then base64."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return base64.b64encode(key.encrypt(password.encode(), padding.PKCS1v15())).decode()


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, step: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(step)


class HookServer:
    """One served app for many tests' hook endpoints: ``/hooks/<n>/…`` belongs to receiver n."""

    def __init__(self) -> None:
        self.base_url = ""
        self._receivers: dict[str, CallbackReceiver] = {}
        self._ids = itertools.count(1)
        self.app = Starlette(
            routes=[Route("/hooks/{n}/{path:path}", self._handle, methods=["POST"])]
        )

    def receiver(self) -> CallbackReceiver:
        n = str(next(self._ids))
        receiver = CallbackReceiver(f"{self.base_url}/hooks/{n}")
        self._receivers[n] = receiver
        return receiver

    async def _handle(self, request: Request) -> Response:
        receiver = self._receivers.get(request.path_params["n"])
        if receiver is None:
            return JSONResponse({"detail": "no such receiver"}, status_code=404)
        return await receiver.handle("/" + request.path_params["path"], await request.body())


class CallbackReceiver:
    """The merchant's hook endpoint: records every POST by path and answers as told."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self.calls: list[tuple[str, Any]] = []
        self.answers: dict[str, tuple[int, Any]] = {}
        self.delays: dict[str, float] = {}

    async def handle(self, path: str, raw: bytes) -> Response:
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            self.calls.append((path, body))
        if path in self.delays:
            await asyncio.sleep(self.delays[path])
        default = (200, {"ResultCode": 0, "ResultDesc": "Accepted"})
        status, answer = self.answers.get(path, default)
        return JSONResponse(answer, status_code=status)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def hook(self, path: str) -> str:
        return f"{self.url}{path}"

    def bodies(self, path: str) -> list[Any]:
        with self._lock:
            return [body for p, body in self.calls if p == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        def enough() -> list[Any] | None:
            bodies = self.bodies(path)
            return bodies if len(bodies) >= count else None

        result: list[Any] = wait_until(enough, timeout)
        return result


class Mpesa:
    """A test's handle on one served emulator: plain httpx plus a few shortcuts."""

    def __init__(self, base_url: str, app: FastAPI, receiver: CallbackReceiver) -> None:
        self.base_url = base_url
        self.app = app
        self.receiver = receiver
        self.http = httpx.Client(base_url=base_url, timeout=10.0)
        self._token: str | None = None
        self._token_at = 0.0
        self._certificate: str | None = None

    @property
    def state(self) -> MpesaState:
        state: MpesaState = self.app.state.mpesa
        return state

    def close(self) -> None:
        self.http.close()

    # -- Daraja side ---------------------------------------------------------------------

    def new_token(self) -> str:
        answer = self.http.get(
            "/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            headers={"Authorization": basic_auth()},
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def token(self) -> str:
        """A token, renewed after a second: at speed 1000 a 3599 s token lasts 3.6 s real."""
        if self._token is None or time.monotonic() - self._token_at > 1.0:
            self._token = self.new_token()
            self._token_at = time.monotonic()
        return self._token

    def post(self, path: str, body: Any, *, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        return self.http.post(path, json=body, headers=headers)

    def certificate(self) -> str:
        if self._certificate is None:
            answer = self.http.get("/sandbox/certificate")
            assert answer.status_code == 200
            self._certificate = answer.text
        return self._certificate

    def credential(self, password: str = INITIATOR_PASSWORD) -> str:
        return security_credential(self.certificate(), password)

    def stk_body(self, phone: str = APPROVES, amount: Any = 150, **changes: Any) -> dict[str, Any]:
        stamp = timestamp()
        body = {
            "BusinessShortCode": 174379,
            "Password": stk_password(stamp),
            "Timestamp": stamp,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": amount,
            "PartyA": int(phone),
            "PartyB": 174379,
            "PhoneNumber": int(phone),
            "CallBackURL": self.receiver.hook("/lnm"),
            "AccountReference": "AIR000042",
            "TransactionDesc": "Airtime",
        }
        body.update(changes)
        return body

    def push(self, phone: str = APPROVES, amount: Any = 150, **changes: Any) -> dict[str, Any]:
        answer = self.post(
            "/mpesa/stkpush/v1/processrequest", self.stk_body(phone, amount, **changes)
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def query_body(self, checkout_id: str) -> dict[str, Any]:
        stamp = timestamp()
        return {
            "BusinessShortCode": "174379",
            "Password": stk_password(stamp),
            "Timestamp": stamp,
            "CheckoutRequestID": checkout_id,
        }

    def b2c_body(self, **changes: Any) -> dict[str, Any]:
        receiver = self.receiver
        body = {
            "OriginatorConversationID": unique("payout"),
            "InitiatorName": INITIATOR,
            "SecurityCredential": self.credential(),
            "CommandID": "BusinessPayment",
            "Amount": 2000,
            "PartyA": 174379,
            "PartyB": 254708374149,
            "Remarks": "owner payout",
            "QueueTimeOutURL": receiver.hook("/b2c/timeout"),
            "ResultURL": receiver.hook("/b2c/result"),
            "Occassion": "auto-transfer",
        }
        body.update(changes)
        return body

    def initiator_body(self, command: str, **fields: Any) -> dict[str, Any]:
        receiver = self.receiver
        body = {
            "Initiator": INITIATOR,
            "SecurityCredential": self.credential(),
            "CommandID": command,
            "PartyA": 174379,
            "IdentifierType": "4",
            "Remarks": "check",
            "QueueTimeOutURL": receiver.hook("/ops/timeout"),
            "ResultURL": receiver.hook("/ops/result"),
        }
        body.update(fields)
        return body

    # -- sandbox side --------------------------------------------------------------------

    def transaction(self, key: str) -> dict[str, Any]:
        answer = self.http.get(f"/sandbox/transactions/{key}")
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def wait_final(self, key: str, timeout: float = 5.0) -> dict[str, Any]:
        def final() -> dict[str, Any] | None:
            tx = self.transaction(key)
            return tx if tx["status"] != "pending" else None

        result: dict[str, Any] = wait_until(final, timeout)
        return result

    def balance_minor(self) -> int:
        value: int = self.http.get("/sandbox/wallet").json()["balance_minor"]
        return value

    def faults(self, **changes: Any) -> dict[str, Any]:
        answer = self.http.put("/sandbox/faults", json=changes)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def injected(self) -> dict[str, int]:
        counts: dict[str, int] = self.http.get("/sandbox/faults/injected").json()["counts"]
        return counts

    def deliveries(self) -> list[dict[str, Any]]:
        log: list[dict[str, Any]] = self.http.get("/sandbox/callbacks").json()
        return log


def result_parameters(body: dict[str, Any]) -> dict[str, Any]:
    """``Result.ResultParameters.ResultParameter`` as a dict (looked up by Key)."""
    params = body["Result"].get("ResultParameters", {}).get("ResultParameter", [])
    return {item["Key"]: item.get("Value") for item in params}


def callback_items(body: dict[str, Any]) -> dict[str, Any]:
    """STK ``CallbackMetadata.Item`` by Name (never by position)."""
    items = body["Body"]["stkCallback"].get("CallbackMetadata", {}).get("Item", [])
    return {item["Name"]: item.get("Value") for item in items}
