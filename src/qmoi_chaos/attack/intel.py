"""What the attacker learns, and the reader that refreshes it every few seconds."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from qmoi_chaos.attack.spec import PROVIDERS, Spec, minor, stk_items

REFRESH_S = 3.0  # how often QMOI's and the emulators' pending items are read again
#: the genuine callback logs grow all run long and an emulator serves them whole: they
#: are read at most this often, and less as reading takes longer (the emulator is busy
#: while it writes one out), so that the eavesdropping does not slow the provider down
CALLBACKS_EVERY_S = 8.0
CALLBACKS_SHARE = 0.05
POOL = 400  # remembered genuine callbacks, customers, receipts per provider


@dataclass
class Intel:
    """What the attacker has learnt; the refresher replaces each list whole."""

    open_collections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    transfers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    payouts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    genuine: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    customers: dict[str, deque[tuple[str, int]]] = field(
        default_factory=lambda: {p: deque(maxlen=POOL) for p in PROVIDERS}
    )
    #: M-Pesa receipts of paid pushes: (receipt, amount_minor, msisdn)
    receipts: deque[tuple[str, int, str]] = field(default_factory=lambda: deque(maxlen=POOL))


class Refresher:
    """Reads what the attacker may read, every few seconds, into :class:`Intel`."""

    def __init__(self, spec: Spec, client: httpx.Client, intel: Intel, errors: Counter[str]):
        self.spec = spec
        self.client = client
        self.intel = intel
        self.errors = errors
        self._next_callbacks = 0.0

    def _get(self, url: str, **kwargs: Any) -> Any:
        answer = self.client.get(url, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def _viewer(self, provider: str, **params: object) -> list[dict[str, Any]]:
        data = self._get(
            f"{self.spec.public_url}/api/qmoi/revenue/{provider}/transactions",
            params={"limit": 200, **params},
            headers={"Authorization": f"Bearer {self.spec.viewer_key}"},
        )
        return list(data["items"])

    def _emulator(self, provider: str) -> str:
        return self.spec.airtel_url if provider == "airtel" else self.spec.mpesa_url

    def once(self) -> None:
        for provider in PROVIDERS:
            self._step(f"viewer {provider}", lambda p=provider: self._read_qmoi(p))
            self._step(f"emulator {provider}", lambda p=provider: self._read_emulator(p))
        if time.monotonic() >= self._next_callbacks:
            began = time.monotonic()
            for provider in PROVIDERS:
                self._step(f"callbacks {provider}", lambda p=provider: self._read_callbacks(p))
            took = time.monotonic() - began
            self._next_callbacks = began + max(CALLBACKS_EVERY_S, took / CALLBACKS_SHARE)

    def _step(self, what: str, action: Any) -> None:
        try:
            action()
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self.errors[f"read {what}: {type(exc).__name__}"] += 1

    def _read_qmoi(self, provider: str) -> None:
        if self.spec.viewer_key is None:
            return
        found = self._viewer(provider, kind="collection", status="pending")
        found += self._viewer(provider, kind="collection", status="unknown")
        self.intel.open_collections[provider] = found
        self.intel.transfers[provider] = self._viewer(provider, kind="transfer")

    def _read_emulator(self, provider: str) -> None:
        url = self._emulator(provider)
        pending = list(self._get(f"{url}/sandbox/transactions", params={"status": "pending"}))
        self.intel.pending[provider] = pending
        for txn in pending:
            if txn["kind"] == "collection":
                self.intel.customers[provider].append((txn["msisdn"], txn["amount_minor"]))
        payouts = self._get(f"{url}/sandbox/transactions", params={"kind": "disbursement"})
        self.intel.payouts[provider] = list(payouts)

    def _read_callbacks(self, provider: str) -> None:
        log = self._get(f"{self._emulator(provider)}/sandbox/callbacks")
        recent: list[tuple[str, dict[str, Any]]] = []
        for delivery in log[-POOL:]:
            body = delivery.get("body")
            if isinstance(body, dict):
                recent.append((urlsplit(delivery["url"]).path, body))
        self.intel.genuine[provider] = recent
        if provider != "mpesa":
            return
        for _, body in recent:
            stk = (body.get("Body") or {}).get("stkCallback") or {}
            if stk.get("ResultCode") == 0:
                items = stk_items(stk)
                receipt, amount = items.get("MpesaReceiptNumber"), items.get("Amount")
                phone = items.get("PhoneNumber")
                if receipt and amount is not None and phone:
                    self.intel.receipts.append((str(receipt), minor(amount), str(phone)))
                    self.intel.customers["mpesa"].append((str(phone), minor(amount)))
