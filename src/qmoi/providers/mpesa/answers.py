"""Daraja's HTTP answers read, and a refusal turned into the error it amounts to.

The error classes say what we know about the money: a token or credential refusal is
:class:`AuthenticationFailed`, a refused request :class:`Rejected`, throttling at the
gateway :class:`NotSent`, and anything that may hide a processed request (including a
"duplicate") :class:`OutcomeUnknown`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from qmoi.providers.base import (
    AuthenticationFailed,
    NotSent,
    OutcomeUnknown,
    ProviderError,
    ProviderName,
    Rejected,
)
from qmoi.providers.mpesa import wire
from qmoi.providers.mpesa.translate import ErrorKind, ErrorVerdict

PROVIDER: ProviderName = "mpesa"


class QueryInProgress(OutcomeUnknown):
    """STK query: "The transaction is being processed" — the customer has not finished."""


@dataclass(frozen=True, slots=True)
class Answer:
    http_status: int
    data: dict[str, Any] | None
    error: wire.ErrorEnvelope | None

    @property
    def ok(self) -> bool:
        return self.http_status == 200 and self.data is not None and self.error is None


def read_answer(response: httpx.Response, limit: int = wire.MAX_BODY_BYTES) -> Answer:
    try:
        data: dict[str, Any] | None = wire.decode_json(response.content, limit=limit)
    except wire.WireError:
        data = None
    error = wire.read_error(data) if data is not None else None
    return Answer(response.status_code, data, error)


def error_of(
    operation: str,
    verdict: ErrorVerdict,
    answer: Answer,
    money_moving: bool,
    reference: str | None,
) -> ProviderError:
    code = answer.error.error_code if answer.error else None
    message = (answer.error.error_message if answer.error else "") or (
        f"HTTP {answer.http_status} without a readable Daraja answer"
    )
    kw: dict[str, Any] = {"provider_code": code, "reference": reference}
    kind = verdict.kind
    if kind is ErrorKind.TOKEN:
        return AuthenticationFailed(PROVIDER, operation, f"token refused twice: {message}", **kw)
    if kind is ErrorKind.AUTHENTICATION:
        return AuthenticationFailed(PROVIDER, operation, message, **kw)
    if kind is ErrorKind.REJECTED:
        return Rejected(PROVIDER, operation, message, **kw)
    if kind is ErrorKind.THROTTLED:
        return NotSent(PROVIDER, operation, f"throttled at the gateway: {message}", **kw)
    if kind is ErrorKind.IN_PROGRESS and not money_moving:
        return QueryInProgress(PROVIDER, operation, message, **kw)
    if kind is ErrorKind.DUPLICATE:
        return OutcomeUnknown(
            PROVIDER, operation, f"duplicate: an earlier request may have worked ({message})",
            **kw,
        )  # fmt: skip
    return OutcomeUnknown(PROVIDER, operation, message, **kw)
