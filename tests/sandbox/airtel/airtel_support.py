"""Helpers for the Airtel emulator tests, written from Airtel's documentation.

The client's cryptography (PIN encryption, message signing, callback hash) is written
here with ``cryptography`` directly; it shares no code with ``qmoi_sandbox.airtel.crypto``,
so a misreading there shows up here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# Fast simulated time: customers answer in 10-20 ms of real time, a silent phone gives
# up after 0.2 s, a callback retry waits 0.05 s. Tokens live 1.8 s (the client fetches
# a fresh one per call).
FAST: dict[str, Any] = {
    "speed": 100.0,
    "customer_delay_s": (1.0, 2.0),
    "prompt_timeout_s": 20.0,
    "callback_first_retry_s": 5.0,
    "seed": 7,
}
# Subscribers who take 0.3 s real to answer, a silent phone 0.5 s: for watching
# transactions while they are still pending.
SLOW: dict[str, Any] = {"customer_delay_s": (30.0, 30.0), "prompt_timeout_s": 50.0}

CLIENT_ID = "qmoi-sandbox"
CLIENT_SECRET = "qmoi-sandbox-secret"
PIN = "1234"

APPROVES, DECLINES, SILENT, NO_FUNDS, WRONG_PIN = (
    "733000100",
    "733000101",
    "733000102",
    "733000103",
    "733000104",
)

# Airtel's message-signing test vector.
DOC_BODY = (
    b'{"reference":"INV-0001","subscriber":{"country":"KE","currency":"KES","msisdn":"733123456"},'
    b'"transaction":{"amount":100,"country":"KE","currency":"KES","id":"ord-0001"}}'
)
DOC_KEY = base64.b64decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
DOC_IV = base64.b64decode("EBESExQVFhcYGRobHB0eHw==")
DOC_SIGNATURE = (
    "TiF3pgpGSWnfPpyNhyTZiEGWPuanwH4S+v3I1H299xsQJHHBe+SvVDA0NL8fmMYzMNPjwzHxiTlac4gBzlfuV8hLosYTw"
    "oWk6t6zxV5lfq+Nuu9eP/DeyyVoNGVSbCgEmHkDPvrvMj6+ssPr+wpe6DVn/N991C9Izkais4mf/v+57aAHt1dIc0lJ5r"
    "AkXEvuA47GO6L/Shwh42cSF/hEWsFwiNqd5mLy4Ag35LXazUw="
)

FIXTURES = os.path.join(
    os.path.dirname(__file__), os.pardir, os.pardir, "contract", "fixtures", "airtel"
)


def fixture(name: str) -> Any:
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return json.load(handle)


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def new_id(prefix: str = "qmoi") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


# --- the merchant's side of the cryptography, from Airtel's docs ----------------------


def load_public_key(key: str) -> rsa.RSAPublicKey:
    """The encryption key: base64 DER SubjectPublicKeyInfo (or PEM)."""
    if key.startswith("-----BEGIN"):
        loaded = serialization.load_pem_public_key(key.encode())
    else:
        loaded = serialization.load_der_public_key(base64.b64decode(key))
    assert isinstance(loaded, rsa.RSAPublicKey)
    return loaded


def encrypt_pin(public_key: rsa.RSAPublicKey, pin: str) -> str:
    """The PIN: base64(RSA/ECB/PKCS1Padding(pin))."""
    return base64.b64encode(public_key.encrypt(pin.encode(), padding.PKCS1v15())).decode()


def encrypt_pin_oaep(public_key: rsa.RSAPublicKey, pin: str) -> str:
    """The padding some clients use by mistake."""
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return base64.b64encode(public_key.encrypt(pin.encode(), oaep)).decode()


def aes_signature(body: bytes, key: bytes, iv: bytes) -> str:
    padder = sym_padding.PKCS7(128).padder()
    data = padder.update(body) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()


def sign(
    body: bytes, public_key: rsa.RSAPublicKey, key: bytes | None = None, iv: bytes | None = None
) -> dict[str, str]:
    """Message signing: x-signature = AES-256-CBC(body); x-key = RSA(b64(key):b64(iv))."""
    key = key or os.urandom(32)
    iv = iv or os.urandom(16)
    key_iv = f"{base64.b64encode(key).decode()}:{base64.b64encode(iv).decode()}"
    x_key = base64.b64encode(public_key.encrypt(key_iv.encode(), padding.PKCS1v15())).decode()
    return {"x-signature": aes_signature(body, key, iv), "x-key": x_key}


def callback_hmac(message: bytes, key: str) -> str:
    """The callback hash: base64(HMAC-SHA256(callback private key, JSON))."""
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


# --- a merchant callback endpoint ----------------------------------------------------------


class CallbackReceiver:
    """Collects what the emulator POSTs; answers with queued statuses, then 200.

    Shared by the tests of one worker: tests use unique transaction ids and read only
    the callbacks for their own ids.
    """

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        self.url = ""
        self.app = Starlette(routes=[Route("/airtel/callback", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> JSONResponse:
        body = await request.body()
        with self._lock:
            self.raw.append(body)
            status = self.answers.pop(0) if self.answers else 200
        return JSONResponse({}, status_code=status)

    def clear(self) -> None:
        with self._lock:
            self.raw.clear()
            self.answers.clear()

    def for_id(self, txn_id: str) -> list[dict[str, Any]]:
        with self._lock:
            bodies = [json.loads(raw) for raw in self.raw]
        return [b for b in bodies if b.get("transaction", {}).get("id") == txn_id]

    def wait_for(self, txn_id: str, count: int = 1, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            received = self.for_id(txn_id)
            if len(received) >= count:
                return received
            time.sleep(0.005)
        raise AssertionError(f"expected {count} callbacks for {txn_id}, got {self.for_id(txn_id)}")


# --- a small Airtel client ---------------------------------------------------------------


class Airtel:
    """The emulator under test, reached over HTTP like a merchant would."""

    def __init__(self, base_url: str, app: Any) -> None:
        self.url = base_url
        self.app = app
        self.engine = app.state.sandbox
        self.http = httpx.Client(base_url=base_url, timeout=10.0)
        config = self.engine.config
        # Reuse a token for a quarter of its real lifetime.
        self._token_reuse_s = config.token_ttl_s / config.speed / 4
        self._token: tuple[str, float] | None = None
        self._public_key: rsa.RSAPublicKey | None = None

    def close(self) -> None:
        self.http.close()

    # auth and headers
    def token(self) -> str:
        answer = self.http.post(
            "/auth/oauth2/token",
            json={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "grant_type": "client_credentials",
            },
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def cached_token(self) -> str:
        now = time.monotonic()
        if self._token is None or now - self._token[1] > self._token_reuse_s:
            self._token = (self.token(), now)
        return self._token[0]

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token or self.cached_token()}",
            "X-Country": "KE",
            "X-Currency": "KES",
            "Accept": "*/*",
        } | extra

    # product calls
    def push_body(
        self, msisdn: str, amount: Any, txn_id: str, reference: str = "QMOI order"
    ) -> dict[str, Any]:
        return {
            "reference": reference,
            "subscriber": {"country": "KE", "currency": "KES", "msisdn": msisdn},
            "transaction": {"amount": amount, "country": "KE", "currency": "KES", "id": txn_id},
        }

    def push(
        self, msisdn: str = APPROVES, amount: Any = 150, txn_id: str | None = None, version: int = 1
    ) -> httpx.Response:
        body = self.push_body(msisdn, amount, txn_id or new_id("col"))
        return self.http.post(f"/merchant/v{version}/payments/", json=body, headers=self.headers())

    def enquiry(self, txn_id: str) -> httpx.Response:
        return self.http.get(f"/standard/v1/payments/{txn_id}", headers=self.headers())

    def public_key(self) -> rsa.RSAPublicKey:
        """The encryption key, fetched once per emulator (it survives resets)."""
        if self._public_key is None:
            answer = self.http.get("/v1/rsa/encryption-keys", headers=self.headers())
            self._public_key = load_public_key(answer.json()["data"]["key"])
        return self._public_key

    def disbursement_body(
        self, msisdn: str, amount: Any, txn_id: str, pin: str | None = None
    ) -> dict[str, Any]:
        return {
            "payee": {"msisdn": msisdn},
            "reference": "owner payout",
            "pin": pin if pin is not None else encrypt_pin(self.public_key(), PIN),
            "transaction": {"amount": amount, "id": txn_id},
        }

    def disburse(
        self, msisdn: str = "733123456", amount: Any = 2000, txn_id: str | None = None, **kw: Any
    ) -> httpx.Response:
        body = self.disbursement_body(msisdn, amount, txn_id or new_id("tr"), **kw)
        return self.http.post("/standard/v1/disbursements/", json=body, headers=self.headers())

    # sandbox control
    def sandbox(self, method: str, path: str, **kw: Any) -> Any:
        answer = self.http.request(method, f"/sandbox{path}", **kw)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def transaction(self, any_id: str) -> dict[str, Any]:
        return dict(self.sandbox("GET", f"/transactions/{any_id}"))

    def wait_final(self, txn_id: str, timeout_s: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            txn = self.transaction(txn_id)
            if txn["status"] != "pending":
                return txn
            time.sleep(0.01)
        raise AssertionError(f"{txn_id} still pending")

    def delivery(
        self, txn_id: str, until: Callable[[dict[str, Any]], bool], timeout_s: float = 5.0
    ) -> dict[str, Any]:
        """The callback log entry for ``txn_id`` once ``until`` holds for it."""
        deadline = time.monotonic() + timeout_s
        while True:
            entries = [
                d for d in self.sandbox("GET", "/callbacks") if d["transaction_id"] == txn_id
            ]
            if len(entries) == 1 and until(entries[0]):
                return dict(entries[0])
            assert time.monotonic() < deadline, f"callback log for {txn_id}: {entries}"
            time.sleep(0.005)

    def wallet_minor(self) -> int:
        return int(self.sandbox("GET", "/wallet")["balance_minor"])
