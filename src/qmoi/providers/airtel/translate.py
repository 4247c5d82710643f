"""What each Airtel Money answer means for the money: one answer, one :class:`Reading`.

The code tables live in :mod:`.codes` (re-exported here): every documented code with a
:class:`Verdict` (which fixes the neutral :class:`~qmoi.providers.base.Outcome`) and a
:class:`~qmoi.providers.base.FailureReason`; the provider's own code and message always
travel with the verdict (``docs/providers/airtel.md`` §3, §10–§11, §16).

Pure functions over :mod:`qmoi.providers.airtel.wire` models: no I/O, no logging.

What this module must never do: call an ambiguous answer (timeouts, ``TA``,
``ESB000001``, ``DP…1000``, ``DP00900001014``, ``ROUTER117``) a failure; call the answer
to a USSD push a payment (it only says the prompt was accepted, §5.1); or decide on
``status.success`` or the HTTP status alone (§3 rules 1–2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from qmoi.providers.airtel import wire
from qmoi.providers.airtel.codes import (
    ACCOUNT_CODES,
    COLLECTION_CODES,
    DISBURSEMENT_CODES,
    HTTP_STATUS,
    RESULT_CODES,
    ROUTER_CODES,
    TRANSACTION_STATUS,
    CodeInfo,
    Product,
    R,
    V,
    Verdict,
    http_info,
    lookup,
    reason_from_message,
    refine,
)
from qmoi.providers.base import FailureReason, Outcome

# --------------------------------------------------------------------------------------
# readings: one answer, one verdict
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """What an answer means, with the provider code that decided it and its message."""

    verdict: Verdict
    code: str
    message: str
    reason: FailureReason | None = None
    provider_reference: str | None = None  # airtel_money_id

    @property
    def outcome(self) -> Outcome:
        return self.verdict.outcome


def _reading(info: CodeInfo, code: str, message: str | None, ref: str | None = None) -> Reading:
    reason = (
        info.reason if info.verdict in (V.FAILED, V.REJECTED, V.NOT_FOUND, V.DUPLICATE) else None
    )
    return Reading(info.verdict, code, message or info.meaning, reason, ref)


def _code_reading(
    product: Product, code: str | None, message: str | None
) -> tuple[Reading, bool] | None:
    """The reading of one code and whether it is still a catch-all after refining."""
    if not code:
        return None
    info = lookup(product, code)
    if info is None:
        return None
    refined = refine(info, message)
    generic = refined.generic or refined.verdict is V.CALL_OK
    return _reading(refined, code.strip(), message), generic


def read_status_block(product: Product, status: wire.StatusBlock) -> Reading:
    """Combine ``response_code`` and ``result_code`` (§3 rule 2).

    In order: a duplicate in either code wins (enquire the id); then a transient error
    or an ambiguity in either (never call those a failure); then a specific
    ``response_code``; then a specific ``result_code`` (ESB000041, ESB000033… arrive
    next to catch-all DP codes); then whatever catch-all is there. No known code at
    all → unknown.
    """
    message = status.message
    by_response = _code_reading(product, status.response_code, message)
    by_result = _code_reading(product, status.result_code, message)
    present = [r for r in (by_response, by_result) if r is not None]
    for wanted in (V.DUPLICATE, V.RETRY, V.UNKNOWN):
        for reading, _ in present:
            if reading.verdict is wanted:
                return reading
    for reading, generic in present:
        if not generic:
            return reading
    if present:
        return present[0][0]
    code = status.response_code or status.result_code or status.code or "none"
    return Reading(V.UNKNOWN, code, message or "answer without a known Airtel code")


def read_router(error: wire.RouterError) -> Reading:
    info = ROUTER_CODES.get(error.status_code.strip())
    if info is None:
        return Reading(V.REJECTED, error.status_code, error.status_message or "gateway refusal",
                       R.OTHER)  # fmt: skip
    return _reading(info, error.status_code, error.status_message)


def read_transaction_status(
    status_code: str, message: str | None, airtel_money_id: str | None
) -> Reading | None:
    """§10 status of a callback or an enquiry; ``None`` for a value not in the table."""
    info = TRANSACTION_STATUS.get(status_code.strip().upper())
    if info is None:
        return None
    info = refine(info, message)
    if info.verdict is V.REJECTED:  # a failed transaction, whatever its message says
        info = replace(info, verdict=V.FAILED)
    ref = airtel_money_id if info.verdict in (V.SUCCEEDED, V.FAILED) else None
    return _reading(info, status_code.strip().upper(), message, ref)


def read_write_answer(product: Product, envelope: wire.Envelope) -> Reading:
    """The synchronous answer to a collection, disbursement or refund.

    Collections: any success only means the prompt was accepted → PENDING; a "timed out"
    to a push is ambiguous (§11.2) → UNKNOWN. Disbursements and refunds: a success code
    is a success unless ``data.transaction.status`` says otherwise.
    """
    reading = read_status_block(product, envelope.status)
    tx = envelope.transaction()
    tx_reading = None
    if tx is not None and tx.status:
        tx_reading = read_transaction_status(tx.status, tx.message, tx.airtel_money_id)
    ref = tx.airtel_money_id if tx is not None else None
    if (
        reading.verdict in (V.FAILED, V.REJECTED)
        and tx_reading is not None
        and tx_reading.verdict is not V.FAILED
    ):
        # failure codes next to TS/TA/TIP: a contradiction is never read as "nothing moved"
        return replace(reading, verdict=V.UNKNOWN, reason=None)
    if product is Product.COLLECTION:
        if reading.verdict in (V.SUCCEEDED, V.PENDING, V.CALL_OK):
            return replace(reading, verdict=V.PENDING, reason=None, provider_reference=None)
        if reading.verdict is V.FAILED and reading.reason is R.TIMEOUT:
            return replace(reading, verdict=V.UNKNOWN, reason=None)
        return reading
    if product is Product.REFUND and reading.verdict in (V.SUCCEEDED, V.PENDING, V.CALL_OK):
        # §5.3: the documented refund answer is "In process" with status SUCCESS; there is
        # no refund enquiry, so SUCCESS/TS is the refund's success, anything else pending
        tx_status = (tx.status or "").strip().rstrip(".").upper() if tx is not None else ""
        if tx_status in ("SUCCESS", "TS"):
            return replace(reading, verdict=V.SUCCEEDED, reason=None, provider_reference=ref)
        if tx_reading is not None and tx_reading.verdict is not V.SUCCEEDED:
            return tx_reading
        return replace(reading, verdict=V.PENDING, reason=None, provider_reference=ref)
    if reading.verdict in (V.SUCCEEDED, V.CALL_OK):
        if tx_reading is not None and tx_reading.verdict is not V.SUCCEEDED:
            return replace(tx_reading, provider_reference=tx_reading.provider_reference or ref)
        if reading.verdict is V.CALL_OK and (tx_reading is None):
            # processed, but nothing says it is done: accepted, the enquiry will tell
            return replace(reading, verdict=V.PENDING, provider_reference=ref)
        return replace(reading, verdict=V.SUCCEEDED, provider_reference=ref)
    if reading.verdict is V.PENDING:
        return replace(reading, provider_reference=ref)
    return reading


def read_enquiry(product: Product, envelope: wire.Envelope) -> Reading:
    """A transaction enquiry (§5.2, §7): the verdict is ``data.transaction.status``;
    without one, the codes say not-found, in-progress, a transient error (RETRY) or
    something we cannot read (UNKNOWN — never a failure, never a success)."""
    tx = envelope.transaction()
    if tx is not None and tx.status:
        tx_reading = read_transaction_status(tx.status, tx.message, tx.airtel_money_id)
        if tx_reading is not None:
            if tx_reading.verdict is V.FAILED and tx_reading.reason is R.OTHER:
                code_reading = read_status_block(product, envelope.status)
                if code_reading.verdict is V.FAILED and code_reading.reason is not None:
                    return replace(tx_reading, reason=code_reading.reason)
            return tx_reading
    reading = read_status_block(product, envelope.status)
    if reading.verdict is V.SUCCEEDED:
        # a successful *call* without a transaction status proves nothing about money
        return replace(reading, verdict=V.UNKNOWN)
    if reading.verdict is V.CALL_OK:
        return replace(reading, verdict=V.UNKNOWN)
    return reading


def read_account_answer(envelope: wire.Envelope) -> Reading:
    """Balance, KYC and key answers: CALL_OK or why not."""
    return read_status_block(Product.ACCOUNT, envelope.status)


__all__ = [
    "ACCOUNT_CODES",
    "COLLECTION_CODES",
    "DISBURSEMENT_CODES",
    "HTTP_STATUS",
    "RESULT_CODES",
    "ROUTER_CODES",
    "TRANSACTION_STATUS",
    "CodeInfo",
    "Product",
    "Reading",
    "Verdict",
    "http_info",
    "lookup",
    "read_account_answer",
    "read_enquiry",
    "read_router",
    "read_status_block",
    "read_transaction_status",
    "read_write_answer",
    "reason_from_message",
    "refine",
]
