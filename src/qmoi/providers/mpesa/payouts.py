"""M-Pesa payouts: B2C v3 under our own ``OriginatorConversationID`` (§9).

Sent once: the reference is Daraja's idempotency key, so a payout whose fate is unknown
is resolved by Transaction Status by that id, never sent again under a new one.
"""

from __future__ import annotations

from qmoi.providers.base import DisburseRequest, Outcome, ProviderStatus, Submission
from qmoi.providers.mpesa import routes, translate, wire
from qmoi.providers.mpesa.initiator import read_ack
from qmoi.providers.mpesa.session import MpesaSession, logger
from qmoi.providers.mpesa.translate import mask_msisdn


class Payouts:
    """B2C payments from ``b2c_shortcode`` (default: the shortcode)."""

    def __init__(self, session: MpesaSession, b2c_shortcode: str | None) -> None:
        self._session = session
        self.shortcode = b2c_shortcode

    async def disburse(self, request: DisburseRequest) -> Submission:
        """B2C v3 payment with ``OriginatorConversationID = request.reference``. Sent once;
        a duplicate answer (the id was seen before) is :class:`OutcomeUnknown`."""
        session = self._session
        operation = "b2c"
        shillings = translate.to_shillings(request.amount)
        msisdn = session.msisdn(request.msisdn, operation, request.reference)
        party_a = session.require(self.shortcode, "MPESA_SHORTCODE", "give the B2C shortcode")
        name, credential = session.initiator()
        remarks = request.remarks.strip()[:100]
        payload = wire.b2c_payload(
            originator_conversation_id=request.reference,
            initiator_name=name,
            security_credential=credential,
            amount=shillings,
            party_a=party_a,
            msisdn=msisdn,
            remarks=remarks if len(remarks) >= 2 else "QMOI payout",
            result_url=session.callback_url(routes.B2C_RESULT_PATH),
            timeout_url=session.callback_url(routes.B2C_TIMEOUT_PATH),
        )
        logger.debug(
            "b2c", reference=request.reference, msisdn=mask_msisdn(msisdn), amount=shillings
        )
        data = await session.call(
            operation, wire.B2C_PATH, payload, money_moving=True, reference=request.reference
        )
        ack = read_ack(operation, data, request.reference)
        if ack.originator_conversation_id not in (None, request.reference):
            logger.warning(
                "b2c acknowledged under another OriginatorConversationID",
                reference=request.reference, echoed=ack.originator_conversation_id,
            )  # fmt: skip
        logger.info(
            "b2c accepted", reference=request.reference, conversation_id=ack.conversation_id
        )
        status = ProviderStatus(Outcome.PENDING, ack.response_code, ack.response_description)
        return Submission(status, ack.conversation_id or request.reference)
