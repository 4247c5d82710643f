"""The chaos run's adversary: forged, replayed and altered provider callbacks, posted to
QMOI's public callback URL (through the balancer) for the whole traffic phase.

What it knows, and no more: what a viewer API key reads (QMOI's pending collections
``QC-…``, its transfers and auto-transfer chunks ``QMOI-AT-…``/``QMOI-MP-…``, their
amounts and states); the M-Pesa callback path token (the one the harness gives QMOI —
it travels in every callback URL); every URL the providers call, as a proxy's log shows
them (the per-query tags of Daraja's result URLs included); and, standing in for
someone who listens to the provider's traffic, what the emulators' inspection API
shows: real CheckoutRequestIDs, receipts, customer numbers and amounts, and the genuine
callback bodies — except the bodies of Daraja's answers to QMOI's own queries, which
only Daraja and QMOI see over TLS: an altered copy of one carries a conversation id of
the attacker's making. It never knows the Airtel callback secret: when QMOI checks
Airtel's hash, the attacker's Airtel forgeries carry none or a wrong one.

What it sends (:data:`KINDS`): failures and successes for real pending collections and
real open or paid chunks; successes under invented ids carrying real customer numbers
and amounts; successes for chunk ids it predicts (they are dated and numbered); B2C
results and queue timeouts; C2B confirmations with invented and with already booked
receipts; status, balance and reversal results under invented conversation ids; exact
replays of genuine callbacks and altered copies of them; and garbage. Every forged body
carries ``"chaos_forged": "<n>"`` (an unknown top-level field, which QMOI keeps in the
stored body; in the text of what is not JSON) so that the judge can find it in QMOI's
inbox afterwards and say whether QMOI acted on it. An exact replay is the genuine fact
once more: it carries no marker and is counted apart.

It runs in a process of its own (``python -m qmoi_chaos.attacker SPEC_JSON``): reading
the inspection API's large answers then shares no GIL with the harness's balancer, and
nothing it does — an error, a hang — can stop the run; the harness ends it with SIGTERM
when the traffic ends and kills it if it lingers. Its draws come from a
``random.Random`` of its own derived from the run's seed, so the main schedule is the
same with or without it. Every send is written to a JSON-lines log (kind, marker, HTTP
status) that the judge reads.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import copy
import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

MARKER = "chaos_forged"
#: finds the marker in a stored body, JSON or not
MARKER_RE = re.compile(r"chaos_forged\W{1,6}(\d+)")
PROVIDERS = ("airtel", "mpesa")
NAIROBI = timezone(timedelta(hours=3))
AIRTEL_PATH = "/api/airtel/callback"
SHORTCODE = "174379"  # the sandbox paybill, as public as any paybill number
REFRESH_S = 3.0  # how often QMOI's and the emulators' pending items are read again
#: the genuine callback logs grow all run long and an emulator serves them whole: they
#: are read at most this often, and less as reading takes longer (the emulator is busy
#: while it writes one out), so that the eavesdropping does not slow the provider down
CALLBACKS_EVERY_S = 8.0
CALLBACKS_SHARE = 0.05
POOL = 400  # remembered genuine callbacks, customers, receipts per provider

KINDS: tuple[str, ...] = (
    "airtel.collection.failure",
    "airtel.collection.success",
    "airtel.invented.success",
    "airtel.transfer.failure",
    "airtel.transfer.success",
    "airtel.transfer.predicted",
    "airtel.replay",
    "airtel.altered",
    "airtel.garbage",
    "mpesa.stk.failure",
    "mpesa.stk.success",
    "mpesa.stk.invented",
    "mpesa.b2c.success",
    "mpesa.b2c.failure",
    "mpesa.b2c.timeout",
    "mpesa.b2c.predicted",
    "mpesa.c2b.invented",
    "mpesa.c2b.stale",
    "mpesa.c2b.validation",
    "mpesa.status.invented",
    "mpesa.balance.invented",
    "mpesa.reversal.invented",
    "mpesa.replay",
    "mpesa.altered",
    "mpesa.garbage",
)
REPLAYS = frozenset({"airtel.replay", "mpesa.replay"})

AIRTEL_FAILURES = (
    "Refused - the subscriber declined the payment",
    "Transaction Timed Out - the subscriber did not answer",
    "Not enough balance in the subscriber's wallet",
    "Incorrect PIN entered by the subscriber",
)
STK_FAILURES = {
    1: "The balance is insufficient for the transaction.",
    1019: "Transaction has expired.",
    1032: "Request cancelled by user",
    1037: "DS timeout user cannot be reached",
    2001: "The initiator information is invalid.",
}
B2C_FAILURES = {
    "1": "The balance is insufficient for the transaction.",
    "2001": "The initiator information is invalid.",
    "SFC_IC0003": "The receiving party is not a registered M-Pesa customer.",
    "17": "System internal error.",
}
MPESA_SUBPATHS = (
    "/stk",
    "/c2b/confirmation",
    "/c2b/validation",
    "/b2c/result",
    "/b2c/timeout",
    "/status/result",
    "/balance/result",
    "/reversal/result",
)
OPEN_TRANSFER = ("reserved", "submitted", "unknown")
SUCCESS_DESC = "The service request is processed successfully."
_RECEIPT_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_CHUNK = re.compile(r"^QMOI-(AT|MP)-(\d{8})-(\d{4})$")


@dataclass(frozen=True)
class Spec:
    """What the harness tells the attacker process (written as JSON beside the logs)."""

    public_url: str
    airtel_url: str
    mpesa_url: str
    mpesa_token: str
    #: None: no viewer key could be made, and QMOI is not read (a wrong key would get the
    #: harness's own address throttled)
    viewer_key: str | None
    seed: int
    rate: float
    airtel_hash: bool
    clock_file: str
    log_file: str


@dataclass(frozen=True)
class Forgery:
    kind: str
    path: str
    body: bytes
    marker: str | None  # None: an exact replay of a genuine callback


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


def _minor(value: object) -> int:
    return int(Decimal(str(value)) * 100)


def _major(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _items(callback: dict[str, Any]) -> dict[Any, Any]:
    meta = callback.get("CallbackMetadata") or {}
    return {i.get("Name"): i.get("Value") for i in meta.get("Item", []) if isinstance(i, dict)}


# --- learning ----------------------------------------------------------------------------


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
                items = _items(stk)
                receipt, amount = items.get("MpesaReceiptNumber"), items.get("Amount")
                phone = items.get("PhoneNumber")
                if receipt and amount is not None and phone:
                    self.intel.receipts.append((str(receipt), _minor(amount), str(phone)))
                    self.intel.customers["mpesa"].append((str(phone), _minor(amount)))


# --- forging -----------------------------------------------------------------------------


class Forger:
    """Builds one forgery of a kind from what is known; None when nothing fits yet."""

    def __init__(self, spec: Spec, intel: Intel, rng: random.Random) -> None:
        self.spec = spec
        self.intel = intel
        self.rng = rng
        clock = json.loads(Path(spec.clock_file).read_text())
        self._start = datetime.fromisoformat(clock["start"])
        self._speed = float(clock["speed"])
        self._origin = float(clock["origin"])
        self.count = 0  # forged bodies (with a marker) built so far

    # --- helpers --------------------------------------------------------------------

    def now(self) -> datetime:
        """The shared simulated clock, in Nairobi (dates in bodies look current)."""
        moved = (time.time() - self._origin) * self._speed
        return (self._start + timedelta(seconds=moved)).astimezone(NAIROBI)

    def _pick(self, items: list[Any] | deque[Any]) -> Any:
        return self.rng.choice(list(items)) if items else None

    def _hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def _receipt(self) -> str:
        now = self.now()
        head = chr(ord("A") + (now.year - 2006) % 26) + chr(ord("A") + now.month - 1)
        return head + "".join(self.rng.choice(_RECEIPT_CHARS) for _ in range(8))

    def _money_id(self) -> str:
        now = self.now()
        return f"MP{now:%y%m%d}.{now:%H%M}.A{self.rng.randint(60_000, 99_999):05d}"

    def _conversation(self) -> str:
        return f"AG_{self.now():%Y%m%d}_{self._hex(20)}"

    def _originator(self) -> str:
        return f"{self.rng.randint(1000, 99999)}-{self.rng.randint(10**7, 10**9)}-1"

    def _checkout(self) -> str:
        digits = "".join(self.rng.choice("0123456789") for _ in range(11))
        return f"ws_CO_{self.now():%d%m%Y%H%M%S}{digits}"

    def _daraja_time(self) -> int:
        return int(f"{self.now():%Y%m%d%H%M%S}")

    def _amount(self) -> int:
        return self.rng.randint(50, 1500) * 100

    def _mark(self) -> str:
        return str(self.count + 1)

    def _airtel(self, kind: str, body: dict[str, Any], *, genuine_hash: bool = False) -> Forgery:
        """An Airtel forgery; when QMOI checks hashes, ours is missing or wrong."""
        if self.spec.airtel_hash and not genuine_hash:
            body.pop("hash", None)
            if self.rng.random() < 0.5:
                body["hash"] = base64.b64encode(self.rng.randbytes(32)).decode()
        body[MARKER] = self._mark()
        return Forgery(kind, AIRTEL_PATH, json.dumps(body).encode(), body[MARKER])

    def _mpesa(self, kind: str, sub: str, body: dict[str, Any]) -> Forgery:
        body[MARKER] = self._mark()
        path = f"/hooks/{self.spec.mpesa_token}{sub}"
        return Forgery(kind, path, json.dumps(body).encode(), body[MARKER])

    def _chunks(self, provider: str, states: tuple[str, ...]) -> list[tuple[str, int]]:
        """(our reference, amount) of real transfers in ``states``, from both sources."""
        found = [
            (str(x["id"]), _minor(x["amount"]))
            for x in self.intel.transfers.get(provider, [])
            if x["status"] in states
        ]
        emulated = {"succeeded": "succeeded", "failed": "failed", "submitted": "pending"}
        wanted = {emulated[s] for s in states if s in emulated}
        for txn in self.intel.payouts.get(provider, []):
            if txn["status"] in wanted:
                reference = txn["id"] if provider == "airtel" else txn["reference"]
                found.append((str(reference), int(txn["amount_minor"])))
        return found

    def _predicted(self, provider: str) -> tuple[str, int] | None:
        """The id the next chunk of the day will have: they are dated and numbered."""
        code = "AT" if provider == "airtel" else "MP"
        day = f"{self.now():%Y%m%d}"
        sequences = [0]
        amounts = []
        for reference, amount in self._chunks(
            provider, ("reserved", "submitted", "unknown", "succeeded", "failed")
        ):
            match = _CHUNK.match(reference)
            if match and match.group(1) == code:
                amounts.append(amount)
                if match.group(2) == day:
                    sequences.append(int(match.group(3)))
        if not amounts:
            return None
        sequence = max(sequences) + self.rng.randint(1, 3)
        return f"QMOI-{code}-{day}-{sequence:04d}", self.rng.choice(amounts)

    # --- Airtel ---------------------------------------------------------------------

    def _airtel_targets(self) -> list[tuple[str, int, str | None]]:
        """Real open Airtel collections: (QC id, amount, msisdn if known)."""
        found: list[tuple[str, int, str | None]] = [
            (str(c["id"]), _minor(c["amount"]), None)
            for c in self.intel.open_collections.get("airtel", [])
        ]
        found += [
            (str(t["id"]), int(t["amount_minor"]), str(t["msisdn"]))
            for t in self.intel.pending.get("airtel", [])
            if t["kind"] == "collection"
        ]
        return found

    def airtel_collection_failure(self, kind: str) -> Forgery | None:
        target = self._pick(self._airtel_targets())
        if target is None:
            return None
        transaction = {
            "id": target[0],
            "message": self.rng.choice(AIRTEL_FAILURES),
            "status_code": "TF",
        }
        return self._airtel(kind, {"transaction": transaction})

    def airtel_collection_success(self, kind: str) -> Forgery | None:
        target = self._pick(self._airtel_targets())
        if target is None:
            return None
        reference, amount, msisdn = target
        money_id = self._money_id()
        transaction: dict[str, Any] = {
            "id": reference,
            "message": f"Paid KES {_major(amount)} to QMOI, Trans ID {money_id}.",
            "status_code": "TS",
            "airtel_money_id": money_id,
        }
        if msisdn and self.rng.random() < 0.5:
            transaction |= {"msisdn": msisdn, "amount": _major(amount)}
        return self._airtel(kind, {"transaction": transaction})

    def airtel_invented_success(self, kind: str) -> Forgery | None:
        customer = self._pick(self.intel.customers["airtel"])
        if customer is None:
            return None
        msisdn, amount = customer
        money_id = self._money_id()
        transaction = {
            "id": f"QC-{self._hex(24)}",
            "message": f"Paid KES {_major(amount)} to QMOI, Trans ID {money_id}.",
            "status_code": "TS",
            "airtel_money_id": money_id,
            # local or international, as a variant might write it
            "msisdn": msisdn[3:] if self.rng.random() < 0.5 else msisdn,
            "amount": self.rng.choice([_major(amount), amount // 100]),
        }
        return self._airtel(kind, {"transaction": transaction})

    def airtel_transfer_failure(self, kind: str) -> Forgery | None:
        target = self._pick(self._chunks("airtel", ("succeeded", *OPEN_TRANSFER)))
        if target is None:
            return None
        message = (
            f"Insufficient funds. Bal KES {self.rng.randint(0, 999)}.00"
            if self.rng.random() < 0.7
            else "Transaction failed"
        )
        transaction = {"id": target[0], "message": message, "status_code": "TF"}
        return self._airtel(kind, {"transaction": transaction})

    def _airtel_paid(self, kind: str, target: tuple[str, int] | None) -> Forgery | None:
        if target is None:
            return None
        reference, amount = target
        suffix = "".join(self.rng.choice(_RECEIPT_CHARS) for _ in range(10))
        transaction = {
            "id": reference,
            "message": f"You have sent KES {_major(amount)} to the owner. TID: {self._money_id()}",
            "status_code": "TS",
            "airtel_money_id": f"disbursement-{suffix}-{reference}",
        }
        return self._airtel(kind, {"transaction": transaction})

    def airtel_transfer_success(self, kind: str) -> Forgery | None:
        return self._airtel_paid(
            kind, self._pick(self._chunks("airtel", ("failed", *OPEN_TRANSFER)))
        )

    def airtel_transfer_predicted(self, kind: str) -> Forgery | None:
        return self._airtel_paid(kind, self._predicted("airtel"))

    def _genuine(self, provider: str) -> tuple[str, dict[str, Any]] | None:
        found: tuple[str, dict[str, Any]] | None = self._pick(self.intel.genuine.get(provider, []))
        return found

    def airtel_replay(self, kind: str) -> Forgery | None:
        genuine = self._genuine("airtel")
        if genuine is None:
            return None
        return Forgery(kind, AIRTEL_PATH, json.dumps(genuine[1]).encode(), None)

    def airtel_altered(self, kind: str) -> Forgery | None:
        genuine = self._genuine("airtel")
        if genuine is None:
            return None
        body = copy.deepcopy(genuine[1])
        transaction = body.get("transaction")
        if not isinstance(transaction, dict):
            return None
        if self.rng.random() < 0.3:
            transaction["amount"] = _major(self._amount())  # the amount "changed"
        elif transaction.get("status_code") == "TS":
            transaction |= {"status_code": "TF", "message": self.rng.choice(AIRTEL_FAILURES)}
            transaction.pop("airtel_money_id", None)
        else:
            money_id = self._money_id()
            transaction |= {"status_code": "TS", "airtel_money_id": money_id}
            transaction["message"] = f"Paid to QMOI, Trans ID {money_id}."
        # the genuine hash, now over another body, or none
        keep = "hash" in body and self.rng.random() < 0.7
        if not keep:
            body.pop("hash", None)
        return self._airtel(kind, body, genuine_hash=keep)

    def airtel_garbage(self, kind: str) -> Forgery | None:
        mark = self._mark()
        real = self._pick(self._airtel_targets())
        reference = real[0] if real else f"QC-{self._hex(24)}"
        choice = self.rng.randrange(6)
        if choice == 0:
            text = f'{{"transaction": {{"id": "{reference}", "status_code": "TS"  {MARKER}="{mark}"'
            raw = text.encode()
        elif choice == 1:
            raw = b"\xff\xfe\x00" + f"{MARKER}={mark};".encode() + bytes(self.rng.randbytes(40))
        elif choice == 2:  # a number too long to be an amount
            raw = (
                f'{{"transaction": {{"id": "{reference}", "status_code": "TS", '
                f'"airtel_money_id": "{self._money_id()}", "amount": {"9" * 400}}}, '
                f'"{MARKER}": "{mark}"}}'
            ).encode()
        elif choice == 3:
            body: Any = {"transaction": {"id": 123456, "status_code": True}, MARKER: mark}
            raw = json.dumps(body).encode()
        elif choice == 4:
            raw = json.dumps([MARKER, mark, {"transaction": {"id": reference}}]).encode()
        else:
            body = {
                "transaction": {"id": reference, "status_code": "TS", "amount": "-1e400"},
                MARKER: mark,
            }
            raw = json.dumps(body).encode()
        return Forgery(kind, AIRTEL_PATH, raw, mark)

    # --- M-Pesa ---------------------------------------------------------------------

    def _stk_targets(self) -> list[tuple[str, int, str | None]]:
        """Real open pushes: (CheckoutRequestID or our QC id, amount, msisdn if known)."""
        found: list[tuple[str, int, str | None]] = [
            (str(t["id"]), int(t["amount_minor"]), str(t["msisdn"]))
            for t in self.intel.pending.get("mpesa", [])
            if t["kind"] == "collection"
        ]
        ours = self.intel.open_collections.get("mpesa", [])
        if ours and (not found or self.rng.random() < 0.2):
            found = [(str(c["id"]), _minor(c["amount"]), None) for c in ours]
        return found

    def _stk(self, checkout: str, code: int, items: dict[str, Any] | None) -> dict[str, Any]:
        callback: dict[str, Any] = {
            "MerchantRequestID": self._originator(),
            "CheckoutRequestID": checkout,
            "ResultCode": code,
            "ResultDesc": STK_FAILURES.get(code, SUCCESS_DESC),
        }
        if items is not None:
            callback["CallbackMetadata"] = {
                "Item": [{"Name": k, "Value": v} for k, v in items.items()]
            }
        return {"Body": {"stkCallback": callback}}

    def _paid_items(self, amount: int, msisdn: str | None) -> dict[str, Any]:
        items: dict[str, Any] = {
            "Amount": float(Decimal(amount) / 100),
            "MpesaReceiptNumber": self._receipt(),
            "TransactionDate": self._daraja_time(),
        }
        if msisdn:
            items["PhoneNumber"] = int(msisdn)
        return items

    def mpesa_stk_failure(self, kind: str) -> Forgery | None:
        target = self._pick(self._stk_targets())
        if target is None:
            return None
        code = self.rng.choice(sorted(STK_FAILURES))
        return self._mpesa(kind, "/stk", self._stk(target[0], code, None))

    def mpesa_stk_success(self, kind: str) -> Forgery | None:
        target = self._pick(self._stk_targets())
        if target is None:
            return None
        checkout, amount, msisdn = target
        return self._mpesa(kind, "/stk", self._stk(checkout, 0, self._paid_items(amount, msisdn)))

    def mpesa_stk_invented(self, kind: str) -> Forgery | None:
        customer = self._pick(self.intel.customers["mpesa"])
        if customer is None:
            return None
        msisdn, amount = customer
        body = self._stk(self._checkout(), 0, self._paid_items(amount, msisdn))
        return self._mpesa(kind, "/stk", body)

    def _result(
        self,
        code: int | str,
        desc: str,
        originator: str,
        conversation: str,
        transaction_id: str,
        parameters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = {
            "ResultType": 0,
            "ResultCode": code,
            "ResultDesc": desc,
            "OriginatorConversationID": originator,
            "ConversationID": conversation,
            "TransactionID": transaction_id,
        }
        if parameters is not None:
            result["ResultParameters"] = {
                "ResultParameter": [
                    {"Key": k} if v is None else {"Key": k, "Value": v}
                    for k, v in parameters.items()
                ]
            }
        return {"Result": result}

    def _b2c_targets(self, emulated: tuple[str, ...], ours: tuple[str, ...]) -> list[Any]:
        """Real chunks: (our reference, ConversationID or None, amount, msisdn or None)."""
        found: list[Any] = [
            (str(t["reference"]), str(t["id"]), int(t["amount_minor"]), str(t["msisdn"]))
            for t in self.intel.payouts.get("mpesa", [])
            if t["status"] in emulated
        ]
        found += [
            (str(x["id"]), None, _minor(x["amount"]), None)
            for x in self.intel.transfers.get("mpesa", [])
            if x["status"] in ours
        ]
        return found

    def _b2c_params(self, amount: int, receipt: str, msisdn: str | None) -> dict[str, Any]:
        party = msisdn or f"2547{self.rng.randint(10**7, 10**8 - 1)}"
        return {
            "TransactionAmount": amount // 100,
            "TransactionReceipt": receipt,
            "ReceiverPartyPublicName": f"{party} - Jane Wanjiru",
            "TransactionCompletedDateTime": f"{self.now():%d.%m.%Y %H:%M:%S}",
            "B2CUtilityAccountAvailableFunds": 500000.0,
            "B2CWorkingAccountAvailableFunds": 0.0,
            "B2CRecipientIsRegisteredCustomer": "Y",
            "B2CChargesPaidAccountAvailableFunds": 0.0,
        }

    def _b2c_paid(self, kind: str, target: Any) -> Forgery | None:
        if target is None:
            return None
        reference, conversation, amount, msisdn = target
        receipt = self._receipt()
        conversation = conversation or self._conversation()
        params = self._b2c_params(amount, receipt, msisdn)
        body = self._result(0, SUCCESS_DESC, reference, conversation, receipt, params)
        return self._mpesa(kind, "/b2c/result", body)

    def mpesa_b2c_success(self, kind: str) -> Forgery | None:
        """A chunk that was not paid (still open, or refused) reported paid."""
        targets = self._b2c_targets(("pending", "failed", "expired"), ("failed", *OPEN_TRANSFER))
        return self._b2c_paid(kind, self._pick(targets))

    def mpesa_b2c_predicted(self, kind: str) -> Forgery | None:
        predicted = self._predicted("mpesa")
        if predicted is None:
            return None
        return self._b2c_paid(kind, (predicted[0], None, predicted[1], None))

    def mpesa_b2c_failure(self, kind: str) -> Forgery | None:
        """A chunk that was paid reported refused (mostly for want of funds)."""
        target = self._pick(self._b2c_targets(("succeeded",), ("succeeded",)))
        if target is None:
            return None
        reference, conversation, _, _ = target
        code = "1" if self.rng.random() < 0.6 else self.rng.choice(sorted(B2C_FAILURES))
        body = self._result(
            int(code) if code.isdigit() else code,
            B2C_FAILURES[code],
            reference,
            conversation or self._conversation(),
            self._receipt()[:3] + "0000000",
        )
        return self._mpesa(kind, "/b2c/result", body)

    def mpesa_b2c_timeout(self, kind: str) -> Forgery | None:
        targets = self._b2c_targets(("pending",), OPEN_TRANSFER) or self._b2c_targets(
            ("succeeded", "failed"), ("succeeded", "failed")
        )
        target = self._pick(targets)
        if target is None:
            return None
        reference, conversation = target[0], target[1] or self._conversation()
        desc = "The system is overloaded: the request timed out waiting in the queue."
        body = self._result(100000001, desc, reference, conversation, "NLJ0000000")
        if self.rng.random() < 0.3:  # the undocumented unwrapped shape
            body = dict(body["Result"])
        return self._mpesa(kind, "/b2c/timeout", body)

    def _c2b(self, receipt: str, amount: int, msisdn: str | None) -> dict[str, Any]:
        number = msisdn or f"2547{self.rng.randint(10**7, 10**8 - 1)}"
        return {
            "TransactionType": self.rng.choice(["Pay Bill", "Buy Goods"]),
            "TransID": receipt,
            "TransTime": f"{self.now():%Y%m%d%H%M%S}",
            "TransAmount": _major(amount),
            "BusinessShortCode": SHORTCODE,
            "BillRefNumber": self.rng.choice(["", "chaos", "DATA-1", "AIRTIME"]),
            "InvoiceNumber": "",
            "OrgAccountBalance": _major(self.rng.randint(10**6, 10**9)),
            "ThirdPartyTransID": "",
            "MSISDN": f"{number[:4]} ***** {number[-3:]}",
            "FirstName": "JANE",
            "MiddleName": "",
            "LastName": "WANJIRU",
        }

    def mpesa_c2b_invented(self, kind: str) -> Forgery | None:
        customer = self._pick(self.intel.customers["mpesa"])
        msisdn, amount = customer if customer else (None, self._amount())
        body = self._c2b(self._receipt(), amount, msisdn)
        return self._mpesa(kind, "/c2b/confirmation", body)

    def mpesa_c2b_stale(self, kind: str) -> Forgery | None:
        paid = self._pick(self.intel.receipts)
        if paid is None:
            return None
        receipt, amount, msisdn = paid
        return self._mpesa(kind, "/c2b/confirmation", self._c2b(receipt, amount, msisdn))

    def mpesa_c2b_validation(self, kind: str) -> Forgery | None:
        body = self._c2b(self._receipt(), self._amount(), None)
        return self._mpesa(kind, "/c2b/validation", body)

    def _status_params(self, state: str) -> tuple[str, dict[str, Any]]:
        """A Transaction Status answer about a real payment or chunk: (receipt, params)."""
        paid = self._pick(self.intel.receipts)
        receipt, amount = (paid[0], paid[1]) if paid else (self._receipt(), self._amount())
        chunk = self._pick(self._b2c_targets(("pending", "succeeded"), OPEN_TRANSFER))
        return receipt, {
            "DebitPartyName": f"{SHORTCODE} - QMOI",
            "CreditPartyName": "254700000000 - Jane Wanjiru",
            "OriginatorConversationID": chunk[0] if chunk else self._originator(),
            "InitiatedTime": self._daraja_time(),
            "DebitAccountType": "Utility Account",
            "DebitPartyCharges": "",
            "TransactionReason": "",
            "ReasonType": "Business Payment to Customer via API",
            "TransactionStatus": state,
            "FinalisedTime": self._daraja_time(),
            "Amount": float(Decimal(amount) / 100),
            "ConversationID": chunk[1] if chunk and chunk[1] else self._conversation(),
            "ReceiptNo": receipt,
        }

    def _balance_params(self) -> dict[str, Any]:
        big = _major(self.rng.randint(10**8, 10**11))
        balance = "&".join(
            [
                "Working Account|KES|0.00|0.00|0.00|0.00",
                f"Utility Account|KES|{big}|{big}|0.00|0.00",
                "Charges Paid Account|KES|0.00|0.00|0.00|0.00",
            ]
        )
        return {"AccountBalance": balance, "BOCompletedTime": self._daraja_time()}

    def _reversal_params(self) -> dict[str, Any]:
        paid = self._pick(self.intel.receipts)
        original, amount = (paid[0], paid[1]) if paid else (self._receipt(), self._amount())
        return {
            "DebitAccountBalance": "Utility Account|KES|1000.00|1000.00|0.00|0.00",
            "Amount": float(Decimal(amount) / 100),
            "TransCompletedTime": self._daraja_time(),
            "OriginalTransactionID": original,
            "Charge": 0.0,
            "CreditPartyPublicName": "254700000000 - Jane Wanjiru",
            "DebitPartyPublicName": f"{SHORTCODE} - QMOI",
        }

    def _invented_result(
        self, kind: str, sub: str, receipt: str, params: dict[str, Any]
    ) -> Forgery:
        conversation, originator = self._conversation(), self._originator()
        body = self._result(0, SUCCESS_DESC, originator, conversation, receipt, params)
        return self._mpesa(kind, sub, body)

    def mpesa_status_invented(self, kind: str) -> Forgery | None:
        receipt, params = self._status_params(self.rng.choice(["Completed", "Failed", "Completed"]))
        return self._invented_result(kind, "/status/result", receipt, params)

    def mpesa_balance_invented(self, kind: str) -> Forgery | None:
        return self._invented_result(
            kind, "/balance/result", self._receipt(), self._balance_params()
        )

    def mpesa_reversal_invented(self, kind: str) -> Forgery | None:
        return self._invented_result(
            kind, "/reversal/result", self._receipt(), self._reversal_params()
        )

    def mpesa_replay(self, kind: str) -> Forgery | None:
        genuine = self._genuine("mpesa")
        if genuine is None:
            return None
        return Forgery(kind, genuine[0], json.dumps(genuine[1]).encode(), None)

    def mpesa_altered(self, kind: str) -> Forgery | None:
        genuine = self._genuine("mpesa")
        if genuine is None:
            return None
        path, original = genuine
        body = copy.deepcopy(original)
        stk = (body.get("Body") or {}).get("stkCallback")
        result = body.get("Result")
        if isinstance(stk, dict):
            self._alter_stk(stk)
        elif isinstance(result, dict):
            self._alter_result(result, path)
        else:
            return None
        body[MARKER] = self._mark()
        return Forgery(kind, path, json.dumps(body).encode(), body[MARKER])

    def _alter_stk(self, stk: dict[str, Any]) -> None:
        items = _items(stk)
        if stk.get("ResultCode") == 0 and self.rng.random() < 0.5:
            amount = _minor(items.get("Amount") or 0) + self.rng.randint(1, 500) * 100
            items["Amount"] = float(Decimal(amount) / 100)
            stk["CallbackMetadata"] = {"Item": [{"Name": k, "Value": v} for k, v in items.items()]}
        elif stk.get("ResultCode") == 0:
            stk |= {"ResultCode": 1032, "ResultDesc": STK_FAILURES[1032]}
            stk.pop("CallbackMetadata", None)
        else:
            customer = self._pick(self.intel.customers["mpesa"])
            amount = customer[1] if customer else self._amount()
            paid = self._paid_items(amount, customer[0] if customer else None)
            stk |= {"ResultCode": 0, "ResultDesc": SUCCESS_DESC}
            stk["CallbackMetadata"] = {"Item": [{"Name": k, "Value": v} for k, v in paid.items()]}

    def _alter_result(self, result: dict[str, Any], path: str) -> None:
        """A result turned round: a status answer's verdict flipped, an amount or balance
        changed, a success made a failure, a failure made a success of its own kind. The
        answer to one of QMOI's queries is known by its URL only (a proxy's log), not by
        its body: its conversation ids are the attacker's own."""
        if any(part in path for part in ("/status/", "/balance/", "/reversal/")):
            result |= {
                "ConversationID": self._conversation(),
                "OriginatorConversationID": self._originator(),
            }
        params = (result.get("ResultParameters") or {}).get("ResultParameter") or []
        by_key = {p.get("Key"): p for p in params if isinstance(p, dict)}
        if "TransactionStatus" in by_key:
            shown = by_key["TransactionStatus"].get("Value")
            by_key["TransactionStatus"]["Value"] = "Failed" if shown == "Completed" else "Completed"
            return
        if "AccountBalance" in by_key:
            by_key["AccountBalance"]["Value"] = self._balance_params()["AccountBalance"]
            return
        amount_key = next((k for k in ("TransactionAmount", "Amount") if k in by_key), None)
        if str(result.get("ResultCode")) == "0" and amount_key and self.rng.random() < 0.5:
            value = by_key[amount_key].get("Value") or 0
            by_key[amount_key]["Value"] = float(Decimal(str(value)) + self.rng.randint(1, 5000))
            return
        if str(result.get("ResultCode")) == "0":
            result |= {"ResultCode": 1, "ResultDesc": B2C_FAILURES["1"]}
            result.pop("ResultParameters", None)
            return
        receipt = self._receipt()
        if "/status/" in path:
            receipt, made = self._status_params("Completed")
        elif "/balance/" in path:
            made = self._balance_params()
        elif "/reversal/" in path:
            made = self._reversal_params()
        else:
            made = self._b2c_params(self._amount(), receipt, None)
        result |= {"ResultCode": 0, "ResultDesc": SUCCESS_DESC, "TransactionID": receipt}
        result["ResultParameters"] = {
            "ResultParameter": [{"Key": k, "Value": v} for k, v in made.items()]
        }

    def mpesa_garbage(self, kind: str) -> Forgery | None:
        mark = self._mark()
        sub = self.rng.choice(MPESA_SUBPATHS)
        target = self._pick(self._stk_targets())
        checkout = target[0] if target else self._checkout()
        choice = self.rng.randrange(6)
        if choice == 0:
            raw = f'{{"Body": {{"stkCallback": {{"CheckoutRequestID": "{checkout}" {MARKER}={mark}'
            data = raw.encode()
        elif choice == 1:
            data = f"{MARKER}={mark}&ResultCode=0&Amount=1000".encode()
        elif choice == 2:  # an amount far beyond any real one
            data = (
                f'{{"Body": {{"stkCallback": {{"MerchantRequestID": "1-2-3", "CheckoutRequestID": '
                f'"{checkout}", "ResultCode": 0, "ResultDesc": "ok", "CallbackMetadata": '
                f'{{"Item": [{{"Name": "Amount", "Value": {"9" * 400}}}, {{"Name": '
                f'"MpesaReceiptNumber", "Value": "{self._receipt()}"}}]}}}}}}, '
                f'"{MARKER}": "{mark}"}}'
            ).encode()
            sub = "/stk"
        elif choice == 3:
            body: Any = {
                "Body": {"stkCallback": {"CheckoutRequestID": 5, "ResultCode": "zero"}},
                "Result": {"ResultCode": [], "ConversationID": {"x": 1}},
                "TransID": None,
                "TransAmount": "1e400",
                MARKER: mark,
            }
            data = json.dumps(body).encode()
        elif choice == 4:
            data = json.dumps([MARKER, mark]).encode()
        else:
            body = self._c2b(self._receipt(), 100, None)
            body |= {"TransAmount": "-250.005", MARKER: mark}
            data = json.dumps(body).encode()
            sub = "/c2b/confirmation"
        return Forgery(kind, f"/hooks/{self.spec.mpesa_token}{sub}", data, mark)

    def forge(self) -> Forgery:
        """One forgery of a kind drawn at random among those that can be built now
        (garbage always can)."""
        for kind in self.rng.sample(KINDS, len(KINDS)):
            build = getattr(self, kind.replace(".", "_"))
            forgery: Forgery | None = build(kind)
            if forgery is not None:
                if forgery.marker is not None:
                    self.count += 1
                return forgery
        raise AssertionError("garbage can always be built")  # pragma: no cover


# --- the attacker process ----------------------------------------------------------------


class Journal:
    """The JSON-lines log of every send: ``{"i", "kind", "marker", "path", "body"}`` when
    it goes, ``{"i", "status"|"error"}`` when it is answered, a ``summary`` at the end."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def _redact(path: str, token: str) -> str:
    return path.replace(token, "…") if token else path


def attack(spec: Spec, stop: threading.Event) -> None:
    """Send forgeries at ``spec.rate`` a second (Poisson arrivals) until ``stop``."""
    rng = random.Random(f"qmoi-chaos-attacker:{spec.seed}")  # noqa: S311 - not cryptography
    intel = Intel()
    errors: Counter[str] = Counter()
    journal = Journal(Path(spec.log_file))
    client = httpx.Client(timeout=10.0)
    refresher = Refresher(spec, client, intel, errors)

    def learn() -> None:
        while not stop.is_set():
            try:
                refresher.once()
            except Exception as exc:  # the attack goes on; the summary says it
                errors[f"refresh: {type(exc).__name__}"] += 1
            stop.wait(REFRESH_S)

    def post(index: int, forgery: Forgery) -> None:
        try:
            answer = client.post(
                spec.public_url + forgery.path,
                content=forgery.body,
                headers={"Content-Type": "application/json"},
            )
            journal.write({"i": index, "status": answer.status_code})
        except httpx.HTTPError as exc:  # a killed API process, a restarting database
            journal.write({"i": index, "error": type(exc).__name__})

    forger = Forger(spec, intel, rng)
    learner = threading.Thread(target=learn, name="attacker-learn", daemon=True)
    learner.start()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="forge")
    sent = 0
    due = time.monotonic()
    try:
        while not stop.is_set():
            due += rng.expovariate(spec.rate)
            if stop.wait(max(0.0, due - time.monotonic())):
                break
            due = max(due, time.monotonic() - 1.0)  # after a stall, no burst to catch up
            try:
                forgery = forger.forge()
            except Exception as exc:  # a surprise in what was read: skip this one
                errors[f"forge: {type(exc).__name__}: {exc}"[:160]] += 1
                continue
            sent += 1
            journal.write(
                {
                    "i": sent,
                    "kind": forgery.kind,
                    "marker": forgery.marker,
                    "path": _redact(forgery.path, spec.mpesa_token),
                    "body": forgery.body[:2000].decode("utf-8", "replace"),
                }
            )
            pool.submit(post, sent, forgery)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        learner.join(timeout=15)
        client.close()
        journal.write({"summary": {"sent": sent, "errors": dict(errors.most_common(20))}})
        journal.close()


def main(argv: list[str]) -> None:
    spec = Spec(**json.loads(Path(argv[0]).read_text()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    attack(spec, stop)


# --- the harness's side ------------------------------------------------------------------


@contextlib.contextmanager
def attacking(spec: Spec, root: Path) -> Iterator[Path]:
    """The attacker process for the length of the block; yields its log's path. It is
    asked to stop (SIGTERM) when the block ends, and killed if it has not within 20 s."""
    spec_file = root / "attacker.json"
    spec_file.write_text(json.dumps(asdict(spec)))
    console = (root / "logs" / "attacker.txt").open("ab")
    popen = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "qmoi_chaos.attacker", str(spec_file)],
        stdout=console,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    console.close()
    try:
        yield Path(spec.log_file)
    finally:
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=10)


@dataclass
class AttackLog:
    """What the attacker's journal says it sent."""

    by_kind: Counter[str] = field(default_factory=Counter)
    markers: dict[str, str] = field(default_factory=dict)  # marker → kind
    paths: dict[str, str] = field(default_factory=dict)  # marker → route posted to
    answers: Counter[str] = field(default_factory=Counter)  # HTTP status or error → count
    forged_sent: int = 0
    replays_sent: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


def read_log(path: Path) -> AttackLog:
    found = AttackLog()
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if "summary" in record:
            found.summary = record["summary"]
        elif "kind" in record:
            found.by_kind[record["kind"]] += 1
            if record.get("marker") is None:
                found.replays_sent += 1
            else:
                found.forged_sent += 1
                found.markers[str(record["marker"])] = record["kind"]
                found.paths[str(record["marker"])] = str(record.get("path"))
        elif "status" in record or "error" in record:
            found.answers[str(record.get("status") or record.get("error"))] += 1
    return found


#: inbox statuses that say QMOI acted on a callback as a fact, or handed it to a query
EFFECTIVE = ("processed", "answer")


def marker_of(body: str) -> str | None:
    match = MARKER_RE.search(body)
    return match.group(1) if match else None


if __name__ == "__main__":
    main(sys.argv[1:])
