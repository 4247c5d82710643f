"""Daraja's synchronous error answers (§5, §7, §8.1, §12.4): what a non-success HTTP
answer tells the connector to do — refresh the token, give up, or treat the request as
possibly processed. One ``errorCode`` covers unrelated errors, so the message decides
where it must; anything unrecognised may hide a processed request and is UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from qmoi.providers.base import FailureReason

R = FailureReason


class ErrorKind(StrEnum):
    """What a synchronous error answer tells the connector to do."""

    TOKEN = "token"  # noqa: S105 - a kind name; the bearer token is invalid: refresh once, resend once
    AUTHENTICATION = "authentication"  # our credentials or password were refused
    REJECTED = "rejected"  # the request itself was refused: final, nothing moved
    THROTTLED = "throttled"  # refused at the gateway (spike arrest, quota): nothing moved
    DUPLICATE = "duplicate"  # an id we sent was seen before: the first may have worked
    IN_PROGRESS = "in_progress"  # STK query: the customer has not finished
    UNKNOWN = "unknown"  # the request may have been processed


SYNC_ERRORS: Mapping[str, ErrorKind] = {
    "400.002.02": ErrorKind.REJECTED,  # Bad Request – Invalid <field>
    "400.002.05": ErrorKind.REJECTED,  # invalid request payload
    "400.003.01": ErrorKind.TOKEN,  # invalid access token (C2B, status pages)
    "400.003.02": ErrorKind.REJECTED,  # bad request
    "400.008.01": ErrorKind.AUTHENTICATION,  # OAuth: not Basic
    "400.008.02": ErrorKind.AUTHENTICATION,  # OAuth: wrong grant type
    "401.002.01": ErrorKind.TOKEN,  # invalid access token (balance page)
    "404.001.01": ErrorKind.REJECTED,  # resource not found
    "404.001.03": ErrorKind.TOKEN,  # invalid access token (STK, reversal pages)
    "404.001.04": ErrorKind.TOKEN,  # invalid authentication header: treat as token (§2)
    "404.002.01": ErrorKind.REJECTED,
    "404.003.01": ErrorKind.REJECTED,
    "405.001": ErrorKind.REJECTED,  # method not allowed
    "500.001.1001": ErrorKind.UNKNOWN,  # business errors: decided by message, below
    "500.002.1001": ErrorKind.DUPLICATE,  # duplicate OriginatorConversationID
    "500.003.02": ErrorKind.THROTTLED,  # spike arrest / system busy
    "500.003.03": ErrorKind.THROTTLED,  # quota violation
    "500.003.1001": ErrorKind.UNKNOWN,  # internal server error (or, by message, below)
}

#: One ``errorCode`` covers unrelated errors; branch on the message (§5, §7, §8.1).
#: Matched as lower-case substrings, first match wins.
ERROR_MESSAGES: tuple[tuple[str, ErrorKind, FailureReason | None], ...] = (
    ("being processed", ErrorKind.IN_PROGRESS, None),
    ("merchant does not exist", ErrorKind.REJECTED, R.AUTHORIZATION),
    ("wrong credentials", ErrorKind.AUTHENTICATION, R.AUTHORIZATION),
    ("unable to lock subscriber", ErrorKind.REJECTED, R.OTHER),
    ("already registered", ErrorKind.REJECTED, R.DUPLICATE),
    ("duplicate notification info", ErrorKind.REJECTED, R.DUPLICATE),
    ("duplicate originatorconversationid", ErrorKind.DUPLICATE, R.DUPLICATE),
    ("invalid access token", ErrorKind.TOKEN, None),
    ("spike arrest", ErrorKind.THROTTLED, None),
    ("quota violation", ErrorKind.THROTTLED, None),
    ("system is busy", ErrorKind.THROTTLED, None),
)


@dataclass(frozen=True, slots=True)
class ErrorVerdict:
    kind: ErrorKind
    reason: FailureReason | None = None


def classify_error(http_status: int, error_code: str | None, message: str) -> ErrorVerdict:
    """What a non-success answer means. ``error_code`` is None when the body was not an
    error envelope (a bare 5xx from a proxy, a 401 with an HTML page…)."""
    lowered = message.lower()
    if error_code in (None, "500.001.1001", "500.003.1001", "unreadable"):
        for fragment, kind, reason in ERROR_MESSAGES:
            if fragment in lowered:
                return ErrorVerdict(kind, reason)
    if error_code is not None and error_code in SYNC_ERRORS:
        return ErrorVerdict(SYNC_ERRORS[error_code], _reason_for(SYNC_ERRORS[error_code]))
    if http_status in (401, 403):
        return ErrorVerdict(ErrorKind.TOKEN)
    if http_status == 429:
        return ErrorVerdict(ErrorKind.THROTTLED)
    if 400 <= http_status < 500:
        return ErrorVerdict(ErrorKind.REJECTED, R.INVALID_REQUEST)
    return ErrorVerdict(ErrorKind.UNKNOWN)  # 5xx, or a 2xx/3xx we cannot read


def _reason_for(kind: ErrorKind) -> FailureReason | None:
    return {
        ErrorKind.REJECTED: R.INVALID_REQUEST,
        ErrorKind.AUTHENTICATION: R.AUTHORIZATION,
        ErrorKind.DUPLICATE: R.DUPLICATE,
    }.get(kind)
