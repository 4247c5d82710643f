"""Airtel disbursements: paying a wallet with the RSA-encrypted PIN (§7).

Sent once under our own id; a "duplicate id" answer is settled by enquiring that id
(§14). A wrong-PIN refusal also drops a fetched encryption key: a rotated Airtel key
reads as a wrong PIN.
"""

from __future__ import annotations

from qmoi.providers.airtel import checks, crypto, wire
from qmoi.providers.airtel.answers import final_write_status, read_write
from qmoi.providers.airtel.queries import Queries
from qmoi.providers.airtel.session import PROVIDER, AirtelSession
from qmoi.providers.airtel.translate import Product, Verdict
from qmoi.providers.base import DisburseRequest, FailureReason, Rejected, Submission


class Payouts:
    """v1/v2 disbursements; v2 adds signing where enabled."""

    def __init__(self, session: AirtelSession, queries: Queries) -> None:
        self._session = session
        self._queries = queries

    async def disburse(self, request: DisburseRequest) -> Submission:
        """Pay a wallet (§7) with the RSA-encrypted PIN; v2 adds signing where enabled."""
        session = self._session
        operation = "disburse"
        txid = checks.transaction_id(request.reference, operation)
        msisdn = checks.national(request.msisdn, session.country, operation, txid)
        amount = checks.wire_amount(request.amount, session.currency, operation, txid)
        pin = session.settings.pin
        if pin is None:
            raise Rejected(
                PROVIDER, operation,
                "refused before sending: AIRTEL_PIN is not set, so payouts cannot be made",
                reference=txid,
            )  # fmt: skip
        key = await session.keys.get(operation, txid)
        body = wire.disbursement_body(
            version=session.version,
            msisdn=msisdn,
            reference=request.remarks or txid,
            encrypted_pin=crypto.encrypt_pin(pin.get_secret_value(), key),
            amount=amount,
            currency=session.currency,
            transaction_id=txid,
        )
        session.log.info(
            "airtel.disburse", reference=txid, msisdn=wire.mask_msisdn(msisdn),
            amount=str(request.amount), version=session.version,
        )  # fmt: skip
        answer = await session.write(
            operation,
            wire.DISBURSEMENT_PATHS[session.version],
            body,
            sign=session.signs,
            reference=txid,
        )
        reading = read_write(session.log, Product.DISBURSEMENT, answer, operation, txid)
        if reading.verdict is Verdict.DUPLICATE:
            status = await self._queries.resolve_duplicate(
                operation, txid, reading, collection=False
            )
        else:
            if reading.reason is FailureReason.INVALID_PIN:
                session.keys.forget_fetched()  # a rotated Airtel key reads as a wrong PIN
            status = final_write_status(reading, operation, txid)
        return Submission(status=status, provider_request_id=txid)
