"""M-Pesa C2B: registering our validation and confirmation URLs (§8.1), and answering
a customer's payment before it happens under the configured stream rules (§8.2).

The decision itself is pure (:mod:`.decisions`); this module feeds it the settings.
A confirmation cannot be refused, so it is always answered with success.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from qmoi.providers.base import CallbackEvent, OutcomeUnknown, Rejected
from qmoi.providers.mpesa import routes, translate, wire
from qmoi.providers.mpesa.decisions import C2BDecision, decide_c2b_validation
from qmoi.providers.mpesa.session import PROVIDER, MpesaSession, logger

ResponseType = Literal["Completed", "Cancelled"]
Version = Literal["v1", "v2"]


@dataclass(frozen=True, slots=True)
class C2BRegistration:
    """Daraja's answer to a C2B URL registration."""

    response_code: str
    description: str
    conversation_id: str | None
    confirmation_url: str
    validation_url: str


class C2B:
    """URL registration and validation answers for customers paying unprompted."""

    def __init__(
        self,
        session: MpesaSession,
        *,
        register_version: Version,
        response_type: ResponseType,
        accept_unknown: bool,
        is_known: Callable[[str], bool] | None,
    ) -> None:
        self._session = session
        self._version = register_version
        self._response_type = response_type
        self._accept_unknown = accept_unknown
        self._is_known = is_known

    async def register_urls(
        self,
        *,
        response_type: ResponseType | None = None,
        version: Version | None = None,
        shortcode: str | None = None,
    ) -> C2BRegistration:
        """Register our C2B validation and confirmation URLs. Production allows this once
        (a second time → :class:`Rejected` "already registered", §8.1)."""
        session = self._session
        chosen = version or self._version
        confirmation = session.callback_url(routes.C2B_CONFIRMATION_PATH)
        validation = session.callback_url(routes.C2B_VALIDATION_PATH)
        payload = wire.c2b_register_payload(
            shortcode=shortcode or session.shortcode(),
            response_type=response_type or self._response_type,
            confirmation_url=confirmation,
            validation_url=validation,
        )
        data = await session.call(
            "c2b_register", wire.C2B_REGISTER_PATHS[chosen], payload, money_moving=False
        )
        try:
            ack = wire.read_register_ack(data)
        except wire.WireError as exc:
            raise OutcomeUnknown(PROVIDER, "c2b_register", exc.message) from None
        if ack.response_code != wire.ACCEPTED:
            raise Rejected(
                PROVIDER, "c2b_register", ack.response_description,
                provider_code=ack.response_code,
            )  # fmt: skip
        logger.info("c2b urls registered", version=chosen)
        return C2BRegistration(
            ack.response_code,
            ack.response_description,
            ack.originator_conversation_id,
            confirmation,
            validation,
        )

    def decide(self, event: CallbackEvent) -> C2BDecision:
        """Our validation answer under the configured stream rules (see
        :func:`.decisions.decide_c2b_validation`); the configured STK account reference
        is a known reference too."""
        settings = self._session.settings
        return decide_c2b_validation(
            event,
            rules=settings.c2b_rules,
            default_stream=settings.c2b_default_stream,
            shortcodes=self._session.shortcodes,
            known_references=(settings.account_reference,),
            is_known=self._is_known,
            accept_unknown=self._accept_unknown,
        )

    def validation_answer(self, event: CallbackEvent | None, accepted: bool) -> dict[str, Any]:
        """The answer to a C2B validation request; None (unparsable) is rejected."""
        if event is None:
            return {"ResultCode": translate.C2B_OTHER_ERROR, "ResultDesc": "Other Error"}
        decision = self.decide(event)
        if not accepted and decision.accepted:
            return {"ResultCode": translate.C2B_OTHER_ERROR, "ResultDesc": "Other Error"}
        return decision.answer()
