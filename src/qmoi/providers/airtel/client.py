"""The Airtel Money production connector: :class:`AirtelConnector`.

Implements :class:`qmoi.providers.base.PaymentProvider` against the Airtel Africa Open
API as described in ``docs/providers/airtel-money.md`` (OAuth2 client credentials §2;
headers and envelope §3; encryption keys, PIN encryption and message signing §4; v1/v2
USSD-push collections, enquiry and refund §5; callbacks §6; v1/v2 disbursements §7;
balance §8; KYC §9; statuses and codes §10–§11; MSISDN §13; idempotency §14; ambiguous
results §16). Airtel's field names live in :mod:`.wire`, its codes in :mod:`.translate`.

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
  with backoff (:func:`qmoi.providers.http.retry_safe`). An enquiry returns Airtel's
  answer as a :class:`ProviderStatus`, UNKNOWN included (``TA``, or "not found", which
  becomes final only after the prompt window, §16.3).
* Any call refused with ``invalid_token`` (401/403) gets one fresh token and is sent
  once more: the gateway refused it before anything was processed.

What this connector must never do: resend a money-moving call under a new id; call an
ambiguous answer a failure or a push acceptance a payment; send floats; log a secret,
token, PIN (plain or encrypted), ``x-key``, or a full MSISDN (last 3 digits only).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, ValidationError

from qmoi.config import AirtelSettings, Environment
from qmoi.domain.errors import InvalidAmount
from qmoi.domain.money import Money
from qmoi.errors import ConfigError
from qmoi.providers.airtel import callbacks, crypto, wire
from qmoi.providers.airtel.auth import Token, TokenCache
from qmoi.providers.airtel.translate import (
    Product,
    Reading,
    Verdict,
    http_info,
    read_account_answer,
    read_enquiry,
    read_router,
    read_write_answer,
)
from qmoi.providers.base import (
    AuthenticationFailed,
    Balance,
    CallbackEvent,
    CallbackKind,
    CollectRequest,
    DisburseRequest,
    ExpectedTransaction,
    FailureReason,
    NotSent,
    Outcome,
    OutcomeUnknown,
    ProviderError,
    ProviderName,
    ProviderStatus,
    Rejected,
    Submission,
    Subscriber,
)
from qmoi.providers.http import (
    DEFAULT_LIMITS,
    classify_transport_error,
    make_client,
    retry_safe,
)
from qmoi.providers.http import operation as http_operation

PROVIDER: ProviderName = "airtel"

#: §1 pan-African hosts; country hosts and QMOI's emulator come in through ``base_url``.
BASE_URLS: dict[Environment, str] = {
    Environment.STAGING: "https://openapiuat.airtel.africa",
    Environment.PRODUCTION: "https://openapi.airtel.africa",
}

#: §14: keep ids to ``[A-Za-z0-9-]`` and at most 40 characters.
TRANSACTION_ID_MAX = 40
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")

#: §4.1 ``valid_upto`` is ``DD-MM-YYYY HH:MM:SS`` in an unconfirmed time zone: read it as
#: UTC minus the largest footprint offset (UTC+4), and refetch at least daily anyway.
KEY_ZONE_MARGIN = timedelta(hours=4, minutes=30)
KEY_MAX_CACHE = timedelta(hours=24)
KEY_CACHE_WITHOUT_EXPIRY = timedelta(hours=1)

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def resolve_base_url(settings: AirtelSettings, base_url: str | None = None) -> str:
    """``base_url`` argument, else ``settings.base_url``, else the environment's host.
    The sandbox has no public host: its emulator's URL must be given."""
    chosen = base_url or settings.base_url
    if chosen:
        return chosen.rstrip("/")
    if settings.environment is Environment.SANDBOX:
        raise ConfigError(
            "AIRTEL_BASE_URL: the sandbox needs the emulator's URL — start the emulator "
            "and pass its base URL to the connector"
        )
    return BASE_URLS[settings.environment]


@dataclass(frozen=True, slots=True)
class _Answer:
    """One HTTP answer: status and the JSON body (None when it was not JSON)."""

    http_status: int
    body: Any
    elapsed_ms: int


class _NoToken(NotSent):
    """No token could be obtained, so the request was not sent (its retries are done)."""


class _GiveUp(Exception):
    """Carries an error out of retry_safe without another attempt."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(slots=True)
class _CachedKey:
    key: rsa.RSAPublicKey
    until: datetime | None  # None: configured, never expires


class AirtelConnector:
    """Airtel Money Open API connector. One pooled :class:`httpx.AsyncClient` per instance.

    ``api_version``: 1 or 2 for the write paths (v2 collections/disbursements carry the
    message signature where Airtel enforces it). Default: 2 when
    ``settings.message_signing`` is on, else 1.
    """

    name: ProviderName = PROVIDER

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
        if settings.callback_auth and settings.callback_secret is None:
            raise ConfigError(
                "AIRTEL_CALLBACK_SECRET: is required when AIRTEL_CALLBACK_AUTH is true — "
                "copy the callback key from the Airtel portal"
            )
        self._key: _CachedKey | None = None
        if settings.public_key:
            try:
                self._key = _CachedKey(crypto.load_public_key(settings.public_key), None)
            except crypto.InvalidPublicKey as exc:
                raise ConfigError(
                    f"AIRTEL_PUBLIC_KEY: {exc} — paste Airtel's PEM or base64 DER key"
                ) from exc
        if client is not None and not base_url and not settings.base_url:
            base_url = str(client.base_url) or None
        self.base_url = resolve_base_url(settings, base_url)
        self._settings = settings
        self.currency = settings.currency
        self._country = settings.country
        self._version: Literal[1, 2] = api_version or (2 if settings.message_signing else 1)
        self._owns_client = client is None
        self._http = client or make_client(
            self.base_url,
            timeout=timeout or DEFAULT_TIMEOUT,
            limits=DEFAULT_LIMITS,
            provider=PROVIDER,
        )
        self._retry_attempts = max(1, retry_attempts)
        self._retry_max_s = retry_max_s
        self._now = now or (lambda: datetime.now(UTC))
        self._tokens = TokenCache(self._fetch_token, margin_s=token_margin_s, monotonic=monotonic)
        self._key_lock = asyncio.Lock()
        # lazy: the processors are those configured when a line is logged, not now
        self._log = structlog.get_logger(
            "qmoi.providers.airtel", provider=PROVIDER, environment=settings.environment.value
        )

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()

    async def __aenter__(self) -> AirtelConnector:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    @property
    def token_fetches(self) -> int:
        """How many tokens this connector has requested (for metrics and tests)."""
        return self._tokens.fetches

    @property
    def api_version(self) -> int:
        return self._version

    # ------------------------------------------------------------------ collections

    async def collect(self, request: CollectRequest) -> Submission:
        """USSD push (§5.1). PENDING means the prompt was accepted — never that it is paid."""
        operation = "collect"
        txid = self._check_id(request.reference, operation)
        msisdn = self._national(request.msisdn, operation, txid)
        amount = self._wire_amount(request.amount, operation, txid)
        body = wire.collection_body(
            reference=request.account_reference or request.description,
            msisdn=msisdn,
            amount=amount,
            country=self._country,
            currency=self.currency,
            transaction_id=txid,
        )
        self._log.info(
            "airtel.collect", reference=txid, msisdn=wire.mask_msisdn(msisdn),
            amount=str(request.amount), version=self._version,
        )  # fmt: skip
        answer = await self._write(
            operation,
            wire.COLLECTION_PATHS[self._version],
            body,
            sign=self._version == 2 and self._settings.message_signing,
            reference=txid,
        )
        reading = self._read_write(Product.COLLECTION, answer, operation, txid)
        if reading.verdict is Verdict.DUPLICATE:
            status = await self._resolve_duplicate(operation, txid, reading, collection=True)
        else:
            status = self._final_write_status(reading, operation, txid)
        return Submission(status=status, provider_request_id=txid)

    async def collection_status(self, reference: str, provider_request_id: str) -> ProviderStatus:
        """Transaction enquiry (§5.2) by our id; retried; may answer UNKNOWN or PENDING."""
        txid = provider_request_id or reference
        path = wire.COLLECTION_ENQUIRY_PATH.format(id=quote(txid, safe=""))
        return await self._enquire("collection_status", Product.COLLECTION, path, None, txid)

    async def refund(self, provider_reference: str, amount: Money) -> ProviderStatus:
        """Full refund of a successful collection by its Airtel money id (§5.3).

        A refund has no id of ours, so no idempotency: it is never retried here, and an
        unknown outcome must be settled by reconciling the wallet, never by resending.
        """
        operation = "refund"
        if not provider_reference or len(provider_reference) > 100:
            raise Rejected(PROVIDER, operation, "refused before sending: no Airtel money id")
        if amount.currency != self.currency or not amount.is_positive:
            raise Rejected(
                PROVIDER, operation,
                f"refused before sending: refund amount must be positive {self.currency}",
                reference=provider_reference,
            )  # fmt: skip
        self._log.info("airtel.refund", provider_reference=provider_reference, amount=str(amount))
        answer = await self._write(
            operation, wire.REFUND_PATH, wire.refund_body(provider_reference),
            sign=False, reference=provider_reference,
        )  # fmt: skip
        reading = self._read_write(Product.REFUND, answer, operation, provider_reference)
        if reading.verdict is Verdict.DUPLICATE:
            raise OutcomeUnknown(
                PROVIDER, operation,
                "Airtel says this refund already exists; reconcile the wallet, do not resend",
                provider_code=reading.code, reference=provider_reference,
            )  # fmt: skip
        return self._final_write_status(reading, operation, provider_reference)

    # ------------------------------------------------------------------ disbursements

    async def disburse(self, request: DisburseRequest) -> Submission:
        """Pay a wallet (§7) with the RSA-encrypted PIN; v2 adds signing where enabled."""
        operation = "disburse"
        txid = self._check_id(request.reference, operation)
        msisdn = self._national(request.msisdn, operation, txid)
        amount = self._wire_amount(request.amount, operation, txid)
        pin = self._settings.pin
        if pin is None:
            raise Rejected(
                PROVIDER, operation,
                "refused before sending: AIRTEL_PIN is not set, so payouts cannot be made",
                reference=txid,
            )  # fmt: skip
        key = await self._public_key(operation, txid)
        body = wire.disbursement_body(
            version=self._version,
            msisdn=msisdn,
            reference=request.remarks or txid,
            encrypted_pin=crypto.encrypt_pin(pin.get_secret_value(), key),
            amount=amount,
            currency=self.currency,
            transaction_id=txid,
        )
        self._log.info(
            "airtel.disburse", reference=txid, msisdn=wire.mask_msisdn(msisdn),
            amount=str(request.amount), version=self._version,
        )  # fmt: skip
        answer = await self._write(
            operation,
            wire.DISBURSEMENT_PATHS[self._version],
            body,
            sign=self._version == 2 and self._settings.message_signing,
            reference=txid,
        )
        reading = self._read_write(Product.DISBURSEMENT, answer, operation, txid)
        if reading.verdict is Verdict.DUPLICATE:
            status = await self._resolve_duplicate(operation, txid, reading, collection=False)
        else:
            if reading.reason is FailureReason.INVALID_PIN:
                self._forget_fetched_key()  # a rotated Airtel key reads as a wrong PIN
            status = self._final_write_status(reading, operation, txid)
        return Submission(status=status, provider_request_id=txid)

    async def disbursement_status(
        self, reference: str, provider_request_id: str | None
    ) -> ProviderStatus:
        """Disbursement enquiry (§7) by our id; retried; may answer UNKNOWN or PENDING."""
        txid = provider_request_id or reference
        path = wire.DISBURSEMENT_ENQUIRY_PATHS[self._version].format(id=quote(txid, safe=""))
        params = wire.DISBURSEMENT_ENQUIRY_V2_PARAMS if self._version == 2 else None
        return await self._enquire("disbursement_status", Product.DISBURSEMENT, path, params, txid)

    # ------------------------------------------------------------------ account

    async def ping(self) -> None:
        await self._fetch_token()

    async def balance(self) -> Balance:
        """The collection wallet's balance (§8; the disbursement wallet has no API)."""
        operation = "balance"

        async def once() -> Balance:
            answer = await self._exchange(operation, "GET", wire.BALANCE_PATH, write=False)
            envelope = self._account_envelope(answer, operation)
            data = self._model(wire.BalanceData, envelope.data, operation, envelope)
            currency = (data.currency or self.currency).strip().upper()
            try:
                available = Money.parse(data.balance.strip(), currency, allow_negative=True)
            except InvalidAmount as exc:
                raise ProviderError(
                    PROVIDER, operation, f"unreadable balance: {exc}",
                    provider_code=envelope.status.response_code,
                ) from None  # fmt: skip
            return Balance(available=available, raw=dict(envelope.data or {}))

        return await self._retrying(once)

    async def user_enquiry(self, msisdn: str) -> Subscriber:
        """KYC (§9): name, barred flag and registration of an Airtel Money number."""
        operation = "user_enquiry"
        national = self._national(msisdn, operation, None)
        path = wire.USER_ENQUIRY_PATH.format(msisdn=national)

        async def once() -> Subscriber:
            answer = await self._exchange(operation, "GET", path, write=False)
            envelope = self._account_envelope(answer, operation)
            data = self._model(wire.KycData, envelope.data, operation, envelope)
            registered = data.is_airtel_money_user
            if registered is None:
                status = data.reg_status or (
                    data.registration.status if data.registration else None
                )
                registered = not (status and "UNREG" in status.upper())
            first, last = data.first_name, data.last_name
            if first is None and last is None and data.user_name:
                first, _, rest = data.user_name.partition(" ")
                last = rest or None
            return Subscriber(
                msisdn=wire.to_international(national, self._country),
                first_name=first,
                last_name=last,
                registered=registered,
                barred=bool(data.is_barred),
            )

        return await self._retrying(once)

    # ------------------------------------------------------------------ callbacks

    def parse_callback(
        self, kind: CallbackKind, headers: Mapping[str, str], body: bytes
    ) -> CallbackEvent:
        """Parse and authenticate a callback (§6); raises :class:`CallbackRejected`.

        With ``callback_auth`` on, the ``hash`` is required; whenever a callback secret
        is configured, a present hash is checked (a forged one is rejected)."""
        secret = self._settings.callback_secret
        try:
            event, scope = callbacks.parse(
                kind,
                body,
                currency=self.currency,
                country=self._country,
                secret=secret.get_secret_value() if secret is not None else None,
                require_hash=self._settings.callback_auth,
            )
        except ProviderError as exc:
            self._log.warning(
                "airtel.callback.rejected", kind=kind.value,
                reason=getattr(exc, "reason", None), size=len(body),
            )  # fmt: skip
            raise
        self._log.info(
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
            event, expected, authenticated=self._settings.callback_auth
        )

    def callback_answer(self, event: CallbackEvent | None, accepted: bool) -> dict[str, Any]:
        """Body of our HTTP 200 answer to Airtel (none is documented, §6)."""
        return wire.callback_ack(accepted)

    # ================================================================== internals

    # --- validation before sending -----------------------------------------------------

    def _check_id(self, reference: str, operation: str) -> str:
        if not reference or len(reference) > TRANSACTION_ID_MAX or not set(reference) <= _ID_CHARS:
            raise Rejected(
                PROVIDER, operation,
                f"refused before sending: transaction id must be 1–{TRANSACTION_ID_MAX} "
                "characters of A–Z, a–z, 0–9 and '-'",
                reference=reference,
            )  # fmt: skip
        return reference

    def _national(self, msisdn: str, operation: str, reference: str | None) -> str:
        try:
            return wire.to_national(msisdn, self._country)
        except wire.InvalidMsisdn as exc:
            raise Rejected(
                PROVIDER, operation,
                f"refused before sending: {wire.mask_msisdn(msisdn)} — {exc}",
                reference=reference,
            ) from None  # fmt: skip

    def _wire_amount(self, amount: Money, operation: str, reference: str) -> int | Decimal:
        if amount.currency != self.currency:
            raise Rejected(
                PROVIDER, operation,
                f"refused before sending: {amount.currency} on an {self.currency} wallet",
                reference=reference,
            )  # fmt: skip
        if not amount.is_positive:
            raise Rejected(
                PROVIDER, operation, "refused before sending: amount must be above zero",
                reference=reference,
            )  # fmt: skip
        return wire.wire_amount(amount.to_decimal())

    # --- token ---------------------------------------------------------------------------

    async def _fetch_token(self) -> Token:
        operation = "token"
        client_id = self._settings.client_id
        secret = self._settings.client_secret
        if not client_id or secret is None:
            raise AuthenticationFailed(
                PROVIDER, operation, "AIRTEL_CLIENT_ID / AIRTEL_CLIENT_SECRET are not set"
            )
        body = wire.dumps(wire.token_body(client_id, secret.get_secret_value()))

        async def once() -> Token:
            try:
                response = await self._http.post(
                    self._url(wire.TOKEN_PATH),
                    content=body,
                    headers={"Content-Type": "application/json", "Accept": "*/*"},
                    extensions=http_operation(operation),
                )
            except httpx.TransportError as exc:
                raise classify_transport_error(exc, PROVIDER, operation) from exc
            except httpx.RequestError as exc:
                raise OutcomeUnknown(PROVIDER, operation, type(exc).__name__) from exc
            answer = _Answer(response.status_code, _json(response), _ms(response))
            self._debug(operation, "POST", wire.TOKEN_PATH, answer)
            if answer.http_status == 200 and isinstance(answer.body, dict):
                try:
                    token = wire.TokenAnswer.model_validate(answer.body)
                except ValidationError:
                    token = None
                if token is not None and token.access_token:
                    lifetime = float(token.expires_in) if token.expires_in else 0.0
                    return Token(token.access_token, lifetime)
            info = http_info(answer.http_status)
            if info is not None and info.verdict is Verdict.UNKNOWN:
                raise OutcomeUnknown(
                    PROVIDER, operation, info.meaning, provider_code=str(answer.http_status)
                )
            error = _model_or_none(wire.OAuthError, answer.body)
            if error is not None or answer.http_status in (400, 401, 403):
                code = error.error if error is not None else str(answer.http_status)
                raise AuthenticationFailed(
                    PROVIDER, operation,
                    (error.error_description if error else None) or "credentials refused",
                    provider_code=code,
                )  # fmt: skip
            raise OutcomeUnknown(
                PROVIDER, operation, "unreadable token answer",
                provider_code=str(answer.http_status),
            )  # fmt: skip

        token = await self._retrying(once)
        self._log.info("airtel.token.refreshed", lifetime_s=token.lifetime_s)
        return token

    async def _token(self, operation: str, reference: str | None, refused: str | None) -> str:
        """A token for ``operation``. Failing to get one means the call was never sent."""
        try:
            return await self._tokens.get(refused=refused)
        except AuthenticationFailed as exc:
            raise AuthenticationFailed(
                PROVIDER, operation, f"no token: {exc.detail}",
                provider_code=exc.provider_code, reference=reference,
            ) from exc  # fmt: skip
        except ProviderError as exc:
            raise _NoToken(
                PROVIDER, operation, f"no token, request not sent: {exc.detail}",
                provider_code=exc.provider_code, reference=reference,
            ) from exc  # fmt: skip

    # --- encryption key ----------------------------------------------------------------

    async def _public_key(self, operation: str, reference: str | None) -> rsa.RSAPublicKey:
        """The configured key, or §4.1's, fetched and cached until its validity."""
        cached = self._key
        if cached is not None and (cached.until is None or self._now() < cached.until):
            return cached.key
        async with self._key_lock:
            cached = self._key
            if cached is not None and (cached.until is None or self._now() < cached.until):
                return cached.key
            try:
                fetched = await self._retrying(self._fetch_key_once)
            except ProviderError as exc:
                raise NotSent(
                    PROVIDER, operation,
                    f"no encryption key, request not sent: {exc.detail}",
                    provider_code=exc.provider_code, reference=reference,
                ) from exc  # fmt: skip
            self._key = fetched
            return fetched.key

    async def _fetch_key_once(self) -> _CachedKey:
        operation = "encryption_key"
        answer = await self._exchange(operation, "GET", wire.ENCRYPTION_KEYS_PATH, write=False)
        envelope = self._account_envelope(answer, operation)
        data = self._model(wire.KeyData, envelope.data, operation, envelope)
        try:
            key = crypto.load_public_key(data.key)
        except crypto.InvalidPublicKey as exc:
            raise ProviderError(PROVIDER, operation, f"unusable key: {exc}") from None
        fetched_at = self._now()
        until = fetched_at + KEY_CACHE_WITHOUT_EXPIRY
        if data.valid_upto:
            try:
                stated = datetime.strptime(data.valid_upto.strip(), "%d-%m-%Y %H:%M:%S").replace(
                    tzinfo=UTC
                )
                until = min(stated - KEY_ZONE_MARGIN, fetched_at + KEY_MAX_CACHE)
            except ValueError:
                pass
        self._log.info("airtel.key.fetched", key_id=data.key_id, valid_upto=data.valid_upto)
        return _CachedKey(key, until)

    def _forget_fetched_key(self) -> None:
        if self._key is not None and self._key.until is not None:
            self._key = None

    # --- one exchange --------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "*/*",
            wire.HEADER_COUNTRY: self._country,
            wire.HEADER_CURRENCY: self.currency,
        }

    async def _exchange(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        write: bool,
        body: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        sign: bool = False,
        reference: str | None = None,
    ) -> _Answer:
        """Send once with a valid token (and once more after ``invalid_token``).
        Transport failures become :class:`NotSent` / :class:`OutcomeUnknown`."""
        content = wire.dumps(body) if body is not None else None
        refused: str | None = None
        for attempt in (1, 2):
            token = await self._token(operation, reference, refused)
            headers = self._headers(token)
            if content is not None:
                headers["Content-Type"] = "application/json"
            if sign and content is not None:
                key = await self._public_key(operation, reference)
                signature = crypto.sign_body(content, key)
                headers[wire.HEADER_SIGNATURE] = signature.x_signature
                headers[wire.HEADER_KEY] = signature.x_key
            try:
                response = await self._http.request(
                    method,
                    self._url(path),
                    content=content,
                    headers=headers,
                    params=params,
                    extensions=http_operation(operation),
                )
            except httpx.TransportError as exc:
                self._log.warning(
                    "airtel.transport_error", operation=operation, reference=reference,
                    error=type(exc).__name__,
                )  # fmt: skip
                raise classify_transport_error(exc, PROVIDER, operation, reference) from exc
            except httpx.RequestError as exc:  # e.g. a body that cannot be decoded
                raise OutcomeUnknown(
                    PROVIDER, operation, f"{type(exc).__name__} reading the answer",
                    reference=reference,
                ) from exc  # fmt: skip
            answer = _Answer(response.status_code, _json(response), _ms(response))
            self._debug(operation, method, path, answer, reference=reference, write=write)
            if _invalid_token(answer):
                if attempt == 1:
                    self._log.info("airtel.token.refused", operation=operation)
                    refused = token
                    continue
                raise AuthenticationFailed(
                    PROVIDER, operation, "a freshly issued token was refused",
                    provider_code="invalid_token", reference=reference,
                )  # fmt: skip
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    async def _write(
        self,
        operation: str,
        path: str,
        body: dict[str, Any],
        *,
        sign: bool,
        reference: str,
    ) -> _Answer:
        """A money-moving call: never retried (see the module docstring)."""
        return await self._exchange(
            operation, "POST", path, write=True, body=body, sign=sign, reference=reference
        )

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Repeat a safe call. Not when the token could not be had: the token fetch has
        already retried, and retrying around it would multiply the attempts."""

        async def guarded() -> T:
            try:
                return await call()
            except _NoToken as exc:
                raise _GiveUp(exc) from exc

        try:
            # initial_s stays 1.0: any other value makes tenacity 9.2 emit a
            # DeprecationWarning from retry_safe; the waits are capped by max_s
            return await retry_safe(guarded, attempts=self._retry_attempts, max_s=self._retry_max_s)
        except _GiveUp as stop:
            raise stop.error from stop.error.__cause__

    # --- reading answers -----------------------------------------------------------------

    def _read_any(self, product: Product, answer: _Answer, *, enquiry: bool) -> Reading:
        """Turn an HTTP answer into a reading, whatever its shape (§3, §11.5, §11.6)."""
        status = answer.http_status
        info = http_info(status)
        body = answer.body
        if info is not None and info.verdict is Verdict.UNKNOWN:
            # 408/429/5xx decide by themselves (§3 rule 5); a code in the body only names it
            named = _body_code(body) or f"HTTP{status}"
            verdict = Verdict.RETRY if enquiry else Verdict.UNKNOWN
            return Reading(verdict, named, f"HTTP {status}: {info.meaning}")
        envelope = _model_or_none(wire.Envelope, body)
        if envelope is not None:
            if enquiry:
                return read_enquiry(product, envelope)
            if product is Product.ACCOUNT:
                return read_account_answer(envelope)
            return read_write_answer(product, envelope)
        router = _model_or_none(wire.RouterError, body)
        if router is not None:
            return read_router(router)
        error = _model_or_none(wire.OAuthError, body)
        if error is not None:
            return Reading(
                Verdict.REJECTED, error.error, error.error_description or error.error,
                info.reason if info is not None else None,
            )  # fmt: skip
        if info is not None:  # a 4xx without any Airtel shape
            return Reading(Verdict.REJECTED, f"HTTP{status}", info.meaning, info.reason)
        return Reading(Verdict.UNKNOWN, f"HTTP{status}", "unreadable answer")

    def _read_write(
        self, product: Product, answer: _Answer, operation: str, reference: str
    ) -> Reading:
        reading = self._read_any(product, answer, enquiry=False)
        self._log.info(
            "airtel.answer", operation=operation, reference=reference,
            http_status=answer.http_status, code=reading.code, verdict=reading.verdict.value,
            message=wire.scrub(reading.message),
        )  # fmt: skip
        return reading

    def _final_write_status(
        self, reading: Reading, operation: str, reference: str
    ) -> ProviderStatus:
        """A write's definite answer as a status; everything else as an error."""
        verdict = reading.verdict
        if verdict in (Verdict.SUCCEEDED, Verdict.FAILED, Verdict.PENDING):
            return _status(reading)
        # a refund of a collection Airtel does not know cannot have moved anything
        refund_of_nothing = verdict is Verdict.NOT_FOUND and operation == "refund"
        if verdict is Verdict.REJECTED or refund_of_nothing:
            raise Rejected(
                PROVIDER,
                operation,
                wire.scrub(reading.message),
                provider_code=reading.code,
                reference=reference,
            )
        if verdict is Verdict.NOT_FOUND:
            message = "Airtel answered 'not found' to our own request; enquire"
        elif operation == "refund":
            message = f"{wire.scrub(reading.message)}; reconcile the wallet before any new refund"
        else:
            message = f"{wire.scrub(reading.message)}; enquire by the same id, never resend"
        raise OutcomeUnknown(
            PROVIDER, operation, message, provider_code=reading.code, reference=reference
        )

    async def _resolve_duplicate(
        self, operation: str, txid: str, reading: Reading, *, collection: bool
    ) -> ProviderStatus:
        """§14: Airtel already has this id — its enquiry tells what became of it."""
        self._log.info("airtel.duplicate", operation=operation, reference=txid, code=reading.code)
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
        async def once() -> ProviderStatus:
            answer = await self._exchange(
                operation, "GET", path, write=False, params=params, reference=txid
            )
            reading = self._read_any(product, answer, enquiry=True)
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
            self._log.info(
                "airtel.enquiry", operation=operation, reference=txid, code=reading.code,
                outcome=reading.outcome.value, reason=reading.reason,
            )  # fmt: skip
            return _status(reading)

        return await self._retrying(once)

    def _account_envelope(self, answer: _Answer, operation: str) -> wire.Envelope:
        """The envelope of a successful balance / KYC / key answer, or the right error."""
        reading = self._read_any(Product.ACCOUNT, answer, enquiry=False)
        envelope = _model_or_none(wire.Envelope, answer.body)
        if reading.verdict is Verdict.CALL_OK and envelope is not None:
            return envelope
        if reading.verdict in (Verdict.UNKNOWN, Verdict.RETRY):
            raise OutcomeUnknown(
                PROVIDER, operation, wire.scrub(reading.message), provider_code=reading.code
            )
        # REJECTED or FAILED: a read has no transaction to fail; Airtel refused the request
        raise Rejected(PROVIDER, operation, wire.scrub(reading.message), provider_code=reading.code)

    def _model(self, model: type[M], data: Any, operation: str, envelope: wire.Envelope) -> M:
        try:
            return model.model_validate(data if data is not None else {})
        except ValidationError:
            raise ProviderError(
                PROVIDER, operation, "answer is missing expected data",
                provider_code=envelope.status.response_code,
            ) from None  # fmt: skip

    # --- logging -------------------------------------------------------------------------

    def _debug(
        self,
        operation: str,
        method: str,
        path: str,
        answer: _Answer,
        *,
        reference: str | None = None,
        write: bool = False,
    ) -> None:
        """Request/response detail when DEBUG_AIRTEL is on: codes and ids, never bodies
        (they hold PINs, tokens and numbers)."""
        if not self._settings.debug:
            return
        body: dict[str, Any] = answer.body if isinstance(answer.body, dict) else {}
        raw_status = body.get("status")
        status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
        self._log.debug(
            "airtel.http", operation=operation, method=method,
            path=_redact_path(path), reference=reference, write=write,
            http_status=answer.http_status, elapsed_ms=answer.elapsed_ms,
            response_code=status.get("response_code"), result_code=status.get("result_code"),
            status_code=body.get("status_code"), error=body.get("error"),
        )  # fmt: skip


# ------------------------------------------------------------------------------ helpers


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return wire.loads(response.content)
    except (ValueError, RecursionError):
        return None


def _ms(response: httpx.Response) -> int:
    try:
        return int(response.elapsed.total_seconds() * 1000)
    except RuntimeError:
        return 0


def _model_or_none(model: type[M], body: Any) -> M | None:
    if not isinstance(body, dict):
        return None
    try:
        return model.model_validate(body)
    except ValidationError:
        return None


def _body_code(body: Any) -> str | None:
    """The Airtel code an answer carries, whatever its shape (for messages only)."""
    if not isinstance(body, dict):
        return None
    status = body.get("status")
    if isinstance(status, dict):
        for key in ("response_code", "result_code"):
            value = status.get(key)
            if isinstance(value, str) and value:
                return value
    for key in ("status_code", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _invalid_token(answer: _Answer) -> bool:
    """§2: 401 or 403 ``invalid_token`` (a bare 401 too) → refresh once and resend."""
    if answer.http_status not in (401, 403):
        return False
    body = answer.body
    if isinstance(body, dict) and body.get("error") == "invalid_token":
        return True
    return answer.http_status == 401 and not (isinstance(body, dict) and "status" in body)


def _status(reading: Reading) -> ProviderStatus:
    return ProviderStatus(
        outcome=reading.outcome,
        provider_code=reading.code,
        provider_message=wire.scrub(reading.message),  # may name the payee's number
        reason=reading.reason,
        provider_reference=reading.provider_reference,
    )


def _redact_path(path: str) -> str:
    """KYC paths carry an MSISDN: keep the last 3 digits only."""
    prefix = wire.USER_ENQUIRY_PATH.split("{", 1)[0]
    if path.startswith(prefix) and path != wire.BALANCE_PATH:
        return prefix + wire.mask_msisdn(path[len(prefix) :])
    return path
