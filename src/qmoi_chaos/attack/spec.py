"""What the harness hands the attacker, what a forgery is, and the names both share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

MARKER = "chaos_forged"
PROVIDERS = ("airtel", "mpesa")
NAIROBI = timezone(timedelta(hours=3))
AIRTEL_PATH = "/api/airtel/callback"
SHORTCODE = "174379"  # the sandbox paybill, as public as any paybill number
OPEN_TRANSFER = ("reserved", "submitted", "unknown")
SUCCESS_DESC = "The service request is processed successfully."

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


def minor(value: object) -> int:
    return int(Decimal(str(value)) * 100)


def major(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def stk_items(callback: dict[str, Any]) -> dict[Any, Any]:
    """An STK callback's ``CallbackMetadata`` items as a name → value dict."""
    meta = callback.get("CallbackMetadata") or {}
    return {i.get("Name"): i.get("Value") for i in meta.get("Item", []) if isinstance(i, dict)}
