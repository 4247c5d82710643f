"""M-Pesa collections: the STK push that prompts a customer to pay, and its reversal.

Both move money, so each is sent once and never retried here. A push accepted is
PENDING — the customer has not paid yet; a reversal's answer comes by callback and is
UNKNOWN when none arrives in time (resolve by Transaction Status, never by resending).
Daraja moves whole shillings: cents are refused, never rounded.
"""

from __future__ import annotations

from typing import Any

from qmoi.domain.money import Money
from qmoi.providers.base import (
    CallbackKind,
    CallbackRejected,
    CollectRequest,
    Outcome,
    OutcomeUnknown,
    ProviderStatus,
    Rejected,
    Submission,
)
from qmoi.providers.mpesa import callbacks, routes, translate, wire
from qmoi.providers.mpesa.initiator import send_and_wait
from qmoi.providers.mpesa.session import PROVIDER, MpesaSession, logger
from qmoi.providers.mpesa.translate import mask_msisdn


class Collections:
    """STK push (§5) and Reversal (§11.2)."""

    def __init__(self, session: MpesaSession) -> None:
        self._session = session

    async def collect(self, request: CollectRequest) -> Submission:
        """STK push: prompt the customer's phone. Sent once; never retried here."""
        session = self._session
        settings = session.settings
        operation = "stk_push"
        shillings = translate.to_shillings(request.amount)
        msisdn = session.msisdn(request.msisdn, operation, request.reference)
        account_reference = request.account_reference.strip() or settings.account_reference
        if len(account_reference) > 12:
            raise Rejected(
                PROVIDER, operation, f"refused before sending: AccountReference "
                f"{account_reference!r} is longer than Daraja's 12 characters",
                reference=request.reference,
            )  # fmt: skip
        description = (request.description.strip() or settings.transaction_desc)[:13]
        shortcode, timestamp, password = session.stk_secrets()
        till = settings.shortcode_type == "till"
        payload = wire.stk_push_payload(
            shortcode=shortcode,
            password=password,
            timestamp=timestamp,
            transaction_type=wire.TRANSACTION_TYPE_TILL if till else wire.TRANSACTION_TYPE_PAYBILL,
            amount=shillings,
            msisdn=msisdn,
            party_b=(settings.till_number or shortcode) if till else shortcode,
            callback_url=session.callback_url(routes.STK_CALLBACK_PATH),
            account_reference=account_reference,
            transaction_desc=description,
        )
        logger.debug(
            "stk push", reference=request.reference, msisdn=mask_msisdn(msisdn),
            amount=shillings, till=till,
        )  # fmt: skip
        data = await session.call(
            operation, wire.STK_PUSH_PATH, payload, money_moving=True, reference=request.reference
        )
        try:
            ack = wire.read_stk_push_ack(data)
        except wire.WireError as exc:
            raise OutcomeUnknown(
                PROVIDER, operation, f"unreadable acknowledgement: {exc.message}",
                reference=request.reference,
            ) from None  # fmt: skip
        if ack.response_code != wire.ACCEPTED:
            raise Rejected(
                PROVIDER, operation, ack.response_description or "not accepted",
                provider_code=ack.response_code, reference=request.reference,
            )  # fmt: skip
        if ack.checkout_request_id is None:
            raise OutcomeUnknown(
                PROVIDER, operation, "accepted without a CheckoutRequestID",
                reference=request.reference,
            )  # fmt: skip
        logger.info(
            "stk push accepted", reference=request.reference,
            checkout_request_id=ack.checkout_request_id,
        )  # fmt: skip
        status = ProviderStatus(
            Outcome.PENDING, ack.response_code, ack.response_description or ack.customer_message
        )
        return Submission(status, ack.checkout_request_id)

    async def refund(self, provider_reference: str, amount: Money) -> ProviderStatus:
        """Reverse a transaction by its receipt (§11.2). Sent once; the answer comes by
        callback — UNKNOWN when none arrives in time (resolve by Transaction Status)."""
        session = self._session
        operation = "reversal"
        shillings = translate.to_shillings(amount)
        receipt = provider_reference.strip()
        if not receipt:
            raise Rejected(PROVIDER, operation, "refused before sending: no receipt to reverse")
        shortcode = session.shortcode()

        def build(name: str, credential: str, result_url: str, timeout_url: str) -> dict[str, Any]:
            return wire.reversal_payload(
                initiator_name=name,
                security_credential=credential,
                transaction_id=receipt,
                amount=shillings,
                receiver_party=shortcode,
                remarks="refund",
                result_url=result_url,
                timeout_url=timeout_url,
            )

        delivered = await send_and_wait(
            session, operation, wire.REVERSAL_PATH, build,
            (routes.REVERSAL_RESULT_PATH, routes.REVERSAL_TIMEOUT_PATH),
            safe=False, reference=receipt,
        )  # fmt: skip
        if delivered is None:
            return ProviderStatus(
                Outcome.UNKNOWN, "no_result",
                f"no reversal result within {session.result_timeout_s:g} s",
            )  # fmt: skip
        kind, data = delivered
        if kind is CallbackKind.DISBURSEMENT_TIMEOUT:
            return ProviderStatus(Outcome.UNKNOWN, "queue_timeout", "reversal timed out in queue")
        try:
            status = callbacks.parse_callback_data(CallbackKind.REVERSAL_RESULT, data).status
        except CallbackRejected as exc:
            return ProviderStatus(Outcome.UNKNOWN, "unreadable_result", exc.detail)
        logger.info(
            "reversal result", reference=receipt, outcome=status.outcome.value,
            provider_code=status.provider_code,
        )  # fmt: skip
        return status
