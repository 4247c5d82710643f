"""Airtel Money Open API wire format: paths, field names and payload shapes.

Follows ``docs/providers/airtel.md`` (Airtel Africa Open API: OAuth2 token, v1/v2
merchant collections, v1/v2 standard disbursements, users balance and KYC, RSA
encryption keys, the merchant callback). With :mod:`.models`, the only place in QMOI
that knows Airtel's field names; everything else speaks the neutral types of
:mod:`qmoi.providers.base`.

Answers from the network are read with tolerant models (unknown fields ignored, numbers
accepted where text is documented, ``expires_in`` as string or integer) because Airtel's
shapes vary by country and version. Callback bodies are read strictly, because they are
untrusted input. The models live in :mod:`.models` and are re-exported here. JSON is
parsed with exact decimals (never floats), bounded integers and no ``NaN``/``Infinity``,
and our own request bodies are serialised compactly by :func:`dumps` so the bytes we
sign are the bytes we send (doc §4.3).

This module must never do I/O, log, or hold secrets; it only shapes data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType

from qmoi.providers.airtel import countries
from qmoi.providers.airtel.models import (
    BalanceData,
    CallbackBody,
    CallbackTransaction,
    Envelope,
    KeyData,
    KycData,
    OAuthError,
    Registration,
    RouterError,
    StatusBlock,
    TokenAnswer,
    TransactionData,
)

# --------------------------------------------------------------------------------------
# paths (doc §2, §4.1, §5, §7, §8, §9) — every sample uses the trailing slash on writes
# --------------------------------------------------------------------------------------

TOKEN_PATH = "/auth/oauth2/token"  # noqa: S105 - a path, not a secret
ENCRYPTION_KEYS_PATH = "/v1/rsa/encryption-keys"
COLLECTION_PATHS = {1: "/merchant/v1/payments/", 2: "/merchant/v2/payments/"}
COLLECTION_ENQUIRY_PATH = "/standard/v1/payments/{id}"
REFUND_PATH = "/standard/v1/payments/refund"
DISBURSEMENT_PATHS = {1: "/standard/v1/disbursements/", 2: "/standard/v2/disbursements/"}
DISBURSEMENT_ENQUIRY_PATHS = {
    1: "/standard/v1/disbursements/{id}",
    2: "/standard/v2/disbursements/{id}",
}
DISBURSEMENT_ENQUIRY_V2_PARAMS = {"transactionType": "B2C"}
BALANCE_PATH = "/standard/v1/users/balance"
USER_ENQUIRY_PATH = "/standard/v1/users/{msisdn}"

HEADER_COUNTRY = "X-Country"
HEADER_CURRENCY = "X-Currency"
HEADER_SIGNATURE = "x-signature"
HEADER_KEY = "x-key"

#: ``reference`` is free text shown to the payer; clients keep it to 64 characters (§5.1).
REFERENCE_MAX = 64

# --------------------------------------------------------------------------------------
# MSISDN (§12, §13): national significant number on the wire, E.164 digits in QMOI;
# the rules of each country's numbers are phonenumbers'
# --------------------------------------------------------------------------------------


class InvalidMsisdn(ValueError):
    """A subscriber number that is not a number of the configured country."""


def to_national(msisdn: str, country: str) -> str:
    """``+254733123456`` / ``254733123456`` / ``0733123456`` / ``733123456`` →
    ``733123456``: the national significant number phonenumbers gives for ``country``
    (no ``+``, no country code, no trunk 0; §13), of a length its mobiles can have.

    Validity (a real range, the right network) is checked where a number comes in; this
    only converts, so the emulator's test numbers travel too."""
    if country not in countries.CURRENCIES:
        raise InvalidMsisdn(f"country {country!r} is not in Airtel's footprint")
    code = countries.dialling_code(country)
    digits = "".join(msisdn.split()).replace("-", "").removeprefix("+")
    if not digits.isdigit() or not digits.isascii():
        raise InvalidMsisdn("a phone number has digits only")
    parsed = _parsed(digits, country, code)
    if (
        parsed is None
        or str(parsed.country_code) != code
        or not phonenumbers.is_possible_number_for_type(parsed, PhoneNumberType.MOBILE)
    ):
        raise InvalidMsisdn(f"not a mobile number of {country} (+{code})")
    return str(parsed.national_number)


def _parsed(digits: str, country: str, code: str) -> phonenumbers.PhoneNumber | None:
    """``digits`` as an international number when it starts with the country code and
    is one, else as a national number of ``country``."""
    candidates = (["+" + digits] if digits.startswith(code) else []) + [digits]
    for text in candidates:
        try:
            parsed = phonenumbers.parse(text, country)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number_for_type(parsed, PhoneNumberType.MOBILE):
            return parsed
    return None


def to_international(msisdn: str, country: str) -> str:
    """Any accepted form → QMOI's stored form, E.164 digits without ``+``
    (``254733123456``)."""
    return countries.dialling_code(country) + to_national(msisdn, country)


def mask_msisdn(msisdn: str | None) -> str:
    """For logs: only the last 3 digits survive (``*********456``)."""
    if not msisdn:
        return ""
    return "*" * max(len(msisdn) - 3, 0) + msisdn[-3:]


_DIGIT_RUN = re.compile(r"\+?\d{7,}")


def scrub(text: str | None) -> str:
    """Provider free text for logs and error messages: every run of 7+ digits (a phone
    number, e.g. "You have sent KES 2000.00 to 733123456") keeps its last 3 digits only."""
    if not text:
        return ""
    return _DIGIT_RUN.sub(lambda m: mask_msisdn(m.group(0)), text)


# --------------------------------------------------------------------------------------
# JSON in and out
# --------------------------------------------------------------------------------------

#: Longest integer literal accepted from the network (far above any amount or id).
MAX_INT_DIGITS = 30
MAX_NUMBER_CHARS = 40


class NumberTooLarge(ValueError):
    """A JSON number too long to be a real amount or id (a denial-of-service attempt)."""


class DuplicateKey(ValueError):
    """A JSON object repeats a key; its meaning (and its hash) would be ambiguous."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise NumberTooLarge(f"integer with {len(text)} digits")
    return int(text)


def _parse_decimal(text: str) -> Decimal:
    if len(text) > MAX_NUMBER_CHARS:
        raise NumberTooLarge(f"number with {len(text)} characters")
    value = Decimal(text)
    if not value.is_finite() or abs(value.adjusted()) > MAX_INT_DIGITS:
        raise NumberTooLarge(f"number {text[:12]}… is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(f"key {key!r} appears twice")
        result[key] = value
    return result


def loads(raw: bytes | str) -> Any:
    """Parse JSON from the network: decimals exact, numbers bounded, keys unique, order kept.

    Raises ``ValueError`` (including :class:`NumberTooLarge`, :class:`DuplicateKey` and
    ``json.JSONDecodeError``) or ``RecursionError`` on hostile input.
    """
    return json.loads(
        raw,
        parse_float=_parse_decimal,
        parse_int=_parse_int,
        parse_constant=_no_constant,
        object_pairs_hook=_unique_keys,
    )


def dumps(value: Any, *, ensure_ascii: bool = False) -> bytes:
    """Compact JSON (no spaces, key order kept, UTF-8) with exact decimals.

    A :class:`~decimal.Decimal` is written as its own text, so a received ``1.50`` is
    reproduced byte for byte (needed to recompute callback hashes) and an amount we
    produced with :func:`wire_amount` is written without floats.
    """
    return _encode(value, ensure_ascii).encode("utf-8")


def _encode(value: Any, ensure_ascii: bool) -> str:
    if isinstance(value, Mapping):
        items = (
            f"{json.dumps(str(k), ensure_ascii=ensure_ascii)}:{_encode(v, ensure_ascii)}"
            for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v, ensure_ascii) for v in value) + "]"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("non-finite decimal cannot be sent")
        return str(value)
    if isinstance(value, float):
        raise TypeError("floats are never sent to Airtel; use Decimal or int")
    if value is None or isinstance(value, bool | int | str):
        return json.dumps(value, ensure_ascii=ensure_ascii)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def wire_amount(major: Decimal) -> int | Decimal:
    """The ``transaction.amount`` number for a major-unit amount (doc §5.1: a JSON number;
    whole units as integers, otherwise the shortest exact decimal: ``150.50`` → ``150.5``)."""
    if major == major.to_integral_value():
        return int(major)
    return major.normalize()


# --------------------------------------------------------------------------------------
# requests we send
# --------------------------------------------------------------------------------------


def token_body(client_id: str, client_secret: str) -> dict[str, Any]:
    """§2: the JSON body form (not HTTP Basic)."""
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "client_credentials",
    }


def collection_body(
    *,
    reference: str,
    msisdn: str,
    amount: int | Decimal,
    country: str,
    currency: str,
    transaction_id: str,
) -> dict[str, Any]:
    """§5.1 USSD push body (same for v1 and v2); ``msisdn`` already national, as a string."""
    return {
        "reference": reference[:REFERENCE_MAX],
        "subscriber": {"country": country, "currency": currency, "msisdn": msisdn},
        "transaction": {
            "amount": amount,
            "country": country,
            "currency": currency,
            "id": transaction_id,
        },
    }


def refund_body(airtel_money_id: str) -> dict[str, Any]:
    """§5.3: keyed on Airtel's id of the successful collection; full refund only."""
    return {"transaction": {"airtel_money_id": airtel_money_id}}


def disbursement_body(
    *,
    version: int,
    msisdn: str,
    reference: str,
    encrypted_pin: str,
    amount: int | Decimal,
    currency: str,
    transaction_id: str,
) -> dict[str, Any]:
    """§7 v1 or v2 body. v2 adds payee currency and ``transaction.type`` ``B2C``;
    ``wallet_type`` is omitted (its values are unconfirmed)."""
    payee: dict[str, Any] = {"msisdn": msisdn}
    transaction: dict[str, Any] = {"amount": amount, "id": transaction_id}
    if version == 2:
        payee["currency"] = currency
        transaction["type"] = "B2C"
    return {
        "payee": payee,
        "reference": reference[:REFERENCE_MAX],
        "pin": encrypted_pin,
        "transaction": transaction,
    }


def callback_ack(accepted: bool) -> dict[str, Any]:
    """Our answer to a callback. Airtel documents none (§6: "respond HTTP 200 quickly");
    a small Airtel-style status block is what clients commonly send back."""
    return {
        "status": {
            "code": "200",
            "message": "Accepted" if accepted else "Rejected",
            "success": accepted,
        }
    }


__all__ = [
    "BALANCE_PATH",
    "COLLECTION_ENQUIRY_PATH",
    "COLLECTION_PATHS",
    "DISBURSEMENT_ENQUIRY_PATHS",
    "DISBURSEMENT_ENQUIRY_V2_PARAMS",
    "DISBURSEMENT_PATHS",
    "ENCRYPTION_KEYS_PATH",
    "HEADER_COUNTRY",
    "HEADER_CURRENCY",
    "HEADER_KEY",
    "HEADER_SIGNATURE",
    "MAX_INT_DIGITS",
    "MAX_NUMBER_CHARS",
    "REFERENCE_MAX",
    "REFUND_PATH",
    "TOKEN_PATH",
    "USER_ENQUIRY_PATH",
    "BalanceData",
    "CallbackBody",
    "CallbackTransaction",
    "DuplicateKey",
    "Envelope",
    "InvalidMsisdn",
    "KeyData",
    "KycData",
    "NumberTooLarge",
    "OAuthError",
    "Registration",
    "RouterError",
    "StatusBlock",
    "TokenAnswer",
    "TransactionData",
    "callback_ack",
    "collection_body",
    "disbursement_body",
    "dumps",
    "loads",
    "mask_msisdn",
    "refund_body",
    "scrub",
    "to_international",
    "to_national",
    "token_body",
    "wire_amount",
]
