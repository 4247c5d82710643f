"""Errors as JSON: ``{"error": {"code", "message"}}`` with a stable machine code and a
sentence a person understands. The one place that maps QMOI's errors to HTTP."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.responses import JSONResponse

from qmoi.api.schemas import ErrorOut
from qmoi.domain.errors import (
    CurrencyMismatch,
    DuplicateReference,
    InsufficientFunds,
    InvalidAmount,
    UnknownStream,
)
from qmoi.errors import QmoiError, SchemaOutOfDate, StoreError
from qmoi.providers.base import (
    AuthenticationFailed,
    NotSent,
    OutcomeUnknown,
    ProviderError,
    Rejected,
)

STATUS: list[tuple[type[Exception], int]] = [
    (InvalidAmount, 422),
    (CurrencyMismatch, 422),
    (UnknownStream, 422),
    (InsufficientFunds, 409),
    (DuplicateReference, 409),
    (NotSent, 503),
    (AuthenticationFailed, 502),
    (Rejected, 502),
    (OutcomeUnknown, 504),
    (ProviderError, 502),
    (SchemaOutOfDate, 503),
    (StoreError, 503),
]


#: what each error status means, for the OpenAPI spec (the codes are the stable ones)
MEANING: dict[int, str] = {
    401: "no API key, or not a valid one: `unauthorized`",
    403: "this key's role may not do this: `forbidden`",
    404: "not a provider QMOI collects on: `unknown_provider`, or a provider this QMOI "
    "has disabled: `provider_not_enabled`",
    409: "refused as things stand: `insufficient_funds`, `idempotency_conflict`, "
    "`idempotency_in_progress`",
    413: "the request body is over 1 MiB: `payload_too_large`",
    422: "the request is malformed or its values are not acceptable: `invalid_request`, "
    "`invalid_amount`, `unknown_stream`, `invalid_msisdn`, `invalid_cursor`, "
    "`invalid_idempotency_key`, …",
    429: "too many failed authentication attempts from this address: "
    "`too_many_attempts`; no key is checked until `Retry-After` seconds have passed",
    502: "the provider refused or failed the request",
    503: "the provider could not be reached (`provider_unavailable`) or the database is "
    "unavailable",
    504: "the provider was asked but did not answer; the outcome is not known yet",
}


#: headers an error status carries, for the OpenAPI spec
HEADERS: dict[int, dict[str, Any]] = {
    429: {
        "Retry-After": {
            "description": "whole seconds until this address may try a key again",
            "schema": {"type": "integer", "minimum": 1},
        }
    }
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each error status it may answer, in the error shape.
    A route that checks a key (401) may also refuse to check it (429)."""
    if 401 in statuses and 429 not in statuses:
        statuses = tuple(sorted((*statuses, 429)))
    return {
        status: {"model": ErrorOut, "description": MEANING[status]}
        | ({"headers": copy.deepcopy(HEADERS[status])} if status in HEADERS else {})
        for status in statuses
    }


class ApiError(Exception):
    """An answer the API gives on purpose."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = extra


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def respond(exc: Exception) -> JSONResponse:
    if isinstance(exc, ApiError):
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.extra),
            status_code=exc.status,
            headers=exc.headers,
        )
    if isinstance(exc, QmoiError):
        status = next((s for kind, s in STATUS if isinstance(exc, kind)), 400)
        code = "provider_unavailable" if isinstance(exc, NotSent) else exc.code
        return JSONResponse(error_body(code, exc.message), status_code=status)
    raise exc
