"""Daraja's synchronous answers: the token, the error envelope and acknowledgements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qmoi.providers.mpesa.wire.fields import (
    WireError,
    code_text,
    digits,
    optional_id,
    required_id,
    text,
    value_of,
)

# --------------------------------------------------------------------------------------
# synchronous answers
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    access_token: str
    expires_in: int  # seconds


def read_token(data: Mapping[str, Any]) -> TokenAnswer:
    """``{"access_token": "...", "expires_in": "3599"}`` — ``expires_in`` number or text (§2)."""
    token = required_id(data, "access_token")
    raw = data.get("expires_in", 3599)
    seconds = int(digits(raw, "expires_in")) if raw is not None else 3599
    if not 0 < seconds <= 10 * 24 * 3600:
        raise WireError("invalid_field", "expires_in is out of range")
    return TokenAnswer(token, seconds)


@dataclass(frozen=True, slots=True)
class ErrorEnvelope:
    error_code: str
    error_message: str
    request_id: str | None


def read_error(data: Mapping[str, Any]) -> ErrorEnvelope | None:
    """The synchronous error envelope (§3), or None when the body is not one."""
    if "errorCode" not in data:
        return None
    try:
        code = code_text(data["errorCode"], "errorCode")
        message = text(data, "errorMessage") or ""
        request_id = optional_id(data, "requestId")
    except WireError:
        return ErrorEnvelope("unreadable", "error envelope with unreadable fields", None)
    return ErrorEnvelope(code, message, request_id)


@dataclass(frozen=True, slots=True)
class StkPushAck:
    merchant_request_id: str | None
    checkout_request_id: str | None
    response_code: str
    response_description: str
    customer_message: str


def read_stk_push_ack(data: Mapping[str, Any]) -> StkPushAck:
    return StkPushAck(
        merchant_request_id=optional_id(data, "MerchantRequestID"),
        checkout_request_id=optional_id(data, "CheckoutRequestID"),
        response_code=code_text(value_of(data, "ResponseCode", required=True), "ResponseCode"),
        response_description=text(data, "ResponseDescription") or "",
        customer_message=text(data, "CustomerMessage") or "",
    )


@dataclass(frozen=True, slots=True)
class StkQueryAnswer:
    response_code: str
    response_description: str
    checkout_request_id: str | None
    result_code: str | None  # None: no verdict yet
    result_desc: str


def read_stk_query(data: Mapping[str, Any]) -> StkQueryAnswer:
    """The query answer: ``ResponseCode`` says the query worked, ``ResultCode`` (a string)
    is the verdict (§7)."""
    result = data.get("ResultCode")
    return StkQueryAnswer(
        response_code=code_text(value_of(data, "ResponseCode", required=True), "ResponseCode"),
        response_description=text(data, "ResponseDescription") or "",
        checkout_request_id=optional_id(data, "CheckoutRequestID"),
        result_code=None if result is None else code_text(result, "ResultCode"),
        result_desc=text(data, "ResultDesc") or "",
    )


@dataclass(frozen=True, slots=True)
class InitiatorAck:
    """The acknowledgement of B2C, balance, status and reversal requests (§3)."""

    originator_conversation_id: str | None
    conversation_id: str | None
    response_code: str
    response_description: str


def read_initiator_ack(data: Mapping[str, Any]) -> InitiatorAck:
    return InitiatorAck(
        originator_conversation_id=optional_id(data, "OriginatorConversationID"),
        conversation_id=optional_id(data, "ConversationID"),
        response_code=code_text(value_of(data, "ResponseCode", required=True), "ResponseCode"),
        response_description=text(data, "ResponseDescription") or "",
    )


@dataclass(frozen=True, slots=True)
class RegisterAck:
    originator_conversation_id: str | None
    response_code: str
    response_description: str


def read_register_ack(data: Mapping[str, Any]) -> RegisterAck:
    """C2B register answer; the id is spelt ``OriginatorCoversationID`` on the wire (§8.1)."""
    ocid = optional_id(data, "OriginatorCoversationID")
    if ocid is None:
        ocid = optional_id(data, "OriginatorConversationID")
    return RegisterAck(
        originator_conversation_id=ocid,
        response_code=code_text(value_of(data, "ResponseCode", required=True), "ResponseCode"),
        response_description=text(data, "ResponseDescription") or "",
    )
