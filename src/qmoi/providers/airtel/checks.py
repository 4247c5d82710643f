"""Checks made before anything is sent to Airtel: our id, the number, the amount.

A request failing one is :class:`Rejected` with "refused before sending", so the engine
knows nothing moved and nothing needs an enquiry.
"""

from __future__ import annotations

from decimal import Decimal

from qmoi.domain.money import Money
from qmoi.providers.airtel import wire
from qmoi.providers.base import ProviderName, Rejected

PROVIDER: ProviderName = "airtel"

#: §14: keep ids to ``[A-Za-z0-9-]`` and at most 40 characters.
TRANSACTION_ID_MAX = 40
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


def transaction_id(reference: str, operation: str) -> str:
    """``reference`` as Airtel's transaction id, when it is one Airtel accepts."""
    if not reference or len(reference) > TRANSACTION_ID_MAX or not set(reference) <= _ID_CHARS:
        raise Rejected(
            PROVIDER, operation,
            f"refused before sending: transaction id must be 1–{TRANSACTION_ID_MAX} "
            "characters of A–Z, a–z, 0–9 and '-'",
            reference=reference,
        )  # fmt: skip
    return reference


def national(msisdn: str, country: str, operation: str, reference: str | None) -> str:
    """The number without its country code, as Airtel's paths and bodies take it."""
    try:
        return wire.to_national(msisdn, country)
    except wire.InvalidMsisdn as exc:
        raise Rejected(
            PROVIDER, operation,
            f"refused before sending: {wire.mask_msisdn(msisdn)} — {exc}",
            reference=reference,
        ) from None  # fmt: skip


def wire_amount(amount: Money, currency: str, operation: str, reference: str) -> int | Decimal:
    """A positive amount in the wallet's currency, as Airtel's JSON number."""
    if amount.currency != currency:
        raise Rejected(
            PROVIDER, operation,
            f"refused before sending: {amount.currency} on an {currency} wallet",
            reference=reference,
        )  # fmt: skip
    if not amount.is_positive:
        raise Rejected(
            PROVIDER, operation, "refused before sending: amount must be above zero",
            reference=reference,
        )  # fmt: skip
    return wire.wire_amount(amount.to_decimal())
