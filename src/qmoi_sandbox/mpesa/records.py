"""What the Daraja emulator records (transactions, C2B registrations, tokens) and how it
writes amounts and times on the wire.

Money is held in integer minor units (cents of KES); Daraja's whole-shilling amounts are
converted at the edge, and the decimal numbers Daraja puts in callbacks are produced
only when a payload is written (:func:`wire_amount`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

#: Daraja timestamps carry no zone and are Nairobi local time (UTC+3, no DST).
NAIROBI = timezone(timedelta(hours=3), "EAT")

Kind = Literal["collection", "disbursement", "refund", "reversal", "c2b"]
Status = Literal["pending", "succeeded", "failed", "expired"]


def format_minor(minor: int) -> str:
    """``123456`` → ``"1234.56"`` (how Daraja writes amounts in strings)."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}.{cents:02d}"


def wire_amount(minor: int) -> float:
    """A JSON number for a payload field Daraja sends as a decimal (``150.00``).

    Only ever used to write a payload; the value is exact for whole shillings and the
    shortest float repr round-trips any two-decimal amount.
    """
    return float(Decimal(minor).scaleb(-2))


def daraja_time(moment: datetime) -> str:
    """``YYYYMMDDHHmmss`` in Nairobi time (Timestamp, TransTime, TransactionDate…)."""
    return moment.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def b2c_time(moment: datetime) -> str:
    """``dd.MM.yyyy HH:mm:ss`` in Nairobi time (B2C TransactionCompletedDateTime)."""
    return moment.astimezone(NAIROBI).strftime("%d.%m.%Y %H:%M:%S")


@dataclass
class Transaction:
    """One money movement, with what the inspection API shows and what the wire needs."""

    id: str
    kind: Kind
    msisdn: str
    amount_minor: int
    currency: str
    reference: str
    created_at: datetime
    status: Status = "pending"
    provider_id: str | None = None
    result_code: str | None = None
    result_text: str | None = None
    fee_minor: int = 0
    completed_at: datetime | None = None
    #: MerchantRequestID (STK) or OriginatorConversationID (initiator APIs)
    originator_id: str = ""
    #: CustomerPayBillOnline / BusinessPayment / Pay Bill … as the request named it
    command: str = ""
    #: original receipt this reversal reverses / True once this payment was reversed
    reverses: str | None = None
    reversed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider_id": self.provider_id,
            "kind": self.kind,
            "msisdn": self.msisdn,
            "amount_minor": self.amount_minor,
            "amount": format_minor(self.amount_minor),
            "currency": self.currency,
            "status": self.status,
            "result_code": self.result_code,
            "result_text": self.result_text,
            "fee_minor": self.fee_minor,
            "reference": self.reference,
            "created_at": self.created_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "sandbox": True,
        }


@dataclass
class C2BRegistration:
    shortcode: str
    response_type: str
    confirmation_url: str
    validation_url: str


@dataclass
class Token:
    value: str
    expires_at: datetime
    revoked: bool = False
