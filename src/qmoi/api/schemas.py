"""The API's own request and answer models (never the providers' wire models, never
domain objects). Unknown fields are refused: a typo must not pass silently."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

Amount = Annotated[
    StrictInt | StrictStr | Decimal,
    Field(description='KES: whole shillings or two decimals, e.g. 1250 or "1250.50"'),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentRequestIn(_Strict):
    msisdn: StrictStr = Field(description="customer's number: 07…, +254… or 254…")
    amount: Amount
    stream: StrictStr = Field(
        description="mobile_services, digital_payments, airtime_sales, "
        "data_packages or utility_payments"
    )
    reference: StrictStr | None = Field(
        None, max_length=64, description="your own reference for this payment"
    )


class GenerateIn(_Strict):
    requests: list[PaymentRequestIn] = Field(default_factory=list, max_length=500)


class TransferIn(_Strict):
    amount: Amount


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
    collections: list[CollectionOut]
    simulated: bool = False


class TransferOut(BaseModel):
    id: str
    provider: str
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


class TransactionsOut(BaseModel):
    items: list[TransactionOut]
    next_cursor: str | None


Metrics = dict[str, Any]
