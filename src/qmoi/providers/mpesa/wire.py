"""Daraja's wire format: paths, field names, request payloads and readers of its answers.

Follows ``docs/providers/mpesa-daraja.md`` (Daraja 3.0 portal pages as scraped there):
OAuth ``/oauth/v1/generate``, M-Pesa Express ``stkpush/v1`` and ``stkpushquery/v1``, C2B
``registerurl`` v1/v2, B2C ``v3`` (merchant ``OriginatorConversationID``), Account Balance,
Transaction Status and Reversal ``v1``. This is the only module that spells Daraja's
field names, including the misspellings that are part of the wire format (``Occassion``,
``RecieverIdentifierType``, ``OriginatorCoversationID``; §3).

Readers are tolerant of unknown fields and of numbers sent as JSON numbers or numeric
strings (§3, §13.14), and strict about everything they do read: a field of the wrong
type, a missing identifier, an over-long string or a body that is not a JSON object
raises :class:`WireError` with a stable ``reason``. JSON is decoded with ``Decimal`` for
fractions (never ``float``) and refuses ``NaN``/``Infinity``, huge integers and deep
nesting.

This module must never log, never hold secrets beyond the payload it builds, and never
decide what a code means — that is :mod:`.translate`'s job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# --------------------------------------------------------------------------------------
# paths (§2, §5, §7, §8.1, §9, §10, §11)
# --------------------------------------------------------------------------------------

OAUTH_PATH = "/oauth/v1/generate"
STK_PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"
C2B_REGISTER_PATHS = {"v1": "/mpesa/c2b/v1/registerurl", "v2": "/mpesa/c2b/v2/registerurl"}
B2C_PATH = "/mpesa/b2c/v3/paymentrequest"
BALANCE_PATH = "/mpesa/accountbalance/v1/query"
STATUS_PATH = "/mpesa/transactionstatus/v1/query"
REVERSAL_PATH = "/mpesa/reversal/v1/request"
#: Pull Transactions (unconfirmed: not in our provider notes; see :func:`read_pull_page`)
PULL_PATH = "/pulltransactions/v1/query"
PULL_PAGE = 1000
#: a full page of statement lines is far longer than any other answer
PULL_ANSWER_BYTES = 2 * 1024 * 1024

# --------------------------------------------------------------------------------------
# fixed values
# --------------------------------------------------------------------------------------

TRANSACTION_TYPE_PAYBILL = "CustomerPayBillOnline"
TRANSACTION_TYPE_TILL = "CustomerBuyGoodsOnline"
COMMAND_B2C = "BusinessPayment"
COMMAND_BALANCE = "AccountBalance"
COMMAND_STATUS = "TransactionStatusQuery"
COMMAND_REVERSAL = "TransactionReversal"
IDENTIFIER_ORGANISATION = "4"  # organisation shortcode (§10, §11.1)
REVERSAL_RECEIVER_IDENTIFIER = "11"  # §11.2, daraja-sdk-py default
ACCEPTED = "0"  # ResponseCode of an accepted request / ResultCode of success
C2B_RESPONSE_TYPES = ("Completed", "Cancelled")

#: Callback bodies larger than this are refused unread (Daraja's are a few hundred bytes).
MAX_BODY_BYTES = 64 * 1024
#: Identifiers (CheckoutRequestID, TransID, conversation ids…) longer than this are refused.
MAX_ID_LENGTH = 128
#: Free text (descriptions, names, parameter values) longer than this is refused.
MAX_TEXT_LENGTH = 1024


class WireError(ValueError):
    """A body that is not Daraja's shape; ``reason`` is stable and machine-readable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# --------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def decode_json(body: bytes | str, *, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """A JSON object with fractions as ``Decimal``; :class:`WireError` for anything else."""
    if len(body) > limit:
        raise WireError("too_large", f"body of {len(body)} bytes exceeds {limit}")
    try:
        data = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, digits
        raise WireError("malformed_json", f"body is not valid JSON ({type(exc).__name__})") from exc
    if not isinstance(data, dict):
        raise WireError("not_an_object", f"body is a JSON {type(data).__name__}, not an object")
    return data


# --------------------------------------------------------------------------------------
# field readers
# --------------------------------------------------------------------------------------

_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
_DIGITS = re.compile(r"^\d{1,30}$")


def code_text(value: object, name: str) -> str:
    """A result/response code as text: Daraja sends ``0``, ``"0"``, ``"R000002"`` (§3)."""
    if isinstance(value, bool):
        raise WireError("invalid_field", f"{name} is a boolean")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise WireError("invalid_field", f"{name} is not a whole number")
        text = str(int(value))
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise WireError("invalid_field", f"{name} has type {type(value).__name__}")
    if not text or len(text) > MAX_ID_LENGTH or not _PRINTABLE.match(text):
        raise WireError("invalid_field", f"{name} is empty, too long or not printable")
    return text


def _get(data: Mapping[str, Any], name: str, *, required: bool) -> Any:
    if name not in data or data[name] is None:
        if required:
            raise WireError("missing_field", f"{name} is missing")
        return None
    return data[name]


def optional_id(data: Mapping[str, Any], name: str) -> str | None:
    """An id field: a non-empty printable string (numbers accepted as their digits)."""
    value = _get(data, name, required=False)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise WireError("invalid_field", f"{name} has type {type(value).__name__}")
    result = value.strip()
    if not result:
        return None
    if len(result) > MAX_ID_LENGTH or not _PRINTABLE.match(result):
        raise WireError("invalid_field", f"{name} is too long or not printable")
    return result


def required_id(data: Mapping[str, Any], name: str) -> str:
    """Like :func:`optional_id`, but absence or emptiness is an error."""
    result = optional_id(data, name)
    if result is None:
        raise WireError("missing_field", f"{name} is missing or empty")
    return result


def text(data: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    """A free-text field (descriptions, names); numbers are accepted as their text."""
    value = _get(data, name, required=required)
    if value is None:
        return None
    if isinstance(value, bool):
        raise WireError("invalid_field", f"{name} is a boolean")
    if isinstance(value, int | Decimal):
        value = str(value)
    if not isinstance(value, str):
        raise WireError("invalid_field", f"{name} has type {type(value).__name__}")
    if len(value) > MAX_TEXT_LENGTH:
        raise WireError("invalid_field", f"{name} is longer than {MAX_TEXT_LENGTH} characters")
    return value


def scalar(value: object, name: str) -> str | int | Decimal | None:
    """A parameter value as Daraja sends it (string, integer or decimal); None if absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise WireError("invalid_field", f"{name} is a boolean")
    if isinstance(value, str):
        if len(value) > MAX_TEXT_LENGTH:
            raise WireError("invalid_field", f"{name} is too long")
        return value
    if isinstance(value, int | Decimal):
        return value
    raise WireError("invalid_field", f"{name} has type {type(value).__name__}")


def digits(value: object, name: str) -> str:
    """A numeric identity (MSISDN, shortcode, compact timestamp) as its digits."""
    if isinstance(value, bool):
        raise WireError("invalid_field", f"{name} is a boolean")
    if isinstance(value, int):
        result = str(value)
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        result = str(int(value))
    elif isinstance(value, str):
        result = value.strip()
    else:
        raise WireError("invalid_field", f"{name} has type {type(value).__name__}")
    if not _DIGITS.match(result):
        raise WireError("invalid_field", f"{name} is not a number of at most 30 digits")
    return result


def _object(data: Mapping[str, Any], name: str, *, required: bool = True) -> Mapping[str, Any]:
    value = _get(data, name, required=required)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WireError("invalid_field", f"{name} is a {type(value).__name__}, not an object")
    return value


def _list_of_objects(value: object, name: str, limit: int = 100) -> list[Mapping[str, Any]]:
    """Daraja lists sometimes collapse to one object when they hold one element. A
    result's parameter lists are short; more than ``limit`` entries is not an answer."""
    if value is None:
        return []
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise WireError("invalid_field", f"{name} is not a list of objects")
    if len(items) > limit:
        raise WireError("invalid_field", f"{name} has more than {limit} entries")
    return items


def _named_values(
    items: list[Mapping[str, Any]], name_key: str, value_key: str, where: str
) -> dict[str, str | int | Decimal | None]:
    values: dict[str, str | int | Decimal | None] = {}
    for item in items:
        name = required_id(item, name_key)
        if name in values:
            raise WireError("invalid_field", f"{where} names {name} twice")
        values[name] = scalar(item.get(value_key), f"{where}.{name}")
    return values


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
        response_code=code_text(_get(data, "ResponseCode", required=True), "ResponseCode"),
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
        response_code=code_text(_get(data, "ResponseCode", required=True), "ResponseCode"),
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
        response_code=code_text(_get(data, "ResponseCode", required=True), "ResponseCode"),
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
        response_code=code_text(_get(data, "ResponseCode", required=True), "ResponseCode"),
        response_description=text(data, "ResponseDescription") or "",
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
    body = _object(data, "Body")
    callback = _object(body, "stkCallback")
    checkout = required_id(callback, "CheckoutRequestID")
    metadata = _object(callback, "CallbackMetadata", required=False)
    items = _named_values(
        _list_of_objects(metadata.get("Item"), "CallbackMetadata.Item"),
        "Name",
        "Value",
        "CallbackMetadata",
    )
    return StkCallback(
        merchant_request_id=optional_id(callback, "MerchantRequestID"),
        checkout_request_id=checkout,
        result_code=code_text(_get(callback, "ResultCode", required=True), "ResultCode"),
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
    amount = scalar(_get(data, "TransAmount", required=True), "TransAmount")
    if amount is None:  # pragma: no cover - _get(required=True) never returns None
        raise WireError("missing_field", "TransAmount is missing")
    return C2BNotification(
        transaction_type=text(data, "TransactionType"),
        trans_id=trans_id,
        trans_time=digits(_get(data, "TransTime", required=True), "TransTime"),
        trans_amount=amount,
        business_short_code=digits(
            _get(data, "BusinessShortCode", required=True), "BusinessShortCode"
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
        result = _object(data, "Result")
    else:
        result = data
    raw_code = result.get("ResultCode")
    if raw_code is None and not queue_timeout:
        raise WireError("missing_field", "Result.ResultCode is missing")
    raw_type = result.get("ResultType")
    params = _object(result, "ResultParameters", required=False)
    reference = _object(result, "ReferenceData", required=False)
    envelope = ResultEnvelope(
        result_type=None if raw_type is None else code_text(raw_type, "ResultType"),
        result_code=None if raw_code is None else code_text(raw_code, "ResultCode"),
        result_desc=text(result, "ResultDesc") or "",
        originator_conversation_id=optional_id(result, "OriginatorConversationID"),
        conversation_id=optional_id(result, "ConversationID"),
        transaction_id=optional_id(result, "TransactionID"),
        parameters=_named_values(
            _list_of_objects(params.get("ResultParameter"), "ResultParameter"),
            "Key",
            "Value",
            "ResultParameters",
        ),
        reference_data=_named_values(
            _list_of_objects(reference.get("ReferenceItem"), "ReferenceItem"),
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


# --------------------------------------------------------------------------------------
# request payloads
# --------------------------------------------------------------------------------------


def stk_push_payload(
    *,
    shortcode: str,
    password: str,
    timestamp: str,
    transaction_type: str,
    amount: int,
    msisdn: str,
    party_b: str,
    callback_url: str,
    account_reference: str,
    transaction_desc: str,
) -> dict[str, Any]:
    """M-Pesa Express request (§5); numbers as JSON numbers, as the doc sample sends them."""
    return {
        "BusinessShortCode": int(shortcode),
        "Password": password,
        "Timestamp": timestamp,
        "TransactionType": transaction_type,
        "Amount": amount,
        "PartyA": int(msisdn),
        "PartyB": int(party_b),
        "PhoneNumber": int(msisdn),
        "CallBackURL": callback_url,
        "AccountReference": account_reference,
        "TransactionDesc": transaction_desc,
    }


def stk_query_payload(
    *, shortcode: str, password: str, timestamp: str, checkout_request_id: str
) -> dict[str, Any]:
    return {
        "BusinessShortCode": shortcode,
        "Password": password,
        "Timestamp": timestamp,
        "CheckoutRequestID": checkout_request_id,
    }


def c2b_register_payload(
    *, shortcode: str, response_type: str, confirmation_url: str, validation_url: str
) -> dict[str, Any]:
    return {
        "ShortCode": shortcode,
        "ResponseType": response_type,
        "ConfirmationURL": confirmation_url,
        "ValidationURL": validation_url,
    }


def b2c_payload(
    *,
    originator_conversation_id: str,
    initiator_name: str,
    security_credential: str,
    amount: int,
    party_a: str,
    msisdn: str,
    remarks: str,
    result_url: str,
    timeout_url: str,
    occasion: str = "",
    command_id: str = COMMAND_B2C,
) -> dict[str, Any]:
    """B2C v3 (§9): ``OriginatorConversationID`` is ours and stable across retries."""
    return {
        "OriginatorConversationID": originator_conversation_id,
        "InitiatorName": initiator_name,
        "SecurityCredential": security_credential,
        "CommandID": command_id,
        "Amount": amount,
        "PartyA": int(party_a),
        "PartyB": int(msisdn),
        "Remarks": remarks,
        "QueueTimeOutURL": timeout_url,
        "ResultURL": result_url,
        "Occassion": occasion,  # sic: Daraja's spelling
    }


def balance_payload(
    *,
    initiator_name: str,
    security_credential: str,
    party_a: str,
    remarks: str,
    result_url: str,
    timeout_url: str,
) -> dict[str, Any]:
    return {
        "Initiator": initiator_name,
        "SecurityCredential": security_credential,
        "CommandID": COMMAND_BALANCE,
        "PartyA": int(party_a),
        "IdentifierType": IDENTIFIER_ORGANISATION,
        "Remarks": remarks,
        "QueueTimeOutURL": timeout_url,
        "ResultURL": result_url,
    }


def status_payload(
    *,
    initiator_name: str,
    security_credential: str,
    party_a: str,
    transaction_id: str | None,
    original_conversation_id: str | None,
    remarks: str,
    result_url: str,
    timeout_url: str,
) -> dict[str, Any]:
    """Transaction Status (§11.1): by receipt or by the original OriginatorConversationID;
    uses the correct spelling ``Occasion``."""
    payload: dict[str, Any] = {
        "Initiator": initiator_name,
        "SecurityCredential": security_credential,
        "CommandID": COMMAND_STATUS,
        "PartyA": int(party_a),
        "IdentifierType": IDENTIFIER_ORGANISATION,
        "ResultURL": result_url,
        "QueueTimeOutURL": timeout_url,
        "Remarks": remarks,
        "Occasion": "",
    }
    if transaction_id is not None:
        payload["TransactionID"] = transaction_id
    if original_conversation_id is not None:
        payload["OriginalConversationID"] = original_conversation_id
    return payload


def reversal_payload(
    *,
    initiator_name: str,
    security_credential: str,
    transaction_id: str,
    amount: int,
    receiver_party: str,
    remarks: str,
    result_url: str,
    timeout_url: str,
) -> dict[str, Any]:
    return {
        "Initiator": initiator_name,
        "SecurityCredential": security_credential,
        "CommandID": COMMAND_REVERSAL,
        "TransactionID": transaction_id,
        "Amount": amount,
        "ReceiverParty": int(receiver_party),
        "RecieverIdentifierType": REVERSAL_RECEIVER_IDENTIFIER,  # sic: Daraja's spelling
        "ResultURL": result_url,
        "QueueTimeOutURL": timeout_url,
        "Remarks": remarks,
    }


# --------------------------------------------------------------------------------------
# Pull Transactions — UNCONFIRMED: our provider notes do not describe this API; the shape
# follows Safaricom's public description of it. Both functions here and PULL_PATH are
# the only places to change when it is confirmed.
# --------------------------------------------------------------------------------------


def pull_query_payload(*, shortcode: str, start: str, end: str, offset: int) -> dict[str, Any]:
    """``StartDate`` / ``EndDate`` as ``YYYY-MM-DD HH:MM:SS`` in Nairobi time."""
    return {"ShortCode": shortcode, "StartDate": start, "EndDate": end, "OffSetValue": str(offset)}


@dataclass(frozen=True, slots=True)
class PulledPayment:
    """One completed customer payment to the shortcode, as the statement lists it."""

    transaction_id: str
    trx_date: str
    msisdn: str | None
    amount: str | int | Decimal
    bill_reference: str | None


def read_pull_page(data: Mapping[str, Any]) -> list[PulledPayment]:
    """``{"ResponseCode": "1000", "Response": [[{transactionId, trxDate, msisdn, amount,
    billreference, …}]]}``; any other ``ResponseCode`` is refused."""
    code = code_text(_get(data, "ResponseCode", required=True), "ResponseCode")
    if code != "1000":
        raise WireError("not_success", f"ResponseCode {code}: {text(data, 'ResponseMessage')}")
    outer = data.get("Response") or []
    if not isinstance(outer, list):
        raise WireError("wrong_type", "Response is not a list")
    payments: list[PulledPayment] = []
    for page in outer:
        for line in _list_of_objects(page, "Response[]", limit=PULL_PAGE):
            amount = scalar(_get(line, "amount", required=True), "amount")
            if amount is None:  # pragma: no cover - _get(required=True) never returns None
                raise WireError("missing_field", "amount is missing")
            number = scalar(line.get("msisdn"), "msisdn")
            payments.append(
                PulledPayment(
                    transaction_id=required_id(line, "transactionId"),
                    trx_date=text(line, "trxDate", required=True) or "",
                    msisdn=None if number is None else str(number),
                    amount=amount,
                    bill_reference=text(line, "billreference"),
                )
            )
    return payments
