"""Inbound Daraja callbacks: how they are parsed and checked against what we asked.

Models ``docs/providers/mpesa.md`` §6 (STK callback), §8.2 (C2B validation and
confirmation), §9 (B2C result and queue timeout), §10 (Account Balance result), §11
(Transaction Status and Reversal results) and §13 (callbacks are unsigned: defend with a
source allow-list, a secret path token, strict correlation and confirmation queries).
Where they are mounted and how query answers are handed over is :mod:`.routes`; the
source and token checks :mod:`.sources`; the C2B validation decision :mod:`.decisions`.
Their names are re-exported here, where callers have always found them.

Every parser turns any surprise — malformed JSON, a wrong type, a huge number, a
negative or fractional-shilling amount, a missing id — into
:class:`CallbackRejected` with a stable ``reason``; none of them ever raises anything
else. Unknown fields are ignored. Each event gets a stable ``event_id`` (the inbox
identity), so a repeated delivery is recognised as the same event.

Queue timeouts of every initiator API are parsed as ``CallbackKind.DISBURSEMENT_TIMEOUT``
(base.py: "Daraja queue timeout"): an UNKNOWN outcome, never a failure.

This module must never book, never trust the masked C2B ``MSISDN`` as an identity, never
answer a C2B confirmation with anything but success (it cannot be refused), and never
log a body.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from qmoi.domain.money import Money
from qmoi.providers.base import (
    CallbackEvent,
    CallbackKind,
    CallbackRejected,
    ExpectedTransaction,
    FailureReason,
    Outcome,
    ProviderName,
    ProviderStatus,
    callback_mismatches,
)
from qmoi.providers.mpesa import translate, wire
from qmoi.providers.mpesa.decisions import C2BDecision, c2b_stream, decide_c2b_validation
from qmoi.providers.mpesa.results import AccountBalance, balances_of, transaction_status_of
from qmoi.providers.mpesa.routes import (
    ANSWER_PATHS,
    B2C_RESULT_PATH,
    B2C_TIMEOUT_PATH,
    BALANCE_RESULT_PATH,
    BALANCE_TIMEOUT_PATH,
    C2B_CONFIRMATION_PATH,
    C2B_VALIDATION_PATH,
    CALLBACK_ROUTES,
    REVERSAL_RESULT_PATH,
    REVERSAL_TIMEOUT_PATH,
    STATUS_RESULT_PATH,
    STATUS_TIMEOUT_PATH,
    STK_CALLBACK_PATH,
    WAITED_KINDS,
    answer_path,
    answers,
    new_answer_tag,
    read_delivery,
    route,
    waiter_delivery,
)
from qmoi.providers.mpesa.sources import (
    SAFARICOM_CALLBACK_SOURCES,
    SAFARICOM_CALLBACK_SOURCES_UNCONFIRMED,
    Network,
    parse_allowlist,
    source_allowed,
    token_matches,
)
from qmoi.providers.mpesa.translate import AmountError

PROVIDER: ProviderName = "mpesa"

# --------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------


def parse_callback(
    kind: CallbackKind, body: bytes | str, *, shortcodes: Collection[str] = ()
) -> CallbackEvent:
    """Parse one callback body of ``kind``; :class:`CallbackRejected` if it is not one.

    ``shortcodes`` are ours (paybill/store and till); a C2B confirmation for another
    shortcode is refused (it is not our money). Validation requests are not refused here
    — :func:`decide_c2b_validation` answers them with ``C2B00015``.
    """
    try:
        data = wire.decode_json(body)
    except wire.WireError as exc:
        raise CallbackRejected(PROVIDER, exc.reason, exc.message) from None
    return parse_callback_data(kind, data, shortcodes=shortcodes)


def parse_callback_data(
    kind: CallbackKind, data: Mapping[str, Any], *, shortcodes: Collection[str] = ()
) -> CallbackEvent:
    """:func:`parse_callback` for an already decoded body (e.g. from the ResultWaiter)."""
    try:
        if kind is CallbackKind.COLLECTION:
            return _stk(data)
        if kind in (CallbackKind.C2B_VALIDATION, CallbackKind.C2B_CONFIRMATION):
            return _c2b(kind, data, shortcodes)
        if kind is CallbackKind.DISBURSEMENT:
            return _b2c_result(data)
        if kind is CallbackKind.DISBURSEMENT_TIMEOUT:
            return _queue_timeout(data)
        if kind is CallbackKind.STATUS_RESULT:
            return _status_result(data)
        if kind is CallbackKind.BALANCE_RESULT:
            return _balance_result(data)
        if kind is CallbackKind.REVERSAL_RESULT:
            return _reversal_result(data)
    except wire.WireError as exc:
        raise CallbackRejected(PROVIDER, exc.reason, exc.message) from None
    except AmountError as exc:
        raise CallbackRejected(PROVIDER, exc.reason, str(exc)) from None
    raise CallbackRejected(PROVIDER, "unknown_kind", f"M-Pesa sends no {kind.value} callbacks")


def _json_safe(value: Any) -> Any:
    """The decoded body with ``Decimal`` fractions as their exact text, so that ``raw``
    can be stored as JSON without ever passing through a float."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _time(value: str, name: str) -> datetime:
    try:
        return translate.compact_time(value)
    except ValueError:
        raise wire.WireError("invalid_field", f"{name} is not YYYYMMDDHHmmss") from None


def _stk(data: Mapping[str, Any]) -> CallbackEvent:
    callback = wire.read_stk_callback(data)
    items = callback.items
    amount: Money | None = None
    receipt: str | None = None
    msisdn: str | None = None
    completed_at: datetime | None = None
    if callback.result_code == wire.ACCEPTED:
        amount = translate.transaction_amount(items.get("Amount"), "Amount")
        receipt = wire.required_id(items, "MpesaReceiptNumber")
        if items.get("TransactionDate") is not None:
            completed_at = _time(
                wire.digits(items["TransactionDate"], "TransactionDate"), "TransactionDate"
            )
    if items.get("PhoneNumber") is not None:
        phone = wire.digits(items["PhoneNumber"], "PhoneNumber")
        if not translate.is_msisdn(phone):
            raise wire.WireError("invalid_field", "PhoneNumber is not a Kenyan mobile number")
        msisdn = phone
    status = translate.status_from(
        translate.STK_RESULTS,
        callback.result_code,
        callback.result_desc,
        provider_reference=receipt,
        amount=amount,
        msisdn=msisdn,
        completed_at=completed_at,
    )
    checkout = callback.checkout_request_id
    return CallbackEvent(
        PROVIDER, CallbackKind.COLLECTION, f"stk:{checkout}", checkout, status, None,
        _json_safe(data),
    )  # fmt: skip


def _c2b(kind: CallbackKind, data: Mapping[str, Any], shortcodes: Collection[str]) -> CallbackEvent:
    note = wire.read_c2b(data)
    amount = translate.transaction_amount(note.trans_amount, "TransAmount")
    at = _time(note.trans_time, "TransTime")
    if kind is CallbackKind.C2B_CONFIRMATION:
        if shortcodes and note.business_short_code not in shortcodes:
            raise CallbackRejected(
                PROVIDER, "shortcode_mismatch", "confirmation is for a shortcode not ours"
            )
        status = ProviderStatus(
            Outcome.SUCCEEDED, wire.ACCEPTED, note.transaction_type or "C2B payment",
            provider_reference=note.trans_id, amount=amount, completed_at=at,
        )  # fmt: skip
        event_id = f"c2b:{note.trans_id}"
    else:
        status = ProviderStatus(
            Outcome.PENDING, "", "awaiting our validation answer", amount=amount
        )
        event_id = f"c2b-validation:{note.trans_id}"
    return CallbackEvent(
        PROVIDER, kind, event_id, note.trans_id, status, note.bill_ref_number or None,
        _json_safe(data),
    )  # fmt: skip


def _b2c_result(data: Mapping[str, Any]) -> CallbackEvent:
    result = wire.read_result(data)
    code = result.result_code or ""
    params = result.parameters
    reference = result.originator_conversation_id or result.conversation_id or ""
    amount: Money | None = None
    receipt: str | None = None
    completed_at: datetime | None = None
    if code == wire.ACCEPTED:
        amount = translate.transaction_amount(params.get("TransactionAmount"), "TransactionAmount")
        receipt = wire.optional_id(params, "TransactionReceipt") or result.transaction_id
        if receipt is None:
            raise wire.WireError("missing_field", "a successful B2C result has no receipt")
        completed_at = translate.any_time(params.get("TransactionCompletedDateTime"))
    name = params.get("ReceiverPartyPublicName")
    status = translate.status_from(
        translate.B2C_RESULTS,
        code,
        result.result_desc,
        provider_reference=receipt,
        amount=amount,
        msisdn=translate.msisdn_prefix(name if isinstance(name, str) else None),
        completed_at=completed_at,
    )
    event_id = f"b2c:{reference}"
    if result.result_type not in (None, "0"):  # 1 = waiting for further messages (§3)
        status = ProviderStatus(
            Outcome.PENDING, code, result.result_desc or "waiting for further messages"
        )
        event_id = f"b2c:{reference}:type{result.result_type}"
    return CallbackEvent(
        PROVIDER, CallbackKind.DISBURSEMENT, event_id, reference, status, None, _json_safe(data)
    )


def _queue_timeout(data: Mapping[str, Any]) -> CallbackEvent:
    result = wire.read_result(data, queue_timeout=True)
    reference = result.originator_conversation_id or result.conversation_id or ""
    status = ProviderStatus(
        Outcome.UNKNOWN,
        result.result_code or "queue_timeout",
        result.result_desc or "request timed out in M-Pesa's queue: resolve by status query",
    )
    return CallbackEvent(
        PROVIDER, CallbackKind.DISBURSEMENT_TIMEOUT, f"queue-timeout:{reference}", reference,
        status, None, _json_safe(data),
    )  # fmt: skip


def _waiter_key(result: wire.ResultEnvelope) -> str:
    return result.conversation_id or result.originator_conversation_id or ""


def _status_result(data: Mapping[str, Any]) -> CallbackEvent:
    result = wire.read_result(data)
    key = _waiter_key(result)
    return CallbackEvent(
        PROVIDER, CallbackKind.STATUS_RESULT, f"status:{key}", key,
        transaction_status_of(result), None, _json_safe(data),
    )  # fmt: skip


def _balance_result(data: Mapping[str, Any]) -> CallbackEvent:
    result = wire.read_result(data)
    key = _waiter_key(result)
    code = result.result_code or ""
    if code == wire.ACCEPTED:
        balances_of(result)  # refuse an unreadable balance here, not later
        status = ProviderStatus(Outcome.SUCCEEDED, code, result.result_desc or "balance")
    elif code in translate.QUERY_CREDENTIAL_FAILURES:
        status = ProviderStatus(
            Outcome.FAILED, code, result.result_desc, reason=FailureReason.AUTHORIZATION
        )
    else:
        status = translate.status_from(translate.GENERIC_RESULTS, code, result.result_desc)
    return CallbackEvent(
        PROVIDER, CallbackKind.BALANCE_RESULT, f"balance:{key}", key, status, None,
        _json_safe(data),
    )  # fmt: skip


def _reversal_result(data: Mapping[str, Any]) -> CallbackEvent:
    result = wire.read_result(data)
    key = _waiter_key(result)
    code = result.result_code or ""
    amount: Money | None = None
    completed_at: datetime | None = None
    params = result.parameters
    if code == wire.ACCEPTED:
        if params.get("Amount") is not None:
            amount = translate.transaction_amount(params.get("Amount"), "Amount")
        completed_at = translate.any_time(params.get("TransCompletedTime"))
    status = translate.status_from(
        translate.REVERSAL_RESULTS,
        code,
        result.result_desc,
        provider_reference=result.transaction_id,
        amount=amount,
        completed_at=completed_at,
    )
    return CallbackEvent(
        PROVIDER, CallbackKind.REVERSAL_RESULT, f"reversal:{key}", key, status, None,
        _json_safe(data),
    )  # fmt: skip


# --------------------------------------------------------------------------------------
# matching against what we asked for, and against the confirming query
# --------------------------------------------------------------------------------------


def verify_against(event: CallbackEvent, expected: ExpectedTransaction | None) -> None:
    """Refuse a callback about nothing we sent (``unknown_reference``) or one that does
    not match it (the reasons of :func:`callback_mismatches`)."""
    if expected is None:
        raise CallbackRejected(
            PROVIDER, "unknown_reference", f"no request of ours is called {event.reference!r}"
        )
    reasons = callback_mismatches(event, expected)
    if reasons:
        raise CallbackRejected(PROVIDER, reasons[0], ", ".join(reasons))


def confirmation_mismatches(event: CallbackEvent, confirmed: ProviderStatus) -> list[str]:
    """Why a confirming status query does not back a callback (empty when it does).

    Only a final callback is checked; for a queue timeout the query *is* the answer.
    ``not_confirmed``: the query is not final yet (hold the callback, ask again later);
    ``outcome_contradicted``: the query says otherwise (the callback loses);
    ``amount_contradicted`` / ``receipt_contradicted``: both report it, differently.
    """
    claimed = event.status
    if not claimed.is_final:
        return []
    reasons: list[str] = []
    if not confirmed.is_final:
        reasons.append("not_confirmed")
    elif confirmed.outcome is not claimed.outcome:
        reasons.append("outcome_contradicted")
    if claimed.amount is not None and confirmed.amount is not None:
        if claimed.amount != confirmed.amount:
            reasons.append("amount_contradicted")
    if claimed.provider_reference and confirmed.provider_reference:
        if claimed.provider_reference != confirmed.provider_reference:
            reasons.append("receipt_contradicted")
    return reasons


__all__ = [
    "ANSWER_PATHS",
    "B2C_RESULT_PATH",
    "B2C_TIMEOUT_PATH",
    "BALANCE_RESULT_PATH",
    "BALANCE_TIMEOUT_PATH",
    "C2B_CONFIRMATION_PATH",
    "C2B_VALIDATION_PATH",
    "CALLBACK_ROUTES",
    "REVERSAL_RESULT_PATH",
    "REVERSAL_TIMEOUT_PATH",
    "SAFARICOM_CALLBACK_SOURCES",
    "SAFARICOM_CALLBACK_SOURCES_UNCONFIRMED",
    "STATUS_RESULT_PATH",
    "STATUS_TIMEOUT_PATH",
    "STK_CALLBACK_PATH",
    "WAITED_KINDS",
    "AccountBalance",
    "C2BDecision",
    "Network",
    "answer_path",
    "answers",
    "balances_of",
    "c2b_stream",
    "confirmation_mismatches",
    "decide_c2b_validation",
    "new_answer_tag",
    "parse_allowlist",
    "parse_callback",
    "parse_callback_data",
    "read_delivery",
    "route",
    "source_allowed",
    "token_matches",
    "transaction_status_of",
    "verify_against",
    "waiter_delivery",
]
