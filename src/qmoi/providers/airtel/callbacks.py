"""Parse and authenticate the callbacks Airtel POSTs to QMOI.

Follows ``docs/providers/airtel.md`` §6 (body ``{"transaction": {id, message,
status_code, airtel_money_id}}`` plus ``hash`` when callback authentication is on; hash =
base64(HMAC-SHA256(callback private key, compact JSON)), over the outer body or the inner
``transaction`` — sources disagree, so both are tried, in received key order) and §10
(status values). Disbursement callbacks are assumed to have the same shape (§6,
unconfirmed).

A callback is untrusted input. Anything wrong with it — too large, not UTF-8 JSON,
duplicate keys, absurdly long numbers, wrong types, unknown status, a missing or forged
hash, an amount that is negative, fractional beyond the currency or absurd — raises
:class:`~qmoi.providers.base.CallbackRejected` with a stable ``reason``; it never
crashes and never becomes revenue. Unknown fields are tolerated and kept in ``raw``.

The event identity (``event_id``) is ``airtel:<kind>:<transaction id>:<status>``, so a
repeated delivery of the same callback dedupes in the inbox while a later final status
after an intermediate ``TIP`` is a new event.

What this module must never do: book anything, trust a callback for an id we did not
issue (the caller checks; :func:`callback_problems` helps), log the secret or the hash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from qmoi.domain.errors import InvalidAmount
from qmoi.domain.money import Money, exponent
from qmoi.providers.airtel import crypto, wire
from qmoi.providers.airtel.translate import read_transaction_status
from qmoi.providers.base import (
    CallbackEvent,
    CallbackKind,
    CallbackRejected,
    ExpectedTransaction,
    Outcome,
    ProviderName,
    ProviderStatus,
    callback_mismatches,
)

PROVIDER: ProviderName = "airtel"

#: The documented callback is ~200 bytes; anything this large is not Airtel's.
MAX_BODY_BYTES = 64 * 1024
#: No real callback moves more than this in major units; bigger numbers are attacks.
MAX_AMOUNT_MAJOR = Decimal(10) ** 12
MAX_ID_CHARS = 100

_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")

SUPPORTED_KINDS = (CallbackKind.COLLECTION, CallbackKind.DISBURSEMENT)


def _reject(reason: str, message: str) -> CallbackRejected:
    return CallbackRejected(PROVIDER, reason, message)


def _load(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise _reject("too_large", f"callback body of {len(body)} bytes is too large")
    try:
        text = body.decode("utf-8")
        data = wire.loads(text)
    except wire.NumberTooLarge as exc:
        raise _reject("number_too_large", f"callback carries an absurd number: {exc}") from None
    except wire.DuplicateKey as exc:
        raise _reject("duplicate_key", f"callback JSON is ambiguous: {exc}") from None
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise _reject("malformed_json", "callback body is not valid UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise _reject("not_an_object", "callback body is not a JSON object")
    return data


def _validate(data: dict[str, Any]) -> wire.CallbackBody:
    try:
        return wire.CallbackBody.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "missing":
            raise _reject("missing_field", f"callback has no {where}") from None
        raise _reject("wrong_type", f"callback field {where} has the wrong type") from None


def _hash_candidates(data: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """Messages the hash may have been computed over (§6: outer or inner, compact JSON,
    received key order), each with and without ASCII escaping of non-ASCII text."""
    transaction = data["transaction"]
    forms: list[tuple[str, Any]] = [("outer", {"transaction": transaction})]
    rest = {k: v for k, v in data.items() if k != "hash"}
    if list(rest) != ["transaction"]:
        forms.append(("body", rest))
    forms.append(("inner", transaction))
    candidates: list[tuple[str, bytes]] = []
    for name, value in forms:
        for ascii_only in (False, True):
            message = wire.dumps(value, ensure_ascii=ascii_only)
            if all(message != seen for _, seen in candidates):
                candidates.append((name, message))
    return candidates


def verify_hash(data: Mapping[str, Any], received: str, secret: str) -> str | None:
    """The scope (``outer``/``body``/``inner``) whose HMAC matches, or None."""
    for scope, message in _hash_candidates(data):
        if crypto.hash_matches(message, secret, received):
            return scope
    return None


def _amount(value: Any, currency: str) -> Money:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise _reject("wrong_type", "callback amount is not a number")
    try:
        major = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except ArithmeticError:
        raise _reject("bad_amount", "callback amount is not a number") from None
    if not major.is_finite() or major <= 0 or major > MAX_AMOUNT_MAJOR:
        raise _reject("bad_amount", "callback amount is not a positive, sane amount")
    try:
        places = exponent(currency)
    except InvalidAmount:  # not an ISO 4217 code: its decimals are unknown
        raise _reject("wrong_type", "callback currency is not an ISO 4217 currency") from None
    if major != major.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN"):
        raise _reject("bad_amount", f"callback amount has more decimals than {currency} has")
    try:
        return Money.parse(major, currency)
    except InvalidAmount:
        raise _reject("bad_amount", "callback amount is not a valid amount") from None


def parse(
    kind: CallbackKind,
    body: bytes,
    *,
    currency: str,
    country: str,
    secret: str | None,
    require_hash: bool,
) -> tuple[CallbackEvent, str | None]:
    """Parse and authenticate one callback; returns the event and the hash scope that
    matched (None when no hash was checked). Raises :class:`CallbackRejected`."""
    if kind not in SUPPORTED_KINDS:
        raise _reject("unsupported_kind", f"Airtel sends no {kind.value} callbacks")
    data = _load(body)
    parsed = _validate(data)
    tx = parsed.transaction
    if not tx.id or len(tx.id) > MAX_ID_CHARS or not _PRINTABLE.match(tx.id):
        raise _reject("bad_value", "callback transaction id is empty or not printable")
    if tx.airtel_money_id is not None and len(tx.airtel_money_id) > MAX_ID_CHARS:
        raise _reject("bad_value", "callback airtel_money_id is too long")

    scope: str | None = None
    if parsed.hash is not None and secret:
        scope = verify_hash(data, parsed.hash, secret)
        if scope is None:
            raise _reject("hash_mismatch", "callback hash does not match (forged or altered)")
    elif require_hash:
        if not secret:
            raise _reject("hash_unverifiable", "callback auth is on but no callback secret is set")
        raise _reject("hash_missing", "callback has no hash and callback auth is on")

    reading = read_transaction_status(tx.status_code, tx.message, tx.airtel_money_id)
    if reading is None:
        raise _reject("unknown_status", "callback status_code is not one of TS/TF/TA/TIP/TE")

    extra = tx.model_extra or {}
    money_currency = currency
    if "currency" in extra:
        value = extra["currency"]
        if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value):
            raise _reject("wrong_type", "callback currency is not an ISO code")
        money_currency = value
    amount = _amount(extra["amount"], money_currency) if "amount" in extra else None
    msisdn: str | None = None
    if "msisdn" in extra:
        value = extra["msisdn"]
        if not isinstance(value, str):
            raise _reject("wrong_type", "callback msisdn is not a string")
        try:
            msisdn = wire.to_international(value, country)
        except wire.InvalidMsisdn:
            raise _reject("bad_msisdn", "callback msisdn is not a valid number") from None

    status = ProviderStatus(
        outcome=reading.outcome,
        provider_code=reading.code,
        provider_message=wire.scrub(reading.message),  # may name a phone number
        reason=reading.reason,
        provider_reference=reading.provider_reference,
        amount=amount,
        msisdn=msisdn,
    )
    event = CallbackEvent(
        provider=PROVIDER,
        kind=kind,
        event_id=f"airtel:{kind.value}:{tx.id}:{reading.code}",
        reference=tx.id,
        status=status,
        raw=data,
        authenticated=scope is not None,
    )
    return event, scope


def callback_problems(
    event: CallbackEvent, expected: ExpectedTransaction | None, *, authenticated: bool
) -> list[str]:
    """Why a callback must not be booked as it stands (empty: it may be booked).

    * ``unknown_transaction`` — ``expected`` is None: not an id we issued (§16.5: keep it
      in the inbox, never book it);
    * ``reference_mismatch`` and everything :func:`callback_mismatches` finds;
    * Airtel never reports the amount or payer in a callback (§6): an *authenticated*
      success means Airtel executed our id for the amount we asked. Without the hash the
      success is only a hint and ``unauthenticated`` asks the caller to confirm it by
      enquiry first (§6).
    """
    if expected is None:
        return ["unknown_transaction"]
    problems: list[str] = []
    if event.reference != expected.reference:
        problems.append("reference_mismatch")
    problems += callback_mismatches(event, expected)
    if event.status.outcome is Outcome.SUCCEEDED and not authenticated:
        problems.append("unauthenticated")
    return problems
