"""Daraja's codes and values in QMOI's terms: result codes → :class:`Outcome` +
:class:`FailureReason`, timestamps → aware datetimes, numbers → masked or checked.
Synchronous ``errorCode``s (:mod:`.error_codes`) and amounts (:mod:`.amounts`) live in
their own modules and are re-exported here.

Tables follow ``docs/providers/mpesa.md`` §5 (STK synchronous errors), §7 (query
in progress), §8.2 (C2B validation codes), §11 (status, reversal), §12 (result codes) and
§12.4 (``errorCode``). Codes are compared as **strings** (§3, §13.14): ``0`` and ``"0"``
are the same code. The provider's own code and text are always kept on the
:class:`ProviderStatus`.

Rules this module must never break:

* an unknown or ambiguous code is ``UNKNOWN`` (resolve by enquiry), never ``FAILED`` —
  a wrong "failed" invites a second payment;
* a "duplicate" answer to a payout is ``UNKNOWN``: the first request may have paid;
* an amount is never rounded: fractional shillings are refused, and money is only ever
  integer cents inside :class:`Money`;
* no time is read from the machine's zone: Daraja's zone-less timestamps are Nairobi
  time (§5, §13.10).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from qmoi.domain.money import Money
from qmoi.providers.base import FailureReason, Outcome, ProviderStatus
from qmoi.providers.mpesa import wire
from qmoi.providers.mpesa.amounts import (
    CURRENCY,
    MAX_INBOUND_SHILLINGS,
    MAX_SHILLINGS,
    MIN_SHILLINGS,
    AmountError,
    balance_amount,
    fee_from_charges,
    to_shillings,
    transaction_amount,
)
from qmoi.providers.mpesa.error_codes import (
    ERROR_MESSAGES,
    SYNC_ERRORS,
    ErrorKind,
    ErrorVerdict,
    classify_error,
)

NAIROBI = ZoneInfo("Africa/Nairobi")
_S, _F, _P, _U = Outcome.SUCCEEDED, Outcome.FAILED, Outcome.PENDING, Outcome.UNKNOWN
R = FailureReason


@dataclass(frozen=True, slots=True)
class Meaning:
    """What one result code means for the money."""

    outcome: Outcome
    reason: FailureReason | None
    text: str


def _m(outcome: Outcome, reason: FailureReason | None, text: str) -> Meaning:
    return Meaning(outcome, reason, text)


# --------------------------------------------------------------------------------------
# result codes (§12)
# --------------------------------------------------------------------------------------

#: STK push callback and query ``ResultCode`` (§12.1).
STK_RESULTS: Mapping[str, Meaning] = {
    "0": _m(_S, None, "processed successfully"),
    "1": _m(_F, R.INSUFFICIENT_FUNDS, "insufficient balance"),
    "2": _m(_F, R.LIMIT_EXCEEDED, "below minimum transaction amount"),
    "3": _m(_F, R.LIMIT_EXCEEDED, "above maximum transaction amount"),
    "4": _m(_F, R.LIMIT_EXCEEDED, "would exceed daily transfer limit"),
    "8": _m(_F, R.LIMIT_EXCEEDED, "would exceed the maximum balance"),
    "17": _m(_F, R.LIMIT_EXCEEDED, "same amount to the same customer within 2 minutes"),
    "1001": _m(_F, R.OTHER, "unable to lock subscriber: another session is open"),
    "1019": _m(_F, R.EXPIRED, "transaction expired"),
    "1025": _m(_F, R.INVALID_REQUEST, "error sending push (prompt too long)"),
    "1032": _m(_F, R.CANCELLED, "cancelled by user"),
    "1037": _m(_F, R.TIMEOUT, "phone unreachable or no response"),
    "2001": _m(_F, R.INVALID_PIN, "wrong PIN entered"),
    "2028": _m(_F, R.AUTHORIZATION, "not permitted by product assignment"),
    "8006": _m(_F, R.ACCOUNT_BLOCKED, "security credential locked"),
    "SFC_IC0003": _m(_F, R.INVALID_REQUEST, "operator does not exist"),
}

#: Generic ApiResult codes of any initiator API (§12.3). Anything that may hide a
#: processed request (internal failure, sequencing, duplicate) is UNKNOWN.
GENERIC_RESULTS: Mapping[str, Meaning] = {
    "0": _m(_S, None, "processed successfully"),
    "15": _m(_U, R.DUPLICATE, "duplicate detected: the first request may have been processed"),
    "17": _m(_U, None, "internal failure"),
    "18": _m(_F, R.AUTHORIZATION, "initiator credential check failure"),
    "19": _m(_U, None, "message sequencing failure"),
    "20": _m(_F, R.AUTHORIZATION, "unresolved initiator"),
    "21": _m(_F, R.AUTHORIZATION, "initiator to primary party permission failure"),
    "22": _m(_F, R.AUTHORIZATION, "initiator to receiver party permission failure"),
    "24": _m(_F, R.INVALID_REQUEST, "missing mandatory fields"),
    "25": _m(_F, R.INVALID_REQUEST, "invalid request parameters"),
    "26": _m(_F, R.OTHER, "traffic blocking: system too busy"),
    "29": _m(_F, R.INVALID_REQUEST, "invalid command"),
    "100000000": _m(_P, None, "request cached, waiting for resending"),
    "100000001": _m(_F, R.OTHER, "system overload"),
    "100000002": _m(_F, R.OTHER, "throttling"),
    "100000004": _m(_U, None, "internal error"),
    "100000005": _m(_F, R.INVALID_REQUEST, "invalid input value"),
    "100000007": _m(_U, None, "service status abnormal"),
    "100000009": _m(_U, None, "API status abnormal"),
    "100000010": _m(_F, R.AUTHORIZATION, "insufficient permissions"),
    "100000011": _m(_F, R.OTHER, "request-rate limit exceeded"),
    "00.002.1001": _m(_F, R.OTHER, "service under maintenance"),
}

#: B2C result ``ResultCode`` (§12.2, with §12.3 underneath).
B2C_RESULTS: Mapping[str, Meaning] = {
    **GENERIC_RESULTS,
    "1": _m(_F, R.INSUFFICIENT_FUNDS, "insufficient balance in the B2C utility account"),
    "2": _m(_F, R.LIMIT_EXCEEDED, "below minimum amount"),
    "3": _m(_F, R.LIMIT_EXCEEDED, "above maximum amount"),
    "4": _m(_F, R.LIMIT_EXCEEDED, "would exceed the customer's daily limit"),
    "8": _m(_F, R.LIMIT_EXCEEDED, "would exceed the customer's maximum balance"),
    "11": _m(_F, R.ACCOUNT_BLOCKED, "debit party (shortcode) in an invalid state"),
    "21": _m(_F, R.AUTHORIZATION, "initiator not allowed (missing B2C initiator role)"),
    "2001": _m(_F, R.AUTHORIZATION, "initiator information invalid"),
    "2006": _m(_F, R.ACCOUNT_BLOCKED, "account status does not allow the transaction"),
    "2028": _m(_F, R.AUTHORIZATION, "shortcode not permitted for B2C"),
    "2040": _m(_F, R.INVALID_NUMBER, "credit party customer type not supported"),
    "8006": _m(_F, R.AUTHORIZATION, "security credential (operator password) locked"),
    "SFC_IC0003": _m(_F, R.INVALID_NUMBER, "receiving number invalid or not on M-Pesa"),
}

#: Reversal result ``ResultCode`` (§11.2, initiator codes of §12.2/§12.3 underneath).
REVERSAL_RESULTS: Mapping[str, Meaning] = {
    **GENERIC_RESULTS,
    "1": _m(_F, R.INSUFFICIENT_FUNDS, "insufficient balance to reverse"),
    "11": _m(_F, R.ACCOUNT_BLOCKED, "debit party in an invalid state"),
    "2001": _m(_F, R.AUTHORIZATION, "initiator information invalid"),
    "2006": _m(_F, R.ACCOUNT_BLOCKED, "account status does not allow the transaction"),
    "8006": _m(_F, R.AUTHORIZATION, "security credential (operator password) locked"),
    "R000001": _m(_F, R.DUPLICATE, "transaction already reversed"),
    "R000002": _m(_F, R.NOT_FOUND, "invalid original transaction id"),
    "SFC_IC0003": _m(_F, R.AUTHORIZATION, "operator does not exist"),
}

#: Result codes of a *query* (Transaction Status, Account Balance) that mean our
#: credentials or operator roles were refused: the query never ran (§4, §11.1, §12.3).
QUERY_CREDENTIAL_FAILURES: Mapping[str, str] = {
    "2001": "initiator information invalid (operator name, password or certificate)",
    "8006": "security credential (operator password) locked",
    "18": "initiator credential check failure",
    "20": "unresolved initiator",
    "21": "initiator to primary party permission failure",
    "100000010": "insufficient permissions",
    "SFC_IC0003": "operator does not exist",
}

#: ``TransactionStatus`` values of a Transaction Status result (§11.1 documents only
#: ``Completed``; the others are common practice and kept conservative). Compared
#: case-insensitively; anything else is UNKNOWN.
TRANSACTION_STATUSES: Mapping[str, Meaning] = {
    "completed": _m(_S, None, "completed"),
    "failed": _m(_F, R.OTHER, "failed"),
    "declined": _m(_F, R.OTHER, "declined"),
    "cancelled": _m(_F, R.CANCELLED, "cancelled"),
    "expired": _m(_F, R.EXPIRED, "expired"),
    "pending": _m(_P, None, "pending"),
    "processing": _m(_P, None, "processing"),
}

#: ``ReasonType`` values of a Transaction Status result that name a payment made through
#: an STK prompt ("online" checkout), not one the customer made unprompted. The document
#: lists the key but not its values (§11.1); these are the emulator's and common
#: practice's (unconfirmed): change them here if Daraja's differ.
ONLINE_CHECKOUT_REASONS = frozenset({"pay bill online", "buy goods online"})


def is_online_checkout(reason_type: object) -> bool:
    """Whether a Transaction Status result's ``ReasonType`` names an STK payment — which
    a C2B confirmation carrying its receipt can never be (see ``direct_payment_status``)."""
    return isinstance(reason_type, str) and reason_type.strip().lower() in ONLINE_CHECKOUT_REASONS


#: C2B validation answers (§8.2): accept with "0", reject with one of these.
C2B_ACCEPT = "0"
C2B_INVALID_MSISDN = "C2B00011"
C2B_INVALID_ACCOUNT = "C2B00012"
C2B_INVALID_AMOUNT = "C2B00013"
C2B_INVALID_KYC = "C2B00014"
C2B_INVALID_SHORTCODE = "C2B00015"
C2B_OTHER_ERROR = "C2B00016"
C2B_VALIDATION_RESULTS: Mapping[str, str] = {
    C2B_ACCEPT: "Accepted",
    C2B_INVALID_MSISDN: "Invalid MSISDN",
    C2B_INVALID_ACCOUNT: "Invalid Account Number",
    C2B_INVALID_AMOUNT: "Invalid Amount",
    C2B_INVALID_KYC: "Invalid KYC Details",
    C2B_INVALID_SHORTCODE: "Invalid Shortcode",
    C2B_OTHER_ERROR: "Other Error",
}


def status_from(
    table: Mapping[str, Meaning],
    code: str,
    message: str,
    *,
    provider_reference: str | None = None,
    amount: Money | None = None,
    fee: Money | None = None,
    msisdn: str | None = None,
    completed_at: datetime | None = None,
) -> ProviderStatus:
    """Map ``code`` through ``table``; an unknown code is UNKNOWN, never FAILED.

    A receipt, amount or time is attached only to a success: a failure's ``TransactionID``
    is a placeholder (§3)."""
    meaning = table.get(code.strip())
    if meaning is None:
        return ProviderStatus(Outcome.UNKNOWN, code, message or "unknown result code")
    success = meaning.outcome is Outcome.SUCCEEDED
    return ProviderStatus(
        outcome=meaning.outcome,
        provider_code=code,
        provider_message=message or meaning.text,
        reason=meaning.reason,
        provider_reference=provider_reference if success else None,
        amount=amount if success else None,
        fee=fee if success else None,
        msisdn=msisdn,
        completed_at=completed_at if success else None,
    )


# --------------------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------------------


def nairobi_timestamp(instant: datetime) -> str:
    """``YYYYMMDDHHmmss`` in Africa/Nairobi (§5) from an aware instant."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("the instant must be timezone-aware")
    return instant.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def compact_time(value: str) -> datetime:
    """``20260101093102`` (Nairobi, no zone on the wire) → aware UTC instant."""
    if not re.fullmatch(r"\d{14}", value):
        raise ValueError(f"{value!r} is not YYYYMMDDHHmmss")
    local = datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
    return local.astimezone(UTC)


def dotted_time(value: str) -> datetime:
    """``01.01.2026 10:20:31`` (B2C ``TransactionCompletedDateTime``, Nairobi assumed)."""
    local = datetime.strptime(value.strip(), "%d.%m.%Y %H:%M:%S").replace(tzinfo=NAIROBI)
    return local.astimezone(UTC)


def whole_second_after(instant: datetime) -> datetime:
    """``instant`` rounded up to a whole second: Pull Transactions takes whole seconds,
    and an end cut down to one would leave out a payment completed earlier in the same
    second (the reconciliation test found one, completed 0.05 s before it asked)."""
    if not instant.microsecond:
        return instant
    return instant.replace(microsecond=0) + timedelta(seconds=1)


def pull_time(instant: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in Nairobi: Pull Transactions' StartDate / EndDate."""
    return instant.astimezone(NAIROBI).strftime("%Y-%m-%d %H:%M:%S")


def any_time(value: str | int | Decimal | None) -> datetime | None:
    """A result timestamp in either documented format; None when absent or unreadable
    (result times are informative, never the basis of a booking decision)."""
    if value is None:
        return None
    candidate = str(value).strip()
    for parse in (compact_time, dotted_time):
        try:
            return parse(candidate)
        except ValueError:
            continue
    return None


# --------------------------------------------------------------------------------------
# numbers and people
# --------------------------------------------------------------------------------------

_MSISDN = re.compile(r"^254(7\d{8}|1\d{8})$")


def is_msisdn(value: str) -> bool:
    """A Kenyan mobile number in Daraja's ``2547XXXXXXXX`` / ``2541XXXXXXXX`` form."""
    return bool(_MSISDN.match(value))


def msisdn_prefix(value: str | None) -> str | None:
    """The MSISDN at the start of ``"254708374149 - JOHN DOE"``; None if masked/absent."""
    if not value:
        return None
    head = value.split("-", 1)[0].strip()
    return head if is_msisdn(head) else None


def mask_msisdn(value: str | None) -> str:
    """Everything but the last three digits hidden: the only form a number may be logged."""
    if not value:
        return ""
    return "*" * max(len(value) - 3, 0) + value[-3:]


def pulled_status(line: wire.PulledPayment) -> ProviderStatus:
    """A statement line as a SUCCEEDED status; UNKNOWN when it cannot be read (an amount
    that is not whole shillings, a time without a zone): such a line names nothing."""
    try:
        amount = transaction_amount(line.amount, "amount")
        at = datetime.fromisoformat(line.trx_date)
    except (AmountError, ValueError) as exc:
        return ProviderStatus(Outcome.UNKNOWN, "unreadable_line", str(exc))
    if at.tzinfo is None:
        at = at.replace(tzinfo=NAIROBI)
    number = line.msisdn if line.msisdn and is_msisdn(line.msisdn) else None
    return ProviderStatus(
        Outcome.SUCCEEDED,
        "0",
        "on the statement",
        provider_reference=line.transaction_id,
        amount=amount,
        msisdn=number,
        completed_at=at.astimezone(UTC),
        account_reference=(line.bill_reference or "").strip()[:64] or None,
    )


__all__ = [
    "ERROR_MESSAGES",
    "SYNC_ERRORS",
    "ErrorKind",
    "ErrorVerdict",
    "classify_error",
    "B2C_RESULTS",
    "C2B_ACCEPT",
    "C2B_INVALID_ACCOUNT",
    "C2B_INVALID_AMOUNT",
    "C2B_INVALID_KYC",
    "C2B_INVALID_MSISDN",
    "C2B_INVALID_SHORTCODE",
    "C2B_OTHER_ERROR",
    "C2B_VALIDATION_RESULTS",
    "CURRENCY",
    "GENERIC_RESULTS",
    "MAX_INBOUND_SHILLINGS",
    "MAX_SHILLINGS",
    "MIN_SHILLINGS",
    "NAIROBI",
    "ONLINE_CHECKOUT_REASONS",
    "QUERY_CREDENTIAL_FAILURES",
    "R",
    "REVERSAL_RESULTS",
    "STK_RESULTS",
    "TRANSACTION_STATUSES",
    "AmountError",
    "Meaning",
    "any_time",
    "balance_amount",
    "compact_time",
    "dotted_time",
    "fee_from_charges",
    "is_msisdn",
    "is_online_checkout",
    "mask_msisdn",
    "msisdn_prefix",
    "nairobi_timestamp",
    "pull_time",
    "pulled_status",
    "status_from",
    "to_shillings",
    "transaction_amount",
]
