"""Airtel Money's code tables: every documented code with its :class:`Verdict` and
:class:`~qmoi.providers.base.FailureReason`.

Follows ``docs/providers/airtel.md`` §10 (transaction statuses ``TS``/``TF``/``TA``/
``TIP``/``TE``), §11.1 (``ESB…`` result codes), §11.2 (collection ``DP008…``), §11.3
(disbursement ``DP009…``), §11.4 (balance, KYC, key codes), §11.5 (gateway ``ROUTER…``)
and §16 (what is ambiguous): an ambiguous code is never a failure. A message may refine
a catch-all code's reason, never its outcome.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from qmoi.providers.base import FailureReason, Outcome

R = FailureReason


class Verdict(StrEnum):
    """What one code says, before the operation it answers is taken into account."""

    SUCCEEDED = "succeeded"  # money moved
    FAILED = "failed"  # the transaction failed; nothing moved
    PENDING = "pending"  # accepted / in progress
    UNKNOWN = "unknown"  # ambiguous: enquire, never resend under a new id
    DUPLICATE = "duplicate"  # the id is already known to Airtel: enquire that id
    NOT_FOUND = "not_found"  # Airtel has no transaction with that id (yet)
    REJECTED = "rejected"  # our request itself was refused (malformed, configuration)
    CALL_OK = "call_ok"  # the call was processed; the verdict is elsewhere in the answer
    RETRY = "retry"  # a transient error of a read; ask again

    @property
    def outcome(self) -> Outcome:
        return _OUTCOMES[self]


_OUTCOMES = {
    Verdict.SUCCEEDED: Outcome.SUCCEEDED,
    Verdict.FAILED: Outcome.FAILED,
    Verdict.PENDING: Outcome.PENDING,
    Verdict.UNKNOWN: Outcome.UNKNOWN,
    Verdict.DUPLICATE: Outcome.UNKNOWN,
    # "not found" is final only after the prompt window (§16.3); the caller decides.
    Verdict.NOT_FOUND: Outcome.UNKNOWN,
    Verdict.REJECTED: Outcome.FAILED,
    Verdict.CALL_OK: Outcome.PENDING,
    Verdict.RETRY: Outcome.UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One row of a code table."""

    verdict: Verdict
    reason: FailureReason | None
    meaning: str
    generic: bool = False  # a catch-all code: the message may say more (see refine())

    @property
    def outcome(self) -> Outcome:
        return self.verdict.outcome


def _row(
    verdict: Verdict, reason: FailureReason | None, meaning: str, *, generic: bool = False
) -> CodeInfo:
    return CodeInfo(verdict, reason, meaning, generic)


V = Verdict

#: §10 — ``data.transaction.status`` of enquiries, ``status_code`` of callbacks.
TRANSACTION_STATUS: dict[str, CodeInfo] = {
    "TS": _row(V.SUCCEEDED, None, "Transaction Success"),
    "TF": _row(V.FAILED, R.OTHER, "Transaction Failed", generic=True),
    "TA": _row(V.UNKNOWN, None, "Transaction Ambiguous"),
    "TIP": _row(V.PENDING, None, "Transaction In Progress"),
    "TE": _row(V.FAILED, R.EXPIRED, "Transaction Expired"),
}

#: §11.1 — generic ``result_code``.
RESULT_CODES: dict[str, CodeInfo] = {
    "ESB000001": _row(V.UNKNOWN, None, "Something went wrong"),
    "ESB000004": _row(V.UNKNOWN, None, "Error while initiating the payment"),
    "ESB000008": _row(V.REJECTED, R.INVALID_REQUEST, "Field validation error"),
    "ESB000010": _row(V.CALL_OK, None, "Success / processed"),
    "ESB000011": _row(V.FAILED, R.OTHER, "Failed", generic=True),
    "ESB000014": _row(V.RETRY, None, "Error while fetching the transaction status"),
    "ESB000033": _row(V.FAILED, R.INVALID_NUMBER, "Invalid MSISDN length"),
    "ESB000034": _row(V.REJECTED, R.INVALID_REQUEST, "Invalid country name"),
    "ESB000035": _row(V.REJECTED, R.INVALID_REQUEST, "Invalid currency code"),
    "ESB000036": _row(V.FAILED, R.INVALID_NUMBER, "Invalid MSISDN length / must start with 0"),
    "ESB000039": _row(V.REJECTED, R.AUTHORIZATION, "Vendor not configured for the country"),
    "ESB000041": _row(V.DUPLICATE, R.DUPLICATE, "External transaction id already exists"),
    "ESB000045": _row(V.NOT_FOUND, R.NOT_FOUND, "No transaction found with that id"),
}

#: §11.2 — collections ``response_code``.
COLLECTION_CODES: dict[str, CodeInfo] = {
    "DP00800001000": _row(V.UNKNOWN, None, "Ambiguous, still processing"),
    "DP00800001001": _row(V.SUCCEEDED, None, "Success"),
    "DP00800001002": _row(V.FAILED, R.INVALID_PIN, "Incorrect PIN"),
    "DP00800001003": _row(V.FAILED, R.LIMIT_EXCEEDED, "Exceeds withdrawal/transaction limit"),
    "DP00800001004": _row(V.FAILED, R.INVALID_REQUEST, "Invalid amount (below minimum)"),
    "DP00800001005": _row(V.FAILED, R.TIMEOUT, "Transaction id invalid / user did not enter PIN"),
    "DP00800001006": _row(V.PENDING, None, "In process"),
    "DP00800001007": _row(V.FAILED, R.INSUFFICIENT_FUNDS, "Not enough balance"),
    "DP00800001008": _row(V.FAILED, R.CANCELLED, "Refused", generic=True),
    "DP00800001009": _row(V.FAILED, R.OTHER, "Do not honour", generic=True),
    "DP00800001010": _row(
        V.FAILED, R.ACCOUNT_BLOCKED, "Transaction not permitted to payee (barred/unregistered)"
    ),
    "DP00800001024": _row(V.FAILED, R.TIMEOUT, "Transaction timed out"),
    "DP00800001025": _row(V.NOT_FOUND, R.NOT_FOUND, "Transaction not found"),
    "DP00800001026": _row(V.REJECTED, R.INVALID_REQUEST, "Forbidden: x-signature mismatch"),
    "DP00800001029": _row(V.FAILED, R.EXPIRED, "Transaction expired"),
}

#: §11.3 — disbursements ``response_code``.
DISBURSEMENT_CODES: dict[str, CodeInfo] = {
    "DP00900001000": _row(V.UNKNOWN, None, "Ambiguous"),
    "DP00900001001": _row(V.SUCCEEDED, None, "Success"),
    "DP00900001003": _row(V.FAILED, R.LIMIT_EXCEEDED, "Maximum transaction limit reached"),
    "DP00900001004": _row(V.FAILED, R.INVALID_REQUEST, "Invalid amount"),
    "DP00900001005": _row(V.FAILED, R.OTHER, "Failed", generic=True),
    "DP00900001006": _row(V.PENDING, None, "In process"),
    "DP00900001007": _row(V.FAILED, R.INSUFFICIENT_FUNDS, "Insufficient funds"),
    "DP00900001009": _row(V.FAILED, R.INVALID_NUMBER, "Invalid initiatee"),
    "DP00900001010": _row(V.REJECTED, R.AUTHORIZATION, "Payer not an allowed user"),
    "DP00900001011": _row(V.DUPLICATE, R.DUPLICATE, "Similar transaction already exists"),
    "DP00900001012": _row(V.FAILED, R.INVALID_NUMBER, "Invalid mobile number"),
    "DP00900001013": _row(V.FAILED, R.OTHER, "Refused", generic=True),
    "DP00900001014": _row(V.UNKNOWN, None, "Timed out: may or may not be processed"),
    "DP00900001015": _row(V.NOT_FOUND, R.NOT_FOUND, "Transaction not found"),
    "DP00900001016": _row(V.REJECTED, R.INVALID_REQUEST, "Forbidden: x-signature mismatch"),
    "DP00900001017": _row(V.DUPLICATE, R.DUPLICATE, "Duplicate transaction id"),
}

#: §11.4 — balance, KYC and encryption-key codes.
ACCOUNT_CODES: dict[str, CodeInfo] = {
    "DP02100000000": _row(V.FAILED, R.OTHER, "Balance enquiry failed", generic=True),
    "DP02100000001": _row(V.CALL_OK, None, "Balance enquiry success"),
    "DP02100000002": _row(V.REJECTED, R.AUTHORIZATION, "Balance: user not found"),
    "DP02200000000": _row(V.FAILED, R.OTHER, "User enquiry failed", generic=True),
    "DP02200000001": _row(V.CALL_OK, None, "User enquiry success"),
    "DP02010001000": _row(V.RETRY, None, "Could not fetch encryption key"),
    "DP02010001001": _row(V.CALL_OK, None, "Encryption key fetched"),
}

#: §11.5 — gateway ``status_code`` (flat shape).
ROUTER_CODES: dict[str, CodeInfo] = {
    "ROUTER001": _row(V.REJECTED, R.AUTHORIZATION, "Wallet not configured"),
    "ROUTER003": _row(V.REJECTED, R.INVALID_REQUEST, "Missing header or body parameters"),
    "ROUTER005": _row(V.REJECTED, R.AUTHORIZATION, "Country route not configured"),
    "ROUTER006": _row(V.REJECTED, R.INVALID_REQUEST, "Invalid country"),
    "ROUTER007": _row(V.REJECTED, R.AUTHORIZATION, "User not authorised for country"),
    "ROUTER110": _row(V.REJECTED, R.AUTHORIZATION, "Partner not found (X-Country)"),
    "ROUTER112": _row(V.REJECTED, R.INVALID_REQUEST, "Invalid currency"),
    "ROUTER114": _row(V.REJECTED, R.AUTHORIZATION, "Error validating PIN"),
    "ROUTER115": _row(V.FAILED, R.INVALID_PIN, "Incorrect PIN"),
    "ROUTER116": _row(V.FAILED, R.INVALID_PIN, "Incorrect encrypted PIN"),
    "ROUTER117": _row(V.UNKNOWN, None, "Request timeout: do an enquiry"),
    "ROUTER119": _row(V.REJECTED, R.INVALID_REQUEST, "Invalid or missing currency"),
}

#: §11.6 — HTTP statuses that decide on their own (others: read the body).
HTTP_STATUS: dict[int, CodeInfo] = {
    400: _row(V.REJECTED, R.INVALID_REQUEST, "Bad request"),
    401: _row(V.REJECTED, R.AUTHORIZATION, "Unauthorised"),
    403: _row(V.REJECTED, R.AUTHORIZATION, "Forbidden"),
    404: _row(V.REJECTED, R.INVALID_REQUEST, "Wrong path"),
    405: _row(V.REJECTED, R.INVALID_REQUEST, "Method not allowed"),
    408: _row(V.UNKNOWN, None, "Read timeout: enquire"),
    429: _row(V.UNKNOWN, None, "Too many requests"),
    500: _row(V.UNKNOWN, None, "Internal error"),
    503: _row(V.UNKNOWN, None, "Maintenance"),
}


def http_info(status: int) -> CodeInfo | None:
    """The verdict an HTTP status carries by itself: 408, 429 and every 5xx are unknown
    (§3 rule 5, §16); a 4xx decides only when the body has no Airtel codes."""
    if status >= 500:
        return HTTP_STATUS.get(status) or _row(V.UNKNOWN, None, f"HTTP {status}")
    return HTTP_STATUS.get(status)


class Product(StrEnum):
    COLLECTION = "collection"
    DISBURSEMENT = "disbursement"
    REFUND = "refund"
    ACCOUNT = "account"  # balance, KYC, keys


_PRODUCT_TABLES: dict[Product, tuple[dict[str, CodeInfo], ...]] = {
    Product.COLLECTION: (COLLECTION_CODES, DISBURSEMENT_CODES, ACCOUNT_CODES),
    Product.REFUND: (COLLECTION_CODES, DISBURSEMENT_CODES, ACCOUNT_CODES),
    Product.DISBURSEMENT: (DISBURSEMENT_CODES, COLLECTION_CODES, ACCOUNT_CODES),
    Product.ACCOUNT: (ACCOUNT_CODES, COLLECTION_CODES, DISBURSEMENT_CODES),
}


def lookup(product: Product, code: str | None) -> CodeInfo | None:
    """A ``DP…``, ``ESB…`` or ``ROUTER…`` code, the product's own table first."""
    if not code:
        return None
    code = code.strip()
    for table in _PRODUCT_TABLES[product]:
        if code in table:
            return table[code]
    return RESULT_CODES.get(code) or ROUTER_CODES.get(code)


# --------------------------------------------------------------------------------------
# messages: they refine a catch-all code's reason, never an outcome
# --------------------------------------------------------------------------------------

_MESSAGE_REASONS: tuple[tuple[re.Pattern[str], FailureReason], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason)
    for pattern, reason in (
        (r"timed? ?out|no response|did not (enter|respond|answer)", R.TIMEOUT),
        (r"\bpin\b", R.INVALID_PIN),
        (r"insufficient|not enough (balance|funds)|low balance", R.INSUFFICIENT_FUNDS),
        (r"msisdn|mobile number|invalid number|phone number|initiatee|not registered",
         R.INVALID_NUMBER),
        (r"barred|blocked|suspended|locked|churned", R.ACCOUNT_BLOCKED),
        (r"limit", R.LIMIT_EXCEEDED),
        (r"cancel|declin|rejected by (the )?(user|customer|subscriber)", R.CANCELLED),
        (r"expired", R.EXPIRED),
        (r"country|currency|validation|missing|malformed|invalid amount", R.INVALID_REQUEST),
    )
)  # fmt: skip


def reason_from_message(message: str | None) -> FailureReason | None:
    """A failure reason read from Airtel's free text (used for catch-all codes only)."""
    if not message:
        return None
    for pattern, reason in _MESSAGE_REASONS:
        if pattern.search(message):
            return reason
    return None


def refine(info: CodeInfo, message: str | None) -> CodeInfo:
    """Let the message of a catch-all failure code name the reason (§11.2 "log the
    message"; §7: DP00900001013 covers wrong PIN, bad MSISDN and header errors alike).
    A request-level reason (country, currency, validation) makes it a rejection."""
    if not info.generic or info.verdict is not V.FAILED:
        return info
    reason = reason_from_message(message)
    if reason is None:
        return info
    if reason is R.INVALID_REQUEST:
        return replace(info, verdict=V.REJECTED, reason=reason, generic=False)
    return replace(info, reason=reason, generic=False)
