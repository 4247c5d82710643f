"""The Airtel Money connector, :class:`AirtelConnector`: a facade over the job modules.

Implements :class:`qmoi.providers.base.PaymentProvider` against the Airtel Africa Open
API (see ``docs/providers/airtel.md``). Each job lives in its own module —
:mod:`.collections` (USSD push, refund), :mod:`.payouts` (disbursements),
:mod:`.queries` (enquiries), :mod:`.account` (balance, KYC) — over one
:class:`~.session.AirtelSession` (token, HTTP client, retries, encryption key).

How answers come back:

* A money-moving call (:meth:`collect`, :meth:`disburse`, :meth:`refund`) is sent
  **once**. It returns a :class:`Submission` / :class:`ProviderStatus` only when the
  answer is definite — PENDING (accepted), SUCCEEDED or FAILED with a reason. It raises
  :class:`NotSent` when nothing left this process (connection never opened, no token,
  no key), :class:`OutcomeUnknown` when the money may have moved and we cannot tell
  (timeout after sending, 408/429/5xx, ambiguous code, unreadable answer, ``TA``) —
  the engine then enquires by the same id, never resends under a new one —
  :class:`Rejected` when Airtel refused the request itself (malformed, configuration,
  signature), and :class:`AuthenticationFailed` when the credentials are refused. A
  "duplicate id" answer is resolved on the spot by enquiring that id (§14).
* Enquiries, balance, user enquiry and the token are safe to repeat and are retried
  with backoff. An enquiry returns Airtel's answer as a :class:`ProviderStatus`,
  UNKNOWN included.
* Any call refused with ``invalid_token`` (401/403) gets one fresh token and is sent
  once more: the gateway refused it before anything was processed.

What this connector must never do: resend a money-moving call under a new id; call an
ambiguous answer a failure or a push acceptance a payment; send floats; log a secret,
token, PIN (plain or encrypted), ``x-key``, or a full MSISDN (last 3 digits only).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

import httpx

from qmoi.config import AirtelSettings
from qmoi.domain.money import Money
from qmoi.providers.airtel import callbacks, wire
from qmoi.providers.airtel.account import Account
from qmoi.providers.airtel.capabilities import CAPABILITIES
from qmoi.providers.airtel.checks import TRANSACTION_ID_MAX
from qmoi.providers.airtel.collections import Collections
from qmoi.providers.airtel.payouts import Payouts
from qmoi.providers.airtel.queries import Queries
from qmoi.providers.airtel.session import (
    BASE_URLS,
    PROVIDER,
    AirtelSession,
    resolve_base_url,
)
from qmoi.providers.base import (
    Balance,
    CallbackEvent,
    CallbackKind,
    CollectRequest,
    DisburseRequest,
    ExpectedTransaction,
    ProviderError,
    ProviderName,
    ProviderStatus,
    Submission,
    Subscriber,
)


class AirtelConnector:
    """Airtel Money Open API connector. One pooled :class:`httpx.AsyncClient` per instance.

    ``api_version``: 1 or 2 for the write paths (v2 collections/disbursements carry the
    message signature where Airtel enforces it). Default: 2 when
    ``settings.message_signing`` is on, else 1.
    """

    name: ProviderName = PROVIDER
    capabilities = CAPABILITIES

    def __init__(
        self,
        settings: AirtelSettings,
        *,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        token_margin_s: float = 30.0,
        timeout: httpx.Timeout | None = None,
        api_version: Literal[1, 2] | None = None,
        retry_attempts: int = 4,
        retry_max_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        session = AirtelSession(
            settings,
            base_url=base_url,
            client=client,
            token_margin_s=token_margin_s,
            timeout=timeout,
            api_version=api_version,
            retry_attempts=retry_attempts,
            retry_max_s=retry_max_s,
            monotonic=monotonic,
            now=now,
        )
        self._session = session
        self.base_url = session.base_url
        self.currency = session.currency
        self._queries = Queries(session)
        self._collections = Collections(session, self._queries)
        self._payouts = Payouts(session, self._queries)
        self._account = Account(session)

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        await self._session.aclose()

    async def __aenter__(self) -> AirtelConnector:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    @property
    def token_fetches(self) -> int:
        """How many tokens this connector has requested (for metrics and tests)."""
        return self._session.tokens.fetches

    @property
    def api_version(self) -> int:
        return self._session.version

    async def fresh_token_lifetime(self) -> float:
        """Fetch a fresh token, bypassing the cache, and say how long it lives (s)."""
        return (await self._session.fetch_token()).lifetime_s

    # ------------------------------------------------------------------ jobs

    async def collect(self, request: CollectRequest) -> Submission:
        """USSD push (§5.1). PENDING means the prompt was accepted — never that it is paid."""
        return await self._collections.collect(request)

    async def collection_status(self, reference: str, provider_request_id: str) -> ProviderStatus:
        """Transaction enquiry (§5.2) by our id; retried; may answer UNKNOWN or PENDING."""
        return await self._queries.collection_status(reference, provider_request_id)

    async def refund(self, provider_reference: str, amount: Money) -> ProviderStatus:
        """Full refund of a collection by its Airtel money id (§5.3); never retried."""
        return await self._collections.refund(provider_reference, amount)

    async def disburse(self, request: DisburseRequest) -> Submission:
        """Pay a wallet (§7) with the RSA-encrypted PIN; v2 adds signing where enabled."""
        return await self._payouts.disburse(request)

    async def disbursement_status(
        self, reference: str, provider_request_id: str | None
    ) -> ProviderStatus:
        """Disbursement enquiry (§7) by our id; retried; may answer UNKNOWN or PENDING."""
        return await self._queries.disbursement_status(reference, provider_request_id)

    async def ping(self) -> None:
        await self._account.ping()

    async def balance(self) -> Balance:
        """The collection wallet's balance (§8; the disbursement wallet has no API)."""
        return await self._account.balance()

    async def user_enquiry(self, msisdn: str) -> Subscriber:
        """KYC (§9): name, barred flag and registration of an Airtel Money number."""
        return await self._account.user_enquiry(msisdn)

    # ------------------------------------------------------------------ callbacks

    def parse_callback(
        self, kind: CallbackKind, headers: Mapping[str, str], body: bytes
    ) -> CallbackEvent:
        """Parse and authenticate a callback (§6); raises :class:`CallbackRejected`.

        With ``callback_auth`` on, the ``hash`` is required; whenever a callback secret
        is configured, a present hash is checked (a forged one is rejected)."""
        settings = self._session.settings
        log = self._session.log
        secret = settings.callback_secret
        try:
            event, scope = callbacks.parse(
                kind,
                body,
                currency=self.currency,
                country=self._session.country,
                secret=secret.get_secret_value() if secret is not None else None,
                require_hash=settings.callback_auth,
            )
        except ProviderError as exc:
            log.warning(
                "airtel.callback.rejected", kind=kind.value,
                reason=getattr(exc, "reason", None), size=len(body),
            )  # fmt: skip
            raise
        log.info(
            "airtel.callback", kind=kind.value, reference=event.reference,
            status=event.status.provider_code, hash_scope=scope, event_id=event.event_id,
        )  # fmt: skip
        return event

    def callback_problems(
        self, event: CallbackEvent, expected: ExpectedTransaction | None
    ) -> list[str]:
        """Reasons not to book ``event`` against ``expected`` (our record of that id, or
        None when we never issued it); see :func:`.callbacks.callback_problems`."""
        return callbacks.callback_problems(
            event, expected, authenticated=self._session.settings.callback_auth
        )

    def callback_answer(self, event: CallbackEvent | None, accepted: bool) -> dict[str, Any]:
        """Body of our HTTP 200 answer to Airtel (none is documented, §6)."""
        return wire.callback_ack(accepted)


__all__ = ["BASE_URLS", "TRANSACTION_ID_MAX", "AirtelConnector", "resolve_base_url"]
