"""The bodies Daraja posts to our callback URLs: STK, C2B and initiator results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qmoi.providers.mpesa.wire.fields import (
    WireError,
    code_text,
    digits,
    list_of_objects,
    named_values,
    object_of,
    optional_id,
    required_id,
    scalar,
    text,
    value_of,
)

# --------------------------------------------------------------------------------------
# callbacks
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StkCallback:
    """``Body.stkCallback`` (§6); ``items`` maps each ``CallbackMetadata.Item`` Name to its
    Value (None when the item has no Value, as ``Balance`` often does)."""

    merchant_request_id: str | None
    checkout_request_id: str
    result_code: str
    result_desc: str
    items: Mapping[str, str | int | Decimal | None] = field(default_factory=dict)


def read_stk_callback(data: Mapping[str, Any]) -> StkCallback:
    body = object_of(data, "Body")
    callback = object_of(body, "stkCallback")
    checkout = required_id(callback, "CheckoutRequestID")
    metadata = object_of(callback, "CallbackMetadata", required=False)
    items = named_values(
        list_of_objects(metadata.get("Item"), "CallbackMetadata.Item"),
        "Name",
        "Value",
        "CallbackMetadata",
    )
    return StkCallback(
        merchant_request_id=optional_id(callback, "MerchantRequestID"),
        checkout_request_id=checkout,
        result_code=code_text(value_of(callback, "ResultCode", required=True), "ResultCode"),
        result_desc=text(callback, "ResultDesc") or "",
        items=items,
    )


@dataclass(frozen=True, slots=True)
class C2BNotification:
    """A C2B validation request or confirmation (§8.2); both share this shape."""

    transaction_type: str | None
    trans_id: str
    trans_time: str
    trans_amount: str | int | Decimal
    business_short_code: str
    bill_ref_number: str
    invoice_number: str | None
    org_account_balance: str | None
    third_party_trans_id: str | None
    msisdn: str | None  # masked or hashed by Daraja: never an identity
    first_name: str | None
    middle_name: str | None
    last_name: str | None


def read_c2b(data: Mapping[str, Any]) -> C2BNotification:
    trans_id = required_id(data, "TransID")
    amount = scalar(value_of(data, "TransAmount", required=True), "TransAmount")
    if amount is None:  # pragma: no cover - value_of(required=True) never returns None
        raise WireError("missing_field", "TransAmount is missing")
    return C2BNotification(
        transaction_type=text(data, "TransactionType"),
        trans_id=trans_id,
        trans_time=digits(value_of(data, "TransTime", required=True), "TransTime"),
        trans_amount=amount,
        business_short_code=digits(
            value_of(data, "BusinessShortCode", required=True), "BusinessShortCode"
        ),
        bill_ref_number=(text(data, "BillRefNumber") or "").strip(),
        invoice_number=text(data, "InvoiceNumber"),
        org_account_balance=text(data, "OrgAccountBalance"),
        third_party_trans_id=text(data, "ThirdPartyTransID"),
        msisdn=text(data, "MSISDN"),
        first_name=text(data, "FirstName"),
        middle_name=text(data, "MiddleName"),
        last_name=text(data, "LastName"),
    )


@dataclass(frozen=True, slots=True)
class ResultEnvelope:
    """The ``Result`` envelope POSTed to ``ResultURL``/``QueueTimeOutURL`` (§3)."""

    result_type: str | None
    result_code: str | None
    result_desc: str
    originator_conversation_id: str | None
    conversation_id: str | None
    transaction_id: str | None
    parameters: Mapping[str, str | int | Decimal | None] = field(default_factory=dict)
    reference_data: Mapping[str, str | int | Decimal | None] = field(default_factory=dict)


def read_result(data: Mapping[str, Any], *, queue_timeout: bool = False) -> ResultEnvelope:
    """Read a result envelope. A queue timeout's shape is undocumented (§9): it may lack
    ``ResultCode`` and may not be wrapped in ``Result``."""
    if "Result" in data or not queue_timeout:
        result = object_of(data, "Result")
    else:
        result = data
    raw_code = result.get("ResultCode")
    if raw_code is None and not queue_timeout:
        raise WireError("missing_field", "Result.ResultCode is missing")
    raw_type = result.get("ResultType")
    params = object_of(result, "ResultParameters", required=False)
    reference = object_of(result, "ReferenceData", required=False)
    envelope = ResultEnvelope(
        result_type=None if raw_type is None else code_text(raw_type, "ResultType"),
        result_code=None if raw_code is None else code_text(raw_code, "ResultCode"),
        result_desc=text(result, "ResultDesc") or "",
        originator_conversation_id=optional_id(result, "OriginatorConversationID"),
        conversation_id=optional_id(result, "ConversationID"),
        transaction_id=optional_id(result, "TransactionID"),
        parameters=named_values(
            list_of_objects(params.get("ResultParameter"), "ResultParameter"),
            "Key",
            "Value",
            "ResultParameters",
        ),
        reference_data=named_values(
            list_of_objects(reference.get("ReferenceItem"), "ReferenceItem"),
            "Key",
            "Value",
            "ReferenceData",
        ),
    )
    if envelope.originator_conversation_id is None and envelope.conversation_id is None:
        raise WireError("missing_field", "Result carries neither conversation id")
    return envelope


@dataclass(frozen=True, slots=True)
class BalanceLine:
    """One account of the ``AccountBalance`` string (§10): name, currency, four amounts;
    the first amount is the available balance (order of the rest unconfirmed)."""

    name: str
    currency: str
    amounts: tuple[str, ...]


def read_account_balance(value: str) -> list[BalanceLine]:
    """``Working Account|KES|700000.00|700000.00|0.00|0.00&Utility Account|…``."""
    lines: list[BalanceLine] = []
    for chunk in value.split("&"):
        if not chunk.strip():
            continue
        fields = [f.strip() for f in chunk.split("|")]
        if len(fields) < 3 or not fields[0]:
            raise WireError("invalid_field", "AccountBalance entry has fewer than 3 fields")
        lines.append(BalanceLine(fields[0], fields[1].upper(), tuple(fields[2:])))
    if not lines:
        raise WireError("invalid_field", "AccountBalance is empty")
    return lines
