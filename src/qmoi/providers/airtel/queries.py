"""Airtel enquiries: what became of a collection or a disbursement, by our own id.

Enquiries are safe to repeat and are retried. They answer UNKNOWN too (``TA``, or "not
found", which becomes final only after the prompt window, §16.3); a failure of the
enquiry itself (5xx, gateway codes) is asked again, never read as an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from qmoi.providers.airtel import wire
from qmoi.providers.airtel.answers import read_any, status_of
from qmoi.providers.airtel.session import PROVIDER, AirtelSession
from qmoi.providers.airtel.translate import Product, Reading, Verdict
from qmoi.providers.base import (
    Outcome,
    OutcomeUnknown,
    ProviderError,
    ProviderStatus,
    Rejected,
)


class Queries:
    """Collection and disbursement enquiries (§5.2, §7) and the duplicate-id rule (§14)."""

    def __init__(self, session: AirtelSession) -> None:
        self._session = session

    async def collection_status(self, reference: str, provider_request_id: str) -> ProviderStatus:
        """Transaction enquiry (§5.2) by our id; retried; may answer UNKNOWN or PENDING."""
        txid = provider_request_id or reference
        path = wire.COLLECTION_ENQUIRY_PATH.format(id=quote(txid, safe=""))
        return await self._enquire("collection_status", Product.COLLECTION, path, None, txid)

    async def disbursement_status(
        self, reference: str, provider_request_id: str | None
    ) -> ProviderStatus:
        """Disbursement enquiry (§7) by our id; retried; may answer UNKNOWN or PENDING."""
        version = self._session.version
        txid = provider_request_id or reference
        path = wire.DISBURSEMENT_ENQUIRY_PATHS[version].format(id=quote(txid, safe=""))
        params = wire.DISBURSEMENT_ENQUIRY_V2_PARAMS if version == 2 else None
        return await self._enquire("disbursement_status", Product.DISBURSEMENT, path, params, txid)

    async def resolve_duplicate(
        self, operation: str, txid: str, reading: Reading, *, collection: bool
    ) -> ProviderStatus:
        """§14: Airtel already has this id — its enquiry tells what became of it."""
        self._session.log.info(
            "airtel.duplicate", operation=operation, reference=txid, code=reading.code
        )
        try:
            if collection:
                status = await self.collection_status(txid, txid)
            else:
                status = await self.disbursement_status(txid, txid)
        except ProviderError as exc:
            raise OutcomeUnknown(
                PROVIDER, operation,
                f"duplicate id and the enquiry failed ({exc.detail}); enquire later",
                provider_code=reading.code, reference=txid,
            ) from exc  # fmt: skip
        if status.outcome is Outcome.UNKNOWN:
            said = f"{status.provider_code} ({wire.scrub(status.provider_message)})"
            raise OutcomeUnknown(
                PROVIDER, operation, f"duplicate id; enquiry says {said}",
                provider_code=reading.code, reference=txid,
            )  # fmt: skip
        return status

    async def _enquire(
        self,
        operation: str,
        product: Product,
        path: str,
        params: Mapping[str, str] | None,
        txid: str,
    ) -> ProviderStatus:
        session = self._session

        async def once() -> ProviderStatus:
            answer = await session.exchange(
                operation, "GET", path, write=False, params=params, reference=txid
            )
            reading = read_any(product, answer, enquiry=True)
            if reading.verdict is Verdict.RETRY or (
                reading.verdict is Verdict.UNKNOWN and reading.code.startswith(("HTTP", "ESB"))
            ):
                # a failure of the enquiry itself, not an answer about the money: ask again
                raise OutcomeUnknown(
                    PROVIDER,
                    operation,
                    wire.scrub(reading.message),
                    provider_code=reading.code,
                    reference=txid,
                )
            if reading.verdict is Verdict.REJECTED:
                raise Rejected(
                    PROVIDER,
                    operation,
                    wire.scrub(reading.message),
                    provider_code=reading.code,
                    reference=txid,
                )
            session.log.info(
                "airtel.enquiry", operation=operation, reference=txid, code=reading.code,
                outcome=reading.outcome.value, reason=reading.reason,
            )  # fmt: skip
            return status_of(reading)

        return await session.retrying(once)
