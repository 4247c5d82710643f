"""M-Pesa status enquiries: the STK query, Transaction Status and what they settle.

All are safe to repeat. The STK query answers by return and is retried with backoff;
Transaction Status answers by callback (:mod:`.initiator`) and is UNKNOWN when no result
arrives in time. A lookup by our own id that Daraja answers with "invalid request
parameters" is read as "not found" (unconfirmed; :data:`NOT_FOUND_ON_LOOKUP`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from qmoi.providers.base import (
    AuthenticationFailed,
    CallbackEvent,
    CallbackKind,
    FailureReason,
    Outcome,
    OutcomeUnknown,
    ProviderStatus,
)
from qmoi.providers.mpesa import results, routes, translate, wire
from qmoi.providers.mpesa.answers import QueryInProgress
from qmoi.providers.mpesa.initiator import send_and_wait
from qmoi.providers.mpesa.session import PROVIDER, MpesaSession, logger

#: result codes of a Transaction Status lookup by our own id that mean "no such
#: transaction" (unconfirmed: one setting to change if Daraja answers otherwise)
NOT_FOUND_ON_LOOKUP = frozenset({"25"})


class Queries:
    """STK query (§7), Transaction Status (§11.1) and callback confirmation (§13)."""

    def __init__(self, session: MpesaSession, b2c_shortcode: str | None) -> None:
        self._session = session
        self._b2c_shortcode = b2c_shortcode

    async def collection_status(self, reference: str, provider_request_id: str) -> ProviderStatus:
        """STK push query by CheckoutRequestID (retried with backoff). "Being processed"
        is PENDING; the query never returns a receipt or amount (§7)."""
        session = self._session
        checkout = (provider_request_id or "").strip()
        if not checkout:
            return ProviderStatus(
                Outcome.UNKNOWN, "no_checkout_request_id",
                "the push was never acknowledged, so there is no CheckoutRequestID to query; "
                "match the callback by number and amount or reconcile",
            )  # fmt: skip

        async def once() -> ProviderStatus:
            shortcode, timestamp, password = session.stk_secrets()
            payload = wire.stk_query_payload(
                shortcode=shortcode,
                password=password,
                timestamp=timestamp,
                checkout_request_id=checkout,
            )
            try:
                data = await session.call(
                    "stk_query", wire.STK_QUERY_PATH, payload, money_moving=False,
                    reference=reference,
                )  # fmt: skip
            except QueryInProgress as exc:
                return ProviderStatus(Outcome.PENDING, exc.provider_code or "", exc.detail)
            try:
                answer = wire.read_stk_query(data)
            except wire.WireError as exc:
                raise OutcomeUnknown(
                    PROVIDER, "stk_query", f"unreadable answer: {exc.message}", reference=reference
                ) from None
            if answer.response_code != wire.ACCEPTED:
                return ProviderStatus(
                    Outcome.UNKNOWN, answer.response_code, answer.response_description
                )
            if answer.result_code is None:
                return ProviderStatus(Outcome.PENDING, answer.response_code, "no verdict yet")
            return translate.status_from(
                translate.STK_RESULTS, answer.result_code, answer.result_desc
            )

        status = await session.retrying(once)
        logger.debug(
            "stk query", reference=reference, outcome=status.outcome.value,
            provider_code=status.provider_code,
        )  # fmt: skip
        return status

    async def disbursement_status(
        self, reference: str, provider_request_id: str | None
    ) -> ProviderStatus:
        """Transaction Status by ``OriginalConversationID`` = our transfer reference (§11.1,
        §13.8): how a B2C whose result never came is resolved.

        The document names no "no such transaction" answer; a lookup by our own id that
        Daraja answers with 25 (invalid request parameters) is read as "not found"
        (unconfirmed; ``NOT_FOUND_ON_LOOKUP``), so that a payout that never reached
        Daraja can be sent again under the same OriginatorConversationID — which Daraja's
        duplicate detection (code 15) guards if the reading is wrong."""
        status = await self.transaction_status(
            original_conversation_id=reference, party_a=self._b2c_shortcode
        )
        if status.outcome is Outcome.UNKNOWN and status.provider_code in NOT_FOUND_ON_LOOKUP:
            return replace(status, reason=FailureReason.NOT_FOUND)
        return status

    async def direct_payment_status(self, receipt: str) -> ProviderStatus:
        """What Daraja says of a payment a customer made to our shortcode unprompted
        (C2B), by its receipt: how a C2B confirmation — unsigned, so only a hint — is
        proven before anything is booked. SUCCEEDED carries Daraja's amount and time. A
        receipt Daraja does not know (result 25, read as "not found", unconfirmed) and
        the receipt of an STK payment (booked through its push, never again as C2B) are
        NOT_FOUND."""
        status, reason_type = await self._transaction_status(transaction_id=receipt)
        if status.outcome is Outcome.UNKNOWN and status.provider_code in NOT_FOUND_ON_LOOKUP:
            return replace(status, reason=FailureReason.NOT_FOUND)
        if status.outcome is Outcome.SUCCEEDED and translate.is_online_checkout(reason_type):
            return ProviderStatus(
                Outcome.UNKNOWN, status.provider_code,
                "the receipt is an STK payment, not a direct one", reason=FailureReason.NOT_FOUND,
            )  # fmt: skip
        return status

    async def transaction_status(
        self,
        *,
        transaction_id: str | None = None,
        original_conversation_id: str | None = None,
        party_a: str | None = None,
    ) -> ProviderStatus:
        """Transaction Status by receipt or by original OriginatorConversationID (exactly
        one). UNKNOWN when no result arrives in time or the query itself failed;
        :class:`AuthenticationFailed` when our operator credentials were refused."""
        status, _ = await self._transaction_status(
            transaction_id=transaction_id,
            original_conversation_id=original_conversation_id,
            party_a=party_a,
        )
        return status

    async def _transaction_status(
        self,
        *,
        transaction_id: str | None = None,
        original_conversation_id: str | None = None,
        party_a: str | None = None,
    ) -> tuple[ProviderStatus, object]:
        """:meth:`transaction_status`, and the result's ``ReasonType`` (None when none)."""
        if (transaction_id is None) == (original_conversation_id is None):
            raise ValueError("give exactly one of transaction_id and original_conversation_id")
        session = self._session
        reference = transaction_id or original_conversation_id
        shortcode = party_a or session.shortcode()

        def build(name: str, credential: str, result_url: str, timeout_url: str) -> dict[str, Any]:
            return wire.status_payload(
                initiator_name=name,
                security_credential=credential,
                party_a=shortcode,
                transaction_id=transaction_id,
                original_conversation_id=original_conversation_id,
                remarks="status",
                result_url=result_url,
                timeout_url=timeout_url,
            )

        delivered = await send_and_wait(
            session, "transaction_status", wire.STATUS_PATH, build,
            (routes.STATUS_RESULT_PATH, routes.STATUS_TIMEOUT_PATH),
            safe=True, reference=reference,
        )  # fmt: skip
        if delivered is None:
            return ProviderStatus(
                Outcome.UNKNOWN, "no_result",
                f"no Transaction Status result within {session.result_timeout_s:g} s",
            ), None  # fmt: skip
        kind, data = delivered
        if kind is CallbackKind.DISBURSEMENT_TIMEOUT:
            return ProviderStatus(Outcome.UNKNOWN, "queue_timeout", "status query timed out"), None
        try:
            result = wire.read_result(data)
            status = results.transaction_status_of(result)
        except (wire.WireError, translate.AmountError) as exc:
            return ProviderStatus(Outcome.UNKNOWN, "unreadable_result", str(exc)), None
        if status.reason is FailureReason.AUTHORIZATION and status.outcome is Outcome.UNKNOWN:
            raise AuthenticationFailed(
                PROVIDER, "transaction_status", status.provider_message,
                provider_code=status.provider_code, reference=reference,
            )  # fmt: skip
        logger.debug(
            "transaction status", reference=reference, outcome=status.outcome.value,
            provider_code=status.provider_code,
        )  # fmt: skip
        return status, result.parameters.get("ReasonType")

    async def confirm(self, event: CallbackEvent) -> ProviderStatus:
        """The confirming status query for a callback (``MPESA_CONFIRM_CALLBACKS``): STK
        query for an STK callback, Transaction Status (by receipt, or by our
        OriginatorConversationID for B2C) for the rest. Compare with
        :func:`callbacks.confirmation_mismatches`; a callback the query contradicts loses."""
        kind = event.kind
        if kind is CallbackKind.COLLECTION:
            return await self.collection_status(event.reference, event.reference)
        if kind in (CallbackKind.C2B_CONFIRMATION, CallbackKind.C2B_VALIDATION):
            return await self.transaction_status(transaction_id=event.reference)
        if kind in (CallbackKind.DISBURSEMENT, CallbackKind.DISBURSEMENT_TIMEOUT):
            return await self.disbursement_status(event.reference, None)
        if kind is CallbackKind.REVERSAL_RESULT and event.status.provider_reference:
            return await self.transaction_status(transaction_id=event.status.provider_reference)
        raise ValueError(f"a {kind.value} callback is itself a query answer; nothing to confirm")
