"""The API's own request and answer models (never the providers' wire models, never
domain objects). Unknown fields are refused — in bodies and in query strings — a typo
must not pass silently (``?strem=…`` would otherwise list everything, unfiltered)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

from qmoi.domain.streams import StreamKey

#: a JSON number is read exactly (never through a float, see qmoi.api.exact_json)
Amount = Annotated[
    StrictInt | StrictStr | Decimal,
    Field(
        description="KES: whole shillings or two decimals — an integer (1250), a string "
        '("1,250.50") or a JSON number (1250.5). Amounts are never rounded: more decimals, '
        "or a JSON number beyond 2^53 cents (90,071,992,547,409.92), are refused with 422 "
        "`invalid_amount`",
        examples=[1250, "1,250.50", 1250.5],
    ),
]


#: the spec lists the valid values; the routes answer any other with a stable code
#: (``unknown_stream``, ``invalid_request``), so the models do not refuse them first
STREAMS: dict[str, Any] = {"enum": [key.value for key in StreamKey]}
KINDS: dict[str, Any] = {"enum": ["collection", "transfer", "fee"]}


#: what an account id looks like (the config refuses any other)
ACCOUNT_ID_PATTERN = r"^[a-z0-9-]{1,32}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentRequestIn(_Strict):
    msisdn: StrictStr = Field(description="customer's number: 07…, +254… or 254…")
    amount: Amount
    stream: StrictStr = Field(
        description="mobile_services, digital_payments, airtime_sales, "
        "data_packages or utility_payments",
        json_schema_extra=STREAMS,
    )
    reference: StrictStr | None = Field(
        None, max_length=64, description="your own reference for this payment"
    )


class GenerateIn(_Strict):
    requests: list[PaymentRequestIn] = Field(default_factory=list, max_length=500)


class TransferIn(_Strict):
    amount: Amount


def _iso_day(value: object) -> object:
    """Only ``YYYY-MM-DD``: pydantic alone would also take ``0.0`` (a Unix time)."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]


class TransactionsQuery(_Strict):
    since: Day | None = Field(None, alias="from", description="first day (inclusive)")
    until: Day | None = Field(None, alias="to", description="last day (inclusive)")
    stream: str | None = Field(None, json_schema_extra=STREAMS)
    status: str | None = None
    kind: str | None = Field(
        None, description="collection, transfer or fee", json_schema_extra=KINDS
    )
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)


class ReconcileIn(_Strict):
    provider: str | None = Field(
        None,
        description="airtel or mpesa: that provider's accounts (default: every account)",
        json_schema_extra={"enum": ["airtel", "mpesa", None]},
    )
    account: str | None = Field(
        None, description="one account (default: every account)", pattern=ACCOUNT_ID_PATTERN
    )
    day: Day | None = Field(
        None, description="the day whose statement is read (default: yesterday)"
    )


class ReconcileOut(BaseModel):
    settled: bool = Field(description="nothing was left unexplained")
    reconciliations: list[dict[str, Any]]


#: sequence numbers and ids are 64-bit integers in the database
MAX_ID = 2**63 - 1


class AuditQuery(_Strict):
    after: int = Field(0, ge=0, le=MAX_ID, description="last sequence number already read")
    limit: int = Field(100, ge=1, le=500)


class CollectionOut(BaseModel):
    id: str
    reference: str | None
    stream: str
    amount: float | int
    currency: str
    status: str
    msisdn: str
    reason: str | None = None
    created_at: str


class GenerateOut(BaseModel):
    provider: str
    account: str
    currency: str
    collections: list[CollectionOut]
    simulated: bool = False


class TransferOut(BaseModel):
    id: str
    provider: str
    account: str
    trigger: str
    amount: float | int
    currency: str
    status: str
    msisdn: str
    provider_reference: str | None
    reason: str | None
    created_at: str


class BalanceOut(BaseModel):
    provider: str
    account: str
    currency: str
    provider_balance: float | int | None
    ledger_balance: float | int
    available: float | int
    reserved: float | int
    todays_earnings: float | int


class TransactionOut(BaseModel):
    id: str
    kind: str
    trigger: str | None
    stream: str | None
    amount: float | int
    currency: str
    status: str
    msisdn: str | None
    provider_reference: str | None
    reason: str | None
    created_at: str


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # some errors say more (e.g. which field)

    code: str = Field(description="stable machine code, e.g. invalid_amount")
    message: str = Field(description="what went wrong, in a sentence a person understands")


class ErrorOut(BaseModel):
    """Every error the API answers: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


class TransactionsOut(BaseModel):
    items: list[TransactionOut]
    next_cursor: str | None


Metrics = dict[str, Any]


class AccountOut(BaseModel):
    id: str
    provider: str
    label: str
    country: str
    currency: str
    default: bool
    daily_target: float | int
    auto_transfer: float | int
    owner_msisdn: str


class AccountsOut(BaseModel):
    accounts: list[AccountOut]
