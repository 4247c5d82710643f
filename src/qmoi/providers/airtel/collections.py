"""Airtel collections: the USSD push that asks a customer to pay, and its refund.

Both move money, so each is sent once: a definite answer comes back as a status, and
anything that may hide a processed request is :class:`OutcomeUnknown` — settled by
enquiry (push) or by reconciling the wallet (refund), never by resending.
"""

from __future__ import annotations

from qmoi.domain.money import Money
from qmoi.providers.airtel import checks, wire
from qmoi.providers.airtel.answers import final_write_status, read_write
from qmoi.providers.airtel.queries import Queries
from qmoi.providers.airtel.session import PROVIDER, AirtelSession
from qmoi.providers.airtel.translate import Product, Verdict
from qmoi.providers.base import (
    CollectRequest,
    OutcomeUnknown,
    ProviderStatus,
    Rejected,
    Submission,
)


class Collections:
    """USSD push (§5.1) and refund (§5.3)."""

    def __init__(self, session: AirtelSession, queries: Queries) -> None:
        self._session = session
        self._queries = queries

    async def collect(self, request: CollectRequest) -> Submission:
        """USSD push (§5.1). PENDING means the prompt was accepted — never that it is paid."""
        session = self._session
        operation = "collect"
        txid = checks.transaction_id(request.reference, operation)
        msisdn = checks.national(request.msisdn, session.country, operation, txid)
        amount = checks.wire_amount(request.amount, session.currency, operation, txid)
        body = wire.collection_body(
            reference=request.account_reference or request.description,
            msisdn=msisdn,
            amount=amount,
            country=session.country,
            currency=session.currency,
            transaction_id=txid,
        )
        session.log.info(
            "airtel.collect", reference=txid, msisdn=wire.mask_msisdn(msisdn),
            amount=str(request.amount), version=session.version,
        )  # fmt: skip
        answer = await session.write(
            operation,
            wire.COLLECTION_PATHS[session.version],
            body,
            sign=session.signs,
            reference=txid,
        )
        reading = read_write(session.log, Product.COLLECTION, answer, operation, txid)
        if reading.verdict is Verdict.DUPLICATE:
            status = await self._queries.resolve_duplicate(
                operation, txid, reading, collection=True
            )
        else:
            status = final_write_status(reading, operation, txid)
        return Submission(status=status, provider_request_id=txid)

    async def refund(self, provider_reference: str, amount: Money) -> ProviderStatus:
        """Full refund of a successful collection by its Airtel money id (§5.3).

        A refund has no id of ours, so no idempotency: it is never retried here, and an
        unknown outcome must be settled by reconciling the wallet, never by resending.
        """
        session = self._session
        operation = "refund"
        if not provider_reference or len(provider_reference) > 100:
            raise Rejected(PROVIDER, operation, "refused before sending: no Airtel money id")
        if amount.currency != session.currency or not amount.is_positive:
            raise Rejected(
                PROVIDER, operation,
                f"refused before sending: refund amount must be positive {session.currency}",
                reference=provider_reference,
            )  # fmt: skip
        session.log.info("airtel.refund", provider_reference=provider_reference, amount=str(amount))
        answer = await session.write(
            operation, wire.REFUND_PATH, wire.refund_body(provider_reference),
            sign=False, reference=provider_reference,
        )  # fmt: skip
        reading = read_write(session.log, Product.REFUND, answer, operation, provider_reference)
        if reading.verdict is Verdict.DUPLICATE:
            raise OutcomeUnknown(
                PROVIDER, operation,
                "Airtel says this refund already exists; reconcile the wallet, do not resend",
                provider_code=reading.code, reference=provider_reference,
            )  # fmt: skip
        return final_write_status(reading, operation, provider_reference)
