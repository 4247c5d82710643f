"""The M-Pesa connector, :class:`MpesaConnector`: QMOI's :class:`PaymentProvider` over
Safaricom's Daraja API, as a facade over the job modules.

See ``docs/providers/mpesa.md`` (Daraja 3.0). Each job lives in its own module —
:mod:`.collections` (STK push, reversal), :mod:`.payouts` (B2C), :mod:`.queries` (STK
query, Transaction Status, confirmation), :mod:`.statement` (Pull Transactions),
:mod:`.account` (balance), :mod:`.c2b` (URL registration, validation answers) — over one
:class:`~.session.MpesaSession` (token, HTTP client, retries, configuration).

How it behaves:

* calls that are safe to repeat (token, STK query, Transaction Status, Account Balance)
  are retried with backoff; money-moving calls (STK push, B2C, reversal) are sent
  exactly once per call: a connection that never opened raises :class:`NotSent`, a
  timeout / 5xx / unreadable answer after sending raises :class:`OutcomeUnknown`, and
  the engine resolves by enquiry, never by resending under a new id;
* Account Balance, Transaction Status and Reversal answer by callback: the connector
  sends the request, then waits on the injected :class:`ResultWaiter` (see
  :mod:`.initiator`); when nothing comes in time the answer is UNKNOWN (status, refund)
  or :class:`OutcomeUnknown` (balance).

It must never log secrets — consumer key/secret, tokens, passkey, STK password,
initiator password, SecurityCredential — nor a full MSISDN (last three digits only), and
never round an amount: Daraja moves whole shillings, and cents are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

import httpx

from qmoi.config import MpesaSettings
from qmoi.domain.clock import Clock
from qmoi.domain.money import Money
from qmoi.providers.base import (
    Balance,
    CallbackEvent,
    CallbackKind,
    CallbackRejected,
    CollectRequest,
    DisburseRequest,
    ProviderName,
    ProviderStatus,
    ResultWaiter,
    Submission,
    Subscriber,
)
from qmoi.providers.http import DEFAULT_TIMEOUT
from qmoi.providers.mpesa import callbacks, translate
from qmoi.providers.mpesa.account import Account
from qmoi.providers.mpesa.c2b import C2B, C2BRegistration
from qmoi.providers.mpesa.capabilities import CAPABILITIES
from qmoi.providers.mpesa.collections import Collections
from qmoi.providers.mpesa.decisions import C2BDecision
from qmoi.providers.mpesa.payouts import Payouts
from qmoi.providers.mpesa.queries import Queries
from qmoi.providers.mpesa.session import (
    PRODUCTION_BASE_URL,
    PROVIDER,
    RESULT_TIMEOUT_S,
    STAGING_BASE_URL,
    MpesaSession,
    default_base_url,
    logger,
)
from qmoi.providers.mpesa.statement import Statement


class MpesaConnector:
    """Daraja connector implementing :class:`qmoi.providers.base.PaymentProvider`."""

    name: ProviderName = PROVIDER
    capabilities = CAPABILITIES
    currency = translate.CURRENCY

    def __init__(
        self,
        settings: MpesaSettings,
        *,
        callback_base_url: str,
        results: ResultWaiter,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Clock | None = None,
        result_timeout_s: float = RESULT_TIMEOUT_S,
        retry_attempts: int = 4,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 5.0,
        c2b_register_version: Literal["v1", "v2"] = "v1",
        c2b_response_type: Literal["Completed", "Cancelled"] = "Completed",
        c2b_accept_unknown: bool = False,
        c2b_is_known: Callable[[str], bool] | None = None,
        b2c_shortcode: str | None = None,
        balance_account: str | None = None,
    ) -> None:
        """``callback_base_url`` is where Daraja must POST our callbacks, the public URL
        plus the secret path token; the sub-paths of :data:`callbacks.CALLBACK_ROUTES` are
        appended to it. Daraja refuses callback URLs containing ``mpesa``, ``query``,
        ``exe``… (§13.5), so ``/api/mpesa/{token}`` fails in production and against
        the emulator — use a neutral prefix such as ``/hooks/{token}`` (a warning is
        logged in live environments). ``base_url`` overrides
        ``settings.base_url``, which overrides the environment's Daraja host; the sandbox
        environment requires one (the emulator's URL).

        Retries of safe calls back off from ``retry_initial_s`` up to ``retry_max_s``."""
        session = MpesaSession(
            settings,
            callback_base_url=callback_base_url,
            results=results,
            base_url=base_url,
            client=client,
            timeout=timeout,
            clock=clock,
            result_timeout_s=result_timeout_s,
            retry_attempts=retry_attempts,
            retry_initial_s=retry_initial_s,
            retry_max_s=retry_max_s,
        )
        self._session = session
        self.settings = settings
        self.base_url = session.base_url
        self._http = session.http
        self._results = results
        b2c = b2c_shortcode or settings.shortcode
        self._collections = Collections(session)
        self._payouts = Payouts(session, b2c)
        self._queries = Queries(session, b2c)
        self._statement = Statement(session)
        self._account = Account(session, balance_account)
        self._c2b = C2B(
            session,
            register_version=c2b_register_version,
            response_type=c2b_response_type,
            accept_unknown=c2b_accept_unknown,
            is_known=c2b_is_known,
        )

    # ------------------------------------------------------------------ session

    def callback_url(self, sub_path: str) -> str:
        """The absolute URL Daraja must call for one of the callback sub-paths."""
        return self._session.callback_url(sub_path)

    @property
    def shortcodes(self) -> frozenset[str]:
        """Our shortcodes (paybill/store and till) as C2B callbacks name them."""
        return self._session.shortcodes

    async def access_token(self) -> str:
        """A valid bearer token; at most one refresh runs at a time."""
        return await self._session.access_token()

    async def fresh_token_lifetime(self) -> float:
        """Fetch a fresh token, bypassing the cache, and say how long it lives (s)."""
        _, lifetime = await self._session.retrying(self._session.fetch_token)
        return float(lifetime)

    async def ping(self) -> None:
        await self._account.ping()

    async def aclose(self) -> None:
        await self._session.aclose()

    # ------------------------------------------------------------------ jobs

    async def collect(self, request: CollectRequest) -> Submission:
        """STK push: prompt the customer's phone. Sent once; never retried here."""
        return await self._collections.collect(request)

    async def refund(self, provider_reference: str, amount: Money) -> ProviderStatus:
        """Reverse a transaction by its receipt (§11.2); UNKNOWN when no result comes."""
        return await self._collections.refund(provider_reference, amount)

    async def disburse(self, request: DisburseRequest) -> Submission:
        """B2C v3 payment with ``OriginatorConversationID = request.reference``."""
        return await self._payouts.disburse(request)

    async def collection_status(self, reference: str, provider_request_id: str) -> ProviderStatus:
        """STK push query by CheckoutRequestID; "being processed" is PENDING."""
        return await self._queries.collection_status(reference, provider_request_id)

    async def disbursement_status(
        self, reference: str, provider_request_id: str | None
    ) -> ProviderStatus:
        """Transaction Status by our transfer reference (§11.1, §13.8)."""
        return await self._queries.disbursement_status(reference, provider_request_id)

    async def direct_payment_status(self, receipt: str) -> ProviderStatus:
        """What Daraja says of an unprompted (C2B) payment, by its receipt."""
        return await self._queries.direct_payment_status(receipt)

    async def transaction_status(
        self,
        *,
        transaction_id: str | None = None,
        original_conversation_id: str | None = None,
        party_a: str | None = None,
    ) -> ProviderStatus:
        """Transaction Status by receipt or by original OriginatorConversationID (exactly
        one); UNKNOWN when no result arrives in time."""
        return await self._queries.transaction_status(
            transaction_id=transaction_id,
            original_conversation_id=original_conversation_id,
            party_a=party_a,
        )

    async def confirm(self, event: CallbackEvent) -> ProviderStatus:
        """The confirming status query for a callback (``MPESA_CONFIRM_CALLBACKS``)."""
        return await self._queries.confirm(event)

    async def statement(self, since: datetime, until: datetime) -> list[ProviderStatus]:
        """Completed customer payments to our shortcode between two instants."""
        return await self._statement.statement(since, until)

    async def balance(self) -> Balance:
        """Account Balance of our shortcode; :class:`OutcomeUnknown` when no result."""
        return await self._account.balance()

    async def user_enquiry(self, msisdn: str) -> Subscriber:
        """Always :class:`Rejected`: Daraja has no subscriber lookup."""
        return await self._account.user_enquiry(msisdn)

    # ------------------------------------------------------------------ C2B

    async def register_c2b_urls(
        self,
        *,
        response_type: Literal["Completed", "Cancelled"] | None = None,
        version: Literal["v1", "v2"] | None = None,
        shortcode: str | None = None,
    ) -> C2BRegistration:
        """Register our C2B validation and confirmation URLs (once in production)."""
        return await self._c2b.register_urls(
            response_type=response_type, version=version, shortcode=shortcode
        )

    def decide_c2b(self, event: CallbackEvent) -> C2BDecision:
        """Our validation answer under the configured stream rules."""
        return self._c2b.decide(event)

    def validation_answer(self, event: CallbackEvent | None, accepted: bool) -> dict[str, Any]:
        """The answer to a C2B validation request; None (unparsable) is rejected."""
        return self._c2b.validation_answer(event, accepted)

    # ------------------------------------------------------------------ callbacks

    def callback_source_allowed(self, address: str | None) -> bool:
        """The source-address check against ``MPESA_CALLBACK_ALLOWLIST`` (empty: off)."""
        return callbacks.source_allowed(address, self._session.allowlist)

    def callback_token_valid(self, presented: str | None) -> bool:
        """Constant-time check of the secret path segment against
        ``MPESA_CALLBACK_TOKEN``."""
        return callbacks.token_matches(presented, self.settings.callback_token)

    def parse_callback(
        self, kind: CallbackKind, headers: Mapping[str, str], body: bytes
    ) -> CallbackEvent:
        """Parse a callback; :class:`CallbackRejected` on anything malformed. Daraja does
        not sign callbacks (§13.1), so ``headers`` carry nothing to verify: the API layer
        checks the path token and source address with the two methods above."""
        try:
            event = callbacks.parse_callback(kind, body, shortcodes=self.shortcodes)
        except CallbackRejected as exc:
            logger.warning("callback rejected", kind=kind.value, reason=exc.reason)
            raise
        logger.info(
            "callback", kind=kind.value, event_id=event.event_id,
            outcome=event.status.outcome.value, provider_code=event.status.provider_code,
        )  # fmt: skip
        return event

    def callback_answer(self, event: CallbackEvent | None, accepted: bool) -> dict[str, Any]:
        """The body Daraja expects back.

        * C2B validation: our decision (:meth:`decide_c2b`) — ``{"ResultCode": "0",
          "ResultDesc": "Accepted"}`` or a ``C2B000xx`` rejection; ``accepted=False`` (our
          own checks failed) rejects with the decision's code, else ``C2B00016``;
        * C2B confirmation: always ``{"ResultCode": 0, "ResultDesc": "Success"}`` (§8.2);
        * everything else, and a body we could not parse: ``{"ResultCode": 0,
          "ResultDesc": "Accepted"}`` — Daraja does not read it (§6), and a refused
          callback has already been stored for review, so asking for a resend gains
          nothing. For an unparsable *validation* request use :meth:`validation_answer`.
        """
        if event is not None and event.kind is CallbackKind.C2B_VALIDATION:
            return self.validation_answer(event, accepted)
        if event is not None and event.kind is CallbackKind.C2B_CONFIRMATION:
            return {"ResultCode": 0, "ResultDesc": "Success"}
        return {"ResultCode": 0, "ResultDesc": "Accepted"}


def _typecheck(connector: MpesaConnector) -> None:  # pragma: no cover - static check only
    from qmoi.providers.base import PaymentProvider

    _: PaymentProvider = connector


__all__ = [
    "PRODUCTION_BASE_URL",
    "RESULT_TIMEOUT_S",
    "STAGING_BASE_URL",
    "C2BRegistration",
    "MpesaConnector",
    "default_base_url",
]
