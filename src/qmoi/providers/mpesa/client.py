"""The M-Pesa connector: QMOI's :class:`PaymentProvider` over Safaricom's Daraja API.

Follows ``docs/providers/mpesa-daraja.md`` (Daraja 3.0): OAuth client credentials (§2),
M-Pesa Express STK push ``v1`` and its query (§5–7), C2B URL registration ``v1``/``v2``
(§8), B2C ``v3`` with our ``OriginatorConversationID`` as the idempotency key (§9),
Account Balance, Transaction Status and Reversal ``v1`` (§10–11), result codes (§12) and
the operational pitfalls (§13).

How it behaves:

* one pooled ``httpx.AsyncClient`` with explicit timeouts (:func:`make_client`);
* one bearer token per connector, refreshed ~60 s before expiry, and once (then the
  request resent once) when Daraja calls it invalid; concurrent callers share a single
  refresh;
* calls that are safe to repeat (token, STK query, Transaction Status, Account Balance)
  are retried with backoff (:func:`retry_safe`); money-moving calls (STK push, B2C,
  reversal) are sent exactly once per call: a connection that never opened raises
  :class:`NotSent`, a timeout / 5xx / unreadable answer after sending raises
  :class:`OutcomeUnknown`, and the engine resolves by enquiry, never by resending under a
  new id;
* Account Balance, Transaction Status and Reversal answer by callback: the connector
  sends the request, then waits on the injected :class:`ResultWaiter` under the
  ``ConversationID`` of the acknowledgement (see :mod:`.callbacks`); when nothing comes in
  time the answer is UNKNOWN (status, refund) or :class:`OutcomeUnknown` (balance).

It must never log secrets — consumer key/secret, tokens, passkey, STK password,
initiator password, SecurityCredential — nor a full MSISDN (last three digits only), and
never round an amount: Daraja moves whole shillings, and cents are refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal, TypeVar

import httpx
import structlog

from qmoi.config import Environment, MpesaSettings, normalise_msisdn
from qmoi.domain.clock import Clock, SystemClock
from qmoi.domain.money import Money
from qmoi.errors import ConfigError
from qmoi.providers.base import (
    AuthenticationFailed,
    Balance,
    CallbackEvent,
    CallbackKind,
    CallbackRejected,
    CollectRequest,
    DisburseRequest,
    FailureReason,
    NotSent,
    Outcome,
    OutcomeUnknown,
    ProviderError,
    ProviderName,
    ProviderStatus,
    Rejected,
    ResultWaiter,
    Submission,
    Subscriber,
)
from qmoi.providers.http import (
    DEFAULT_TIMEOUT,
    classify_transport_error,
    make_client,
    retry_safe,
)
from qmoi.providers.http import operation as http_operation
from qmoi.providers.mpesa import callbacks, crypto, translate, wire
from qmoi.providers.mpesa.callbacks import C2BDecision
from qmoi.providers.mpesa.translate import ErrorKind, ErrorVerdict, mask_msisdn

T = TypeVar("T")

PROVIDER: ProviderName = "mpesa"
STAGING_BASE_URL = "https://sandbox.safaricom.co.ke"  # Daraja's own test system (§1)
PRODUCTION_BASE_URL = "https://api.safaricom.co.ke"
#: Daraja refuses callback URLs containing any of these, in any case (§13.5).
FORBIDDEN_URL_WORDS = ("m-pesa", "mpesa", "safaricom", "exec", "exe", "cmd", "sql", "query")
#: Seconds before expiry at which a token is replaced (§2: "refresh ~60 s before").
TOKEN_REFRESH_MARGIN_S = 60.0
#: Default seconds to wait for a result callback (balance, status, reversal).
RESULT_TIMEOUT_S = 30.0

logger = structlog.get_logger("qmoi.providers.mpesa", provider=PROVIDER)

#: result codes of a Transaction Status lookup by our own id that mean "no such
#: transaction" (unconfirmed: one setting to change if Daraja answers otherwise)
NOT_FOUND_ON_LOOKUP = frozenset({"25"})


class _QueryInProgress(OutcomeUnknown):
    """STK query: "The transaction is being processed" — the customer has not finished."""


@dataclass(frozen=True, slots=True)
class C2BRegistration:
    """Daraja's answer to a C2B URL registration."""

    response_code: str
    description: str
    conversation_id: str | None
    confirmation_url: str
    validation_url: str


@dataclass(frozen=True, slots=True)
class _Answer:
    http_status: int
    data: dict[str, Any] | None
    error: wire.ErrorEnvelope | None

    @property
    def ok(self) -> bool:
        return self.http_status == 200 and self.data is not None and self.error is None


def default_base_url(environment: Environment) -> str:
    """Daraja's host for a live environment; the sandbox (QMOI's emulator) has none."""
    if environment is Environment.STAGING:
        return STAGING_BASE_URL
    if environment is Environment.PRODUCTION:
        return PRODUCTION_BASE_URL
    raise ConfigError(
        "MPESA_BASE_URL: the sandbox environment needs the emulator's URL — start the "
        "built-in emulator and pass its address"
    )


class MpesaConnector:
    """Daraja connector implementing :class:`qmoi.providers.base.PaymentProvider`."""

    name: ProviderName = PROVIDER
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
        ``exe``… (doc §13.5), so ``/api/mpesa/{token}`` fails in production and against
        the emulator — use a neutral prefix such as ``/hooks/{token}`` (a warning is
        logged in live environments). ``base_url`` overrides
        ``settings.base_url``, which overrides the environment's Daraja host; the sandbox
        environment requires one (the emulator's URL).

        Retries of safe calls back off from ``retry_initial_s`` up to ``retry_max_s``."""
        self.settings = settings
        self._results = results
        self._clock: Clock = clock or SystemClock()
        self._callback_base = callback_base_url.rstrip("/")
        chosen = base_url or settings.base_url or default_base_url(settings.environment)
        self.base_url = chosen.rstrip("/")
        self._owns_client = client is None
        self._http = client or make_client(self.base_url, timeout=timeout, provider=PROVIDER)
        self._result_timeout_s = result_timeout_s
        self._retry_attempts = retry_attempts
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._c2b_version = c2b_register_version
        self._c2b_response_type = c2b_response_type
        self._c2b_accept_unknown = c2b_accept_unknown
        self._c2b_is_known = c2b_is_known
        self._b2c_shortcode = b2c_shortcode or settings.shortcode
        self._balance_account = balance_account
        self._token: str | None = None
        self._token_refresh_at: datetime | None = None
        self._token_lock = asyncio.Lock()
        #: one statement query at a time: they are long, and a burst of them fails
        #: together whenever the token they share is refused
        self._statement_lock = asyncio.Lock()
        try:
            self._allowlist = callbacks.parse_allowlist(settings.callback_allowlist)
        except ValueError as exc:
            raise ConfigError(f"MPESA_CALLBACK_ALLOWLIST: {exc} — fix the entry") from None
        self._check_callback_base()

    # ----------------------------------------------------------------------------------
    # configuration
    # ----------------------------------------------------------------------------------

    def _check_callback_base(self) -> None:
        if not self.settings.environment.is_live:
            return
        lowered = self._callback_base.lower()
        words = [w for w in FORBIDDEN_URL_WORDS if w in lowered]
        if words:
            logger.warning(
                "callback URL contains words Daraja refuses; callbacks and pushes may fail",
                words=words,
            )
        if self.settings.environment is Environment.PRODUCTION:
            if not lowered.startswith("https://"):
                logger.warning("production callback URL is not https")
            if not self._allowlist:
                logger.warning("MPESA_CALLBACK_ALLOWLIST is empty: callback sources unchecked")

    def callback_url(self, sub_path: str) -> str:
        """The absolute URL Daraja must call for one of the callback sub-paths."""
        return f"{self._callback_base}{sub_path}"

    @property
    def shortcodes(self) -> frozenset[str]:
        """Our shortcodes (paybill/store and till) as C2B callbacks name them."""
        codes = {self.settings.shortcode, self.settings.till_number}
        return frozenset(c for c in codes if c)

    def _require(self, value: str | None, variable: str, fix: str) -> str:
        if not value:
            raise ConfigError(f"{variable}: is not set — {fix}")
        return value

    def _shortcode(self) -> str:
        return self._require(self.settings.shortcode, "MPESA_SHORTCODE", "give your shortcode")

    def _initiator(self) -> tuple[str, str]:
        """The initiator name and a fresh SecurityCredential (§4)."""
        name = self._require(
            self.settings.initiator_name, "MPESA_INITIATOR_NAME", "set the API operator name"
        )
        password = self.settings.initiator_password
        if password is None or not password.get_secret_value():
            raise ConfigError("MPESA_INITIATOR_PASSWORD: is not set — set the operator password")
        certificate = self._require(
            self.settings.certificate, "MPESA_CERTIFICATE", "give Safaricom's certificate"
        )
        try:
            credential = crypto.security_credential(password.get_secret_value(), certificate)
        except crypto.CredentialError as exc:
            raise ConfigError(f"MPESA_CERTIFICATE: {exc} — check the certificate") from None
        return name, credential

    def _msisdn(self, msisdn: str, operation: str, reference: str | None) -> str:
        value = msisdn.strip()
        if not translate.is_msisdn(value):
            raise Rejected(
                PROVIDER, operation, f"refused before sending: {mask_msisdn(value)!r} is not an "
                "M-Pesa number in 2547XXXXXXXX or 2541XXXXXXXX form", reference=reference,
            )  # fmt: skip
        return value

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a call that is safe to repeat with bounded backoff (never a money call)."""
        return await retry_safe(
            call,
            attempts=self._retry_attempts,
            initial_s=self._retry_initial_s,
            max_s=self._retry_max_s,
        )

    # ----------------------------------------------------------------------------------
    # OAuth (§2)
    # ----------------------------------------------------------------------------------

    async def access_token(self) -> str:
        """A valid bearer token; at most one refresh runs at a time."""
        token, refresh_at = self._token, self._token_refresh_at
        if token is not None and refresh_at is not None and self._clock.now() < refresh_at:
            return token
        async with self._token_lock:
            token, refresh_at = self._token, self._token_refresh_at
            if token is not None and refresh_at is not None and self._clock.now() < refresh_at:
                return token
            fresh, lifetime = await self._retrying(self._fetch_token)
            margin = min(TOKEN_REFRESH_MARGIN_S, lifetime / 2)
            self._token = fresh
            self._token_refresh_at = self._clock.now() + timedelta(seconds=lifetime - margin)
            logger.debug("token obtained", lifetime_s=lifetime)
            return fresh

    def _drop_token(self, refused: str) -> None:
        """Forget ``refused`` — unless another caller already replaced it."""
        if self._token == refused:
            self._token = None
            self._token_refresh_at = None

    async def _fetch_token(self) -> tuple[str, int]:
        key = self.settings.consumer_key
        secret = self.settings.consumer_secret
        if key is None or secret is None:
            raise ConfigError(
                "MPESA_CONSUMER_KEY / MPESA_CONSUMER_SECRET: not set — copy them from the "
                "Daraja app (sandbox: the emulator's fixed credentials)"
            )
        try:
            response = await self._http.get(
                wire.OAUTH_PATH,
                params={"grant_type": "client_credentials"},
                auth=httpx.BasicAuth(key.get_secret_value(), secret.get_secret_value()),
                extensions=http_operation("oauth"),
            )
        except httpx.TransportError as exc:
            raise classify_transport_error(exc, PROVIDER, "oauth") from exc
        answer = self._read(response)
        logger.debug("oauth answer", http_status=answer.http_status)
        if answer.ok and answer.data is not None:
            try:
                token = wire.read_token(answer.data)
            except wire.WireError as exc:
                raise OutcomeUnknown(
                    PROVIDER, "oauth", f"unreadable token: {exc.message}"
                ) from None
            return token.access_token, token.expires_in
        code = answer.error.error_code if answer.error else None
        message = answer.error.error_message if answer.error else f"HTTP {answer.http_status}"
        verdict = translate.classify_error(answer.http_status, code, message)
        if answer.http_status in (400, 401, 403) or verdict.kind in (
            ErrorKind.AUTHENTICATION,
            ErrorKind.TOKEN,
        ):
            raise AuthenticationFailed(
                PROVIDER, "oauth", f"Daraja refused the consumer key/secret ({message})",
                provider_code=code,
            )  # fmt: skip
        if verdict.kind is ErrorKind.THROTTLED:
            raise NotSent(PROVIDER, "oauth", f"throttled: {message}", provider_code=code)
        if verdict.kind is ErrorKind.REJECTED:
            raise Rejected(PROVIDER, "oauth", message, provider_code=code)
        raise OutcomeUnknown(PROVIDER, "oauth", message, provider_code=code)

    # ----------------------------------------------------------------------------------
    # one request
    # ----------------------------------------------------------------------------------

    @staticmethod
    def _read(response: httpx.Response, limit: int = wire.MAX_BODY_BYTES) -> _Answer:
        try:
            data: dict[str, Any] | None = wire.decode_json(response.content, limit=limit)
        except wire.WireError:
            data = None
        error = wire.read_error(data) if data is not None else None
        return _Answer(response.status_code, data, error)

    async def _call(
        self,
        operation: str,
        path: str,
        payload: Mapping[str, Any],
        *,
        money_moving: bool,
        reference: str | None = None,
        answer_limit: int = wire.MAX_BODY_BYTES,
    ) -> dict[str, Any]:
        """POST with the bearer token; a refused token is replaced and the request resent
        once (Daraja refuses it at the gate, so nothing was processed). An answer longer
        than ``answer_limit`` bytes is not read."""
        for attempt in (1, 2):
            token = await self.access_token()
            try:
                response = await self._http.post(
                    path,
                    json=payload,
                    headers={"Authorization": f"Bearer {token}"},
                    extensions=http_operation(operation),
                )
            except httpx.TransportError as exc:
                error = classify_transport_error(exc, PROVIDER, operation, reference)
                logger.warning(
                    "request failed in transport", operation=operation, reference=reference,
                    error=type(exc).__name__, outcome=error.code,
                )  # fmt: skip
                raise error from exc
            answer = self._read(response, answer_limit)
            if answer.ok and answer.data is not None:
                logger.debug(
                    "daraja answer", operation=operation, reference=reference,
                    http_status=answer.http_status,
                )  # fmt: skip
                return answer.data
            code = answer.error.error_code if answer.error else None
            message = answer.error.error_message if answer.error else ""
            verdict = translate.classify_error(answer.http_status, code, message)
            logger.info(
                "daraja refused or failed", operation=operation, reference=reference,
                http_status=answer.http_status, error_code=code, verdict=verdict.kind.value,
            )  # fmt: skip
            if verdict.kind is ErrorKind.TOKEN:
                self._drop_token(token)  # known bad: never reuse it, even after giving up
                if attempt == 1:
                    continue
            raise self._error(operation, verdict, answer, money_moving, reference)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _error(
        operation: str,
        verdict: ErrorVerdict,
        answer: _Answer,
        money_moving: bool,
        reference: str | None,
    ) -> ProviderError:
        code = answer.error.error_code if answer.error else None
        message = (answer.error.error_message if answer.error else "") or (
            f"HTTP {answer.http_status} without a readable Daraja answer"
        )
        kw: dict[str, Any] = {"provider_code": code, "reference": reference}
        kind = verdict.kind
        if kind is ErrorKind.TOKEN:
            return AuthenticationFailed(
                PROVIDER, operation, f"token refused twice: {message}", **kw
            )
        if kind is ErrorKind.AUTHENTICATION:
            return AuthenticationFailed(PROVIDER, operation, message, **kw)
        if kind is ErrorKind.REJECTED:
            return Rejected(PROVIDER, operation, message, **kw)
        if kind is ErrorKind.THROTTLED:
            return NotSent(PROVIDER, operation, f"throttled at the gateway: {message}", **kw)
        if kind is ErrorKind.IN_PROGRESS and not money_moving:
            return _QueryInProgress(PROVIDER, operation, message, **kw)
        if kind is ErrorKind.DUPLICATE:
            return OutcomeUnknown(
                PROVIDER, operation, f"duplicate: an earlier request may have worked ({message})",
                **kw,
            )  # fmt: skip
        return OutcomeUnknown(PROVIDER, operation, message, **kw)

    # ----------------------------------------------------------------------------------
    # collections: STK push and query (§5, §7)
    # ----------------------------------------------------------------------------------

    def _stk_secrets(self) -> tuple[str, str, str]:
        """Shortcode, timestamp and Password for an STK request."""
        shortcode = self._shortcode()
        passkey = self.settings.passkey
        if passkey is None or not passkey.get_secret_value():
            raise ConfigError("MPESA_PASSKEY: is not set — copy the Lipa na M-Pesa passkey")
        timestamp = crypto.stk_timestamp(self._clock.now())
        return (
            shortcode,
            timestamp,
            crypto.stk_password(shortcode, passkey.get_secret_value(), timestamp),
        )

    async def collect(self, request: CollectRequest) -> Submission:
        """STK push: prompt the customer's phone. Sent once; never retried here."""
        operation = "stk_push"
        shillings = translate.to_shillings(request.amount)
        msisdn = self._msisdn(request.msisdn, operation, request.reference)
        account_reference = request.account_reference.strip() or self.settings.account_reference
        if len(account_reference) > 12:
            raise Rejected(
                PROVIDER, operation, f"refused before sending: AccountReference "
                f"{account_reference!r} is longer than Daraja's 12 characters",
                reference=request.reference,
            )  # fmt: skip
        description = (request.description.strip() or self.settings.transaction_desc)[:13]
        shortcode, timestamp, password = self._stk_secrets()
        till = self.settings.shortcode_type == "till"
        payload = wire.stk_push_payload(
            shortcode=shortcode,
            password=password,
            timestamp=timestamp,
            transaction_type=wire.TRANSACTION_TYPE_TILL if till else wire.TRANSACTION_TYPE_PAYBILL,
            amount=shillings,
            msisdn=msisdn,
            party_b=(self.settings.till_number or shortcode) if till else shortcode,
            callback_url=self.callback_url(callbacks.STK_CALLBACK_PATH),
            account_reference=account_reference,
            transaction_desc=description,
        )
        logger.debug(
            "stk push", reference=request.reference, msisdn=mask_msisdn(msisdn),
            amount=shillings, till=till,
        )  # fmt: skip
        data = await self._call(
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

    async def collection_status(self, reference: str, provider_request_id: str) -> ProviderStatus:
        """STK push query by CheckoutRequestID (retried with backoff). "Being processed"
        is PENDING; the query never returns a receipt or amount (§7)."""
        checkout = (provider_request_id or "").strip()
        if not checkout:
            return ProviderStatus(
                Outcome.UNKNOWN, "no_checkout_request_id",
                "the push was never acknowledged, so there is no CheckoutRequestID to query; "
                "match the callback by number and amount or reconcile",
            )  # fmt: skip

        async def once() -> ProviderStatus:
            shortcode, timestamp, password = self._stk_secrets()
            payload = wire.stk_query_payload(
                shortcode=shortcode,
                password=password,
                timestamp=timestamp,
                checkout_request_id=checkout,
            )
            try:
                data = await self._call(
                    "stk_query", wire.STK_QUERY_PATH, payload, money_moving=False,
                    reference=reference,
                )  # fmt: skip
            except _QueryInProgress as exc:
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

        status = await self._retrying(once)
        logger.debug(
            "stk query", reference=reference, outcome=status.outcome.value,
            provider_code=status.provider_code,
        )  # fmt: skip
        return status

    async def _pull(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return await self._call(
            "pull_transactions",
            wire.PULL_PATH,
            payload,
            money_moving=False,
            answer_limit=wire.PULL_ANSWER_BYTES,
        )

    async def statement(self, since: datetime, until: datetime) -> list[ProviderStatus]:
        """Completed customer payments to our shortcode between two instants, each as a
        SUCCEEDED status with its receipt, amount, number and time (Pull Transactions;
        unconfirmed, see ``wire.read_pull_page``). How a push whose answer and callback
        were both lost is found: nothing else can name it."""
        async with self._statement_lock:
            return await self._statement(since, until)

    async def _statement(self, since: datetime, until: datetime) -> list[ProviderStatus]:
        lines: list[ProviderStatus] = []
        offset = 0
        while True:
            payload = wire.pull_query_payload(
                shortcode=self._shortcode(),
                start=translate.pull_time(since),
                end=translate.pull_time(until),
                offset=offset,
            )
            data = await self._retrying(partial(self._pull, payload))
            try:
                page = wire.read_pull_page(data)
            except wire.WireError as exc:
                raise OutcomeUnknown(
                    PROVIDER, "pull_transactions", f"unreadable answer: {exc.message}"
                ) from None
            lines += [translate.pulled_status(p) for p in page]
            if len(page) < wire.PULL_PAGE:
                return [s for s in lines if s.outcome is Outcome.SUCCEEDED]
            offset += len(page)

    # ----------------------------------------------------------------------------------
    # C2B (§8)
    # ----------------------------------------------------------------------------------

    async def register_c2b_urls(
        self,
        *,
        response_type: Literal["Completed", "Cancelled"] | None = None,
        version: Literal["v1", "v2"] | None = None,
        shortcode: str | None = None,
    ) -> C2BRegistration:
        """Register our C2B validation and confirmation URLs. Production allows this once
        (a second time → :class:`Rejected` "already registered", §8.1)."""
        chosen = version or self._c2b_version
        confirmation = self.callback_url(callbacks.C2B_CONFIRMATION_PATH)
        validation = self.callback_url(callbacks.C2B_VALIDATION_PATH)
        payload = wire.c2b_register_payload(
            shortcode=shortcode or self._shortcode(),
            response_type=response_type or self._c2b_response_type,
            confirmation_url=confirmation,
            validation_url=validation,
        )
        data = await self._call(
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

    def decide_c2b(self, event: CallbackEvent) -> C2BDecision:
        """Our validation answer under the configured stream rules (see
        :func:`callbacks.decide_c2b_validation`); the configured STK account reference is a
        known reference too."""
        return callbacks.decide_c2b_validation(
            event,
            rules=self.settings.c2b_rules,
            default_stream=self.settings.c2b_default_stream,
            shortcodes=self.shortcodes,
            known_references=(self.settings.account_reference,),
            is_known=self._c2b_is_known,
            accept_unknown=self._c2b_accept_unknown,
        )

    # ----------------------------------------------------------------------------------
    # B2C (§9)
    # ----------------------------------------------------------------------------------

    async def disburse(self, request: DisburseRequest) -> Submission:
        """B2C v3 payment with ``OriginatorConversationID = request.reference``. Sent once;
        a duplicate answer (the id was seen before) is :class:`OutcomeUnknown`."""
        operation = "b2c"
        shillings = translate.to_shillings(request.amount)
        msisdn = self._msisdn(request.msisdn, operation, request.reference)
        party_a = self._require(self._b2c_shortcode, "MPESA_SHORTCODE", "give the B2C shortcode")
        name, credential = self._initiator()
        remarks = request.remarks.strip()[:100]
        payload = wire.b2c_payload(
            originator_conversation_id=request.reference,
            initiator_name=name,
            security_credential=credential,
            amount=shillings,
            party_a=party_a,
            msisdn=msisdn,
            remarks=remarks if len(remarks) >= 2 else "QMOI payout",
            result_url=self.callback_url(callbacks.B2C_RESULT_PATH),
            timeout_url=self.callback_url(callbacks.B2C_TIMEOUT_PATH),
        )
        logger.debug(
            "b2c", reference=request.reference, msisdn=mask_msisdn(msisdn), amount=shillings
        )
        data = await self._call(
            operation, wire.B2C_PATH, payload, money_moving=True, reference=request.reference
        )
        ack = self._initiator_ack(operation, data, request.reference)
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

    # ----------------------------------------------------------------------------------
    # initiator queries answered by callback (§10, §11)
    # ----------------------------------------------------------------------------------

    def _initiator_ack(self, operation: str, data: Mapping[str, Any], reference: str | None) -> (
        wire.InitiatorAck
    ):  # fmt: skip
        try:
            ack = wire.read_initiator_ack(data)
        except wire.WireError as exc:
            raise OutcomeUnknown(
                PROVIDER, operation, f"unreadable acknowledgement: {exc.message}",
                reference=reference,
            ) from None  # fmt: skip
        if ack.response_code != wire.ACCEPTED:
            raise Rejected(
                PROVIDER, operation, ack.response_description or "not accepted",
                provider_code=ack.response_code, reference=reference,
            )  # fmt: skip
        if ack.conversation_id is None and ack.originator_conversation_id is None:
            raise OutcomeUnknown(
                PROVIDER, operation, "accepted without a conversation id", reference=reference
            )
        return ack

    async def _send_and_wait(
        self,
        operation: str,
        path: str,
        build: Callable[[str, str, str, str], dict[str, Any]],
        answer_paths: tuple[str, str],
        *,
        safe: bool,
        reference: str | None = None,
    ) -> tuple[CallbackKind | None, Mapping[str, Any]] | None:
        """Send an initiator request whose result and queue-timeout URLs carry a fresh
        answer tag, then wait for the result under that tag; None when none arrives in
        time. Only Daraja learns the tag, so nobody else can answer in its place."""
        tag = callbacks.new_answer_tag()
        result_path, timeout_path = answer_paths
        result_url = self.callback_url(callbacks.answer_path(result_path, tag))
        timeout_url = self.callback_url(callbacks.answer_path(timeout_path, tag))

        async def send() -> wire.InitiatorAck:
            name, credential = self._initiator()
            data = await self._call(
                operation, path, build(name, credential, result_url, timeout_url),
                money_moving=not safe, reference=reference,
            )  # fmt: skip
            return self._initiator_ack(operation, data, reference)

        ack = await (self._retrying(send) if safe else send())
        logger.debug("awaiting result", operation=operation, conversation_id=ack.conversation_id)
        body = await self._results.wait(tag, self._result_timeout_s)
        if body is None:
            logger.info(
                "no result in time", operation=operation, conversation_id=ack.conversation_id,
                timeout_s=self._result_timeout_s,
            )  # fmt: skip
            return None
        kind, data = callbacks.read_delivery(body)
        if not callbacks.answers(data, kind, ack.conversation_id, ack.originator_conversation_id):
            # the URL (and its tag) can show in a proxy's log; the ConversationID of our
            # request only in Daraja's answer to us: a result naming another is not ours
            logger.warning(
                "result for another conversation ignored", operation=operation,
                conversation_id=ack.conversation_id,
            )  # fmt: skip
            return None
        return kind, data

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
        reference = transaction_id or original_conversation_id
        shortcode = party_a or self._shortcode()

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

        delivered = await self._send_and_wait(
            "transaction_status", wire.STATUS_PATH, build,
            (callbacks.STATUS_RESULT_PATH, callbacks.STATUS_TIMEOUT_PATH),
            safe=True, reference=reference,
        )  # fmt: skip
        if delivered is None:
            return ProviderStatus(
                Outcome.UNKNOWN, "no_result",
                f"no Transaction Status result within {self._result_timeout_s:g} s",
            ), None  # fmt: skip
        kind, data = delivered
        if kind is CallbackKind.DISBURSEMENT_TIMEOUT:
            return ProviderStatus(Outcome.UNKNOWN, "queue_timeout", "status query timed out"), None
        try:
            result = wire.read_result(data)
            status = callbacks.transaction_status_of(result)
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

    async def ping(self) -> None:
        await self._retrying(self._fetch_token)

    async def balance(self) -> Balance:
        """Account Balance of our shortcode; ``available`` is the first amount of the
        Utility account (paybill) or Merchant account (till), else the Working account.
        :class:`OutcomeUnknown` when no result arrives in time."""
        operation = "account_balance"
        shortcode = self._shortcode()

        def build(name: str, credential: str, result_url: str, timeout_url: str) -> dict[str, Any]:
            return wire.balance_payload(
                initiator_name=name,
                security_credential=credential,
                party_a=shortcode,
                remarks="balance",
                result_url=result_url,
                timeout_url=timeout_url,
            )

        delivered = await self._send_and_wait(
            operation, wire.BALANCE_PATH, build,
            (callbacks.BALANCE_RESULT_PATH, callbacks.BALANCE_TIMEOUT_PATH), safe=True,
        )  # fmt: skip
        if delivered is None:
            raise OutcomeUnknown(
                PROVIDER, operation, f"no balance result within {self._result_timeout_s:g} s"
            )
        kind, data = delivered
        if kind is CallbackKind.DISBURSEMENT_TIMEOUT:
            raise OutcomeUnknown(PROVIDER, operation, "balance query timed out in M-Pesa's queue")
        try:
            result = wire.read_result(data)
            code = result.result_code or ""
            if code != wire.ACCEPTED:
                error = (
                    AuthenticationFailed
                    if code in translate.QUERY_CREDENTIAL_FAILURES
                    else Rejected
                )
                raise error(PROVIDER, operation, result.result_desc, provider_code=code)
            accounts = callbacks.balances_of(result)
        except (wire.WireError, translate.AmountError) as exc:
            raise OutcomeUnknown(PROVIDER, operation, f"unreadable balance: {exc}") from None
        if not accounts:
            raise OutcomeUnknown(PROVIDER, operation, "the balance result lists no KES account")
        chosen = self._pick_account(accounts)
        raw = {
            "account": chosen.name,
            "accounts": [
                {"name": a.name, "amounts": [str(m.to_decimal()) for m in a.amounts]}
                for a in accounts
            ],
            "completed_at": str(result.parameters.get("BOCompletedTime") or ""),
        }
        return Balance(chosen.available, raw)

    def _pick_account(self, accounts: list[callbacks.AccountBalance]) -> callbacks.AccountBalance:
        preferred = [self._balance_account] if self._balance_account else []
        preferred += (
            ["Merchant Account"] if self.settings.shortcode_type == "till" else ["Utility Account"]
        )
        preferred.append("Working Account")
        by_name = {a.name.strip().lower(): a for a in accounts}
        for name in preferred:
            if name and name.strip().lower() in by_name:
                return by_name[name.strip().lower()]
        return accounts[0]

    async def refund(self, provider_reference: str, amount: Money) -> ProviderStatus:
        """Reverse a transaction by its receipt (§11.2). Sent once; the answer comes by
        callback — UNKNOWN when none arrives in time (resolve by Transaction Status)."""
        operation = "reversal"
        shillings = translate.to_shillings(amount)
        receipt = provider_reference.strip()
        if not receipt:
            raise Rejected(PROVIDER, operation, "refused before sending: no receipt to reverse")
        shortcode = self._shortcode()

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

        delivered = await self._send_and_wait(
            operation, wire.REVERSAL_PATH, build,
            (callbacks.REVERSAL_RESULT_PATH, callbacks.REVERSAL_TIMEOUT_PATH),
            safe=False, reference=receipt,
        )  # fmt: skip
        if delivered is None:
            return ProviderStatus(
                Outcome.UNKNOWN, "no_result",
                f"no reversal result within {self._result_timeout_s:g} s",
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

    # ----------------------------------------------------------------------------------
    # subscribers
    # ----------------------------------------------------------------------------------

    async def user_enquiry(self, msisdn: str) -> Subscriber:
        """Daraja has no subscriber (KYC) lookup, so this always raises :class:`Rejected`:
        "not a valid Safaricom number" when the number is not one, otherwise "no lookup
        exists" — registration and names cannot be known before a payment."""
        normalised, problem = normalise_msisdn(msisdn, "Safaricom")
        if problem is not None:
            raise Rejected(
                PROVIDER, "user_enquiry", f"{mask_msisdn(msisdn.strip())} is not a valid "
                f"Safaricom number: {problem}",
            )  # fmt: skip
        raise Rejected(
            PROVIDER, "user_enquiry", f"{mask_msisdn(normalised)} is a valid Safaricom number, "
            "but Daraja offers no subscriber lookup: registration and names cannot be checked",
        )  # fmt: skip

    # ----------------------------------------------------------------------------------
    # callbacks (§6, §8.2, §9–11, §13)
    # ----------------------------------------------------------------------------------

    def callback_source_allowed(self, address: str | None) -> bool:
        """The source-address check against ``MPESA_CALLBACK_ALLOWLIST`` (empty: off)."""
        return callbacks.source_allowed(address, self._allowlist)

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

    def validation_answer(self, event: CallbackEvent | None, accepted: bool) -> dict[str, Any]:
        """The answer to a C2B validation request; None (unparsable) is rejected."""
        if event is None:
            return {"ResultCode": translate.C2B_OTHER_ERROR, "ResultDesc": "Other Error"}
        decision = self.decide_c2b(event)
        if not accepted and decision.accepted:
            return {"ResultCode": translate.C2B_OTHER_ERROR, "ResultDesc": "Other Error"}
        return decision.answer()

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

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()


def _typecheck(connector: MpesaConnector) -> None:  # pragma: no cover - static check only
    from qmoi.providers.base import PaymentProvider

    _: PaymentProvider = connector


__all__ = [
    "PRODUCTION_BASE_URL",
    "STAGING_BASE_URL",
    "C2BRegistration",
    "MpesaConnector",
    "default_base_url",
]
