"""Errors as JSON: ``{"error": {"code", "message"}}`` with a stable machine code and a
sentence a person understands. The one place that maps QMOI's errors to HTTP."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

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


class ApiError(Exception):
    """An answer the API gives on purpose."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def respond(exc: Exception) -> JSONResponse:
    if isinstance(exc, ApiError):
        return JSONResponse(error_body(exc.code, exc.message, **exc.extra), status_code=exc.status)
    if isinstance(exc, QmoiError):
        status = next((s for kind, s in STATUS if isinstance(exc, kind)), 400)
        code = "provider_unavailable" if isinstance(exc, NotSent) else exc.code
        return JSONResponse(error_body(code, exc.message), status_code=status)
    raise exc
