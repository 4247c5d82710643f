"""Reading Airtel's HTTP answers into readings, statuses and errors.

One place decides what an answer means for the money, whatever its shape (envelope,
router error, OAuth error, bare HTTP status): the job modules only choose which reading
they need. Messages are scrubbed because Airtel's may name the payee's number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from qmoi.providers.airtel import wire
from qmoi.providers.airtel.auth import Token
from qmoi.providers.airtel.translate import (
    Product,
    Reading,
    Verdict,
    http_info,
    read_account_answer,
    read_enquiry,
    read_router,
    read_write_answer,
)
from qmoi.providers.base import (
    AuthenticationFailed,
    OutcomeUnknown,
    ProviderError,
    ProviderName,
    ProviderStatus,
    Rejected,
)

PROVIDER: ProviderName = "airtel"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer: status and the JSON body (None when it was not JSON)."""

    http_status: int
    body: Any
    elapsed_ms: int


def http_answer(response: httpx.Response) -> Answer:
    return Answer(response.status_code, _json(response), _ms(response))


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return wire.loads(response.content)
    except (ValueError, RecursionError):
        return None


def _ms(response: httpx.Response) -> int:
    try:
        return int(response.elapsed.total_seconds() * 1000)
    except RuntimeError:
        return 0


def model_or_none(model: type[M], body: Any) -> M | None:
    if not isinstance(body, dict):
        return None
    try:
        return model.model_validate(body)
    except ValidationError:
        return None


def read_data(model: type[M], data: Any, operation: str, envelope: wire.Envelope) -> M:
    """``data`` as ``model``; a :class:`ProviderError` when the answer lacks it."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError:
        raise ProviderError(
            PROVIDER, operation, "answer is missing expected data",
            provider_code=envelope.status.response_code,
        ) from None  # fmt: skip


def _body_code(body: Any) -> str | None:
    """The Airtel code an answer carries, whatever its shape (for messages only)."""
    if not isinstance(body, dict):
        return None
    status = body.get("status")
    if isinstance(status, dict):
        for key in ("response_code", "result_code"):
            value = status.get(key)
            if isinstance(value, str) and value:
                return value
    for key in ("status_code", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def read_any(product: Product, answer: Answer, *, enquiry: bool) -> Reading:
    """Turn an HTTP answer into a reading, whatever its shape (§3, §11.5, §11.6)."""
    status = answer.http_status
    info = http_info(status)
    body = answer.body
    if info is not None and info.verdict is Verdict.UNKNOWN:
        # 408/429/5xx decide by themselves (§3 rule 5); a code in the body only names it
        named = _body_code(body) or f"HTTP{status}"
        verdict = Verdict.RETRY if enquiry else Verdict.UNKNOWN
        return Reading(verdict, named, f"HTTP {status}: {info.meaning}")
    envelope = model_or_none(wire.Envelope, body)
    if envelope is not None:
        if enquiry:
            return read_enquiry(product, envelope)
        if product is Product.ACCOUNT:
            return read_account_answer(envelope)
        return read_write_answer(product, envelope)
    router = model_or_none(wire.RouterError, body)
    if router is not None:
        return read_router(router)
    error = model_or_none(wire.OAuthError, body)
    if error is not None:
        return Reading(
            Verdict.REJECTED, error.error, error.error_description or error.error,
            info.reason if info is not None else None,
        )  # fmt: skip
    if info is not None:  # a 4xx without any Airtel shape
        return Reading(Verdict.REJECTED, f"HTTP{status}", info.meaning, info.reason)
    return Reading(Verdict.UNKNOWN, f"HTTP{status}", "unreadable answer")


def read_write(
    log: Any, product: Product, answer: Answer, operation: str, reference: str
) -> Reading:
    """A money-moving call's answer as a reading, logged (codes, never the body)."""
    reading = read_any(product, answer, enquiry=False)
    log.info(
        "airtel.answer", operation=operation, reference=reference,
        http_status=answer.http_status, code=reading.code, verdict=reading.verdict.value,
        message=wire.scrub(reading.message),
    )  # fmt: skip
    return reading


def final_write_status(reading: Reading, operation: str, reference: str) -> ProviderStatus:
    """A write's definite answer as a status; everything else as an error."""
    verdict = reading.verdict
    if verdict in (Verdict.SUCCEEDED, Verdict.FAILED, Verdict.PENDING):
        return status_of(reading)
    # a refund of a collection Airtel does not know cannot have moved anything
    refund_of_nothing = verdict is Verdict.NOT_FOUND and operation == "refund"
    if verdict is Verdict.REJECTED or refund_of_nothing:
        raise Rejected(
            PROVIDER,
            operation,
            wire.scrub(reading.message),
            provider_code=reading.code,
            reference=reference,
        )
    if verdict is Verdict.NOT_FOUND:
        message = "Airtel answered 'not found' to our own request; enquire"
    elif operation == "refund":
        message = f"{wire.scrub(reading.message)}; reconcile the wallet before any new refund"
    else:
        message = f"{wire.scrub(reading.message)}; enquire by the same id, never resend"
    raise OutcomeUnknown(
        PROVIDER, operation, message, provider_code=reading.code, reference=reference
    )


def account_envelope(answer: Answer, operation: str) -> wire.Envelope:
    """The envelope of a successful balance / KYC / key answer, or the right error."""
    reading = read_any(Product.ACCOUNT, answer, enquiry=False)
    envelope = model_or_none(wire.Envelope, answer.body)
    if reading.verdict is Verdict.CALL_OK and envelope is not None:
        return envelope
    if reading.verdict in (Verdict.UNKNOWN, Verdict.RETRY):
        raise OutcomeUnknown(
            PROVIDER, operation, wire.scrub(reading.message), provider_code=reading.code
        )
    # REJECTED or FAILED: a read has no transaction to fail; Airtel refused the request
    raise Rejected(PROVIDER, operation, wire.scrub(reading.message), provider_code=reading.code)


def status_of(reading: Reading) -> ProviderStatus:
    return ProviderStatus(
        outcome=reading.outcome,
        provider_code=reading.code,
        provider_message=wire.scrub(reading.message),  # may name the payee's number
        reason=reading.reason,
        provider_reference=reading.provider_reference,
    )


def token_of(answer: Answer, operation: str) -> Token:
    """The token in a token answer, or the error it amounts to."""
    if answer.http_status == 200 and isinstance(answer.body, dict):
        try:
            token = wire.TokenAnswer.model_validate(answer.body)
        except ValidationError:
            token = None
        if token is not None and token.access_token:
            lifetime = float(token.expires_in) if token.expires_in else 0.0
            return Token(token.access_token, lifetime)
    info = http_info(answer.http_status)
    if info is not None and info.verdict is Verdict.UNKNOWN:
        raise OutcomeUnknown(
            PROVIDER, operation, info.meaning, provider_code=str(answer.http_status)
        )
    error = model_or_none(wire.OAuthError, answer.body)
    if error is not None or answer.http_status in (400, 401, 403):
        code = error.error if error is not None else str(answer.http_status)
        raise AuthenticationFailed(
            PROVIDER, operation,
            (error.error_description if error else None) or "credentials refused",
            provider_code=code,
        )  # fmt: skip
    raise OutcomeUnknown(
        PROVIDER, operation, "unreadable token answer",
        provider_code=str(answer.http_status),
    )  # fmt: skip
