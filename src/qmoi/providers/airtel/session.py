"""One Airtel connector's session: HTTP client, bearer token, retries and one exchange.

Every job module (collections, payouts, queries, account) talks to Airtel through
:meth:`AirtelSession.exchange`, so the rules that protect money are kept in one place:

* a call refused with ``invalid_token`` (401/403) gets one fresh token and is sent once
  more — the gateway refused it before anything was processed (§2);
* a token that cannot be had means the request was never sent (:class:`NoToken`), and
  safe calls are not retried around it: the token fetch has already retried;
* transport failures become :class:`NotSent` / :class:`OutcomeUnknown`
  (:func:`qmoi.providers.http.classify_transport_error`);
* only calls that are safe to repeat go through :meth:`AirtelSession.retrying`.

It must never log the token, the client secret, a PIN, ``x-key`` or a full MSISDN.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import httpx
import structlog

from qmoi.config import AirtelSettings, Environment
from qmoi.errors import ConfigError
from qmoi.providers.airtel import crypto, wire
from qmoi.providers.airtel.answers import Answer, http_answer, token_of
from qmoi.providers.airtel.auth import Token, TokenCache
from qmoi.providers.airtel.keys import EncryptionKeys
from qmoi.providers.base import (
    AuthenticationFailed,
    NotSent,
    OutcomeUnknown,
    ProviderError,
    ProviderName,
)
from qmoi.providers.http import DEFAULT_LIMITS, classify_transport_error, make_client, retry_safe
from qmoi.providers.http import operation as http_operation

PROVIDER: ProviderName = "airtel"

#: §1 pan-African hosts; country hosts and QMOI's emulator come in through ``base_url``.
BASE_URLS: dict[Environment, str] = {
    Environment.STAGING: "https://openapiuat.airtel.africa",
    Environment.PRODUCTION: "https://openapi.airtel.africa",
}

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0)

T = TypeVar("T")


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


class NoToken(NotSent):
    """No token could be obtained, so the request was not sent (its retries are done)."""


class _GiveUp(Exception):
    """Carries an error out of retry_safe without another attempt."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


class AirtelSession:
    """What every Airtel call shares: settings, one pooled client, the token cache,
    the encryption key and the retry policy. See :class:`AirtelConnector` for the
    arguments."""

    def __init__(
        self,
        settings: AirtelSettings,
        *,
        base_url: str | None,
        client: httpx.AsyncClient | None,
        token_margin_s: float,
        timeout: httpx.Timeout | None,
        api_version: Literal[1, 2] | None,
        retry_attempts: int,
        retry_max_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        if settings.callback_auth and settings.callback_secret is None:
            raise ConfigError(
                "AIRTEL_CALLBACK_SECRET: is required when AIRTEL_CALLBACK_AUTH is true — "
                "copy the callback key from the Airtel portal"
            )
        configured = None
        if settings.public_key:
            try:
                configured = crypto.load_public_key(settings.public_key)
            except crypto.InvalidPublicKey as exc:
                raise ConfigError(
                    f"AIRTEL_PUBLIC_KEY: {exc} — paste Airtel's PEM or base64 DER key"
                ) from exc
        if client is not None and not base_url and not settings.base_url:
            base_url = str(client.base_url) or None
        self.base_url = resolve_base_url(settings, base_url)
        self.settings = settings
        self.currency = settings.currency
        self.country = settings.country
        self.version: Literal[1, 2] = api_version or (2 if settings.message_signing else 1)
        self.owns_client = client is None
        self.http = client or make_client(
            self.base_url,
            timeout=timeout or DEFAULT_TIMEOUT,
            limits=DEFAULT_LIMITS,
            provider=PROVIDER,
        )
        self.retry_attempts = max(1, retry_attempts)
        self.retry_max_s = retry_max_s
        self.now = now or (lambda: datetime.now(UTC))
        self.tokens = TokenCache(self.fetch_token, margin_s=token_margin_s, monotonic=monotonic)
        # lazy: the processors are those configured when a line is logged, not now
        self.log = structlog.get_logger(
            "qmoi.providers.airtel", provider=PROVIDER, environment=settings.environment.value
        )
        self.keys = EncryptionKeys(self, configured)

    @property
    def signs(self) -> bool:
        """Whether money-moving calls carry the message signature (v2 with signing on)."""
        return self.version == 2 and self.settings.message_signing

    async def aclose(self) -> None:
        if self.owns_client:
            await self.http.aclose()

    # --- token ---------------------------------------------------------------------------

    async def fetch_token(self) -> Token:
        """A fresh token from Airtel (bypassing the cache), retried inside."""
        operation = "token"
        client_id = self.settings.client_id
        secret = self.settings.client_secret
        if not client_id or secret is None:
            raise AuthenticationFailed(
                PROVIDER, operation, "AIRTEL_CLIENT_ID / AIRTEL_CLIENT_SECRET are not set"
            )
        body = wire.dumps(wire.token_body(client_id, secret.get_secret_value()))

        async def once() -> Token:
            try:
                response = await self.http.post(
                    self.base_url + wire.TOKEN_PATH,
                    content=body,
                    headers={"Content-Type": "application/json", "Accept": "*/*"},
                    extensions=http_operation(operation),
                )
            except httpx.TransportError as exc:
                raise classify_transport_error(exc, PROVIDER, operation) from exc
            except httpx.RequestError as exc:
                raise OutcomeUnknown(PROVIDER, operation, type(exc).__name__) from exc
            answer = http_answer(response)
            self.debug(operation, "POST", wire.TOKEN_PATH, answer)
            return token_of(answer, operation)

        token = await self.retrying(once)
        self.log.info("airtel.token.refreshed", lifetime_s=token.lifetime_s)
        return token

    async def _token(self, operation: str, reference: str | None, refused: str | None) -> str:
        """A token for ``operation``. Failing to get one means the call was never sent."""
        try:
            return await self.tokens.get(refused=refused)
        except AuthenticationFailed as exc:
            raise AuthenticationFailed(
                PROVIDER, operation, f"no token: {exc.detail}",
                provider_code=exc.provider_code, reference=reference,
            ) from exc  # fmt: skip
        except ProviderError as exc:
            raise NoToken(
                PROVIDER, operation, f"no token, request not sent: {exc.detail}",
                provider_code=exc.provider_code, reference=reference,
            ) from exc  # fmt: skip

    # --- one exchange --------------------------------------------------------------------

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "*/*",
            wire.HEADER_COUNTRY: self.country,
            wire.HEADER_CURRENCY: self.currency,
        }

    async def exchange(
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
    ) -> Answer:
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
                key = await self.keys.get(operation, reference)
                signature = crypto.sign_body(content, key)
                headers[wire.HEADER_SIGNATURE] = signature.x_signature
                headers[wire.HEADER_KEY] = signature.x_key
            try:
                response = await self.http.request(
                    method,
                    self.base_url + path,
                    content=content,
                    headers=headers,
                    params=params,
                    extensions=http_operation(operation),
                )
            except httpx.TransportError as exc:
                self.log.warning(
                    "airtel.transport_error", operation=operation, reference=reference,
                    error=type(exc).__name__,
                )  # fmt: skip
                raise classify_transport_error(exc, PROVIDER, operation, reference) from exc
            except httpx.RequestError as exc:  # e.g. a body that cannot be decoded
                raise OutcomeUnknown(
                    PROVIDER, operation, f"{type(exc).__name__} reading the answer",
                    reference=reference,
                ) from exc  # fmt: skip
            answer = http_answer(response)
            self.debug(operation, method, path, answer, reference=reference, write=write)
            if _invalid_token(answer):
                if attempt == 1:
                    self.log.info("airtel.token.refused", operation=operation)
                    refused = token
                    continue
                raise AuthenticationFailed(
                    PROVIDER, operation, "a freshly issued token was refused",
                    provider_code="invalid_token", reference=reference,
                )  # fmt: skip
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    async def write(
        self, operation: str, path: str, body: dict[str, Any], *, sign: bool, reference: str
    ) -> Answer:
        """A money-moving call: never retried."""
        return await self.exchange(
            operation, "POST", path, write=True, body=body, sign=sign, reference=reference
        )

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Repeat a safe call. Not when the token could not be had: the token fetch has
        already retried, and retrying around it would multiply the attempts."""

        async def guarded() -> T:
            try:
                return await call()
            except NoToken as exc:
                raise _GiveUp(exc) from exc

        try:
            # initial_s stays 1.0: any other value makes tenacity 9.2 emit a
            # DeprecationWarning from retry_safe; the waits are capped by max_s
            return await retry_safe(guarded, attempts=self.retry_attempts, max_s=self.retry_max_s)
        except _GiveUp as stop:
            raise stop.error from stop.error.__cause__

    # --- logging -------------------------------------------------------------------------

    def debug(
        self,
        operation: str,
        method: str,
        path: str,
        answer: Answer,
        *,
        reference: str | None = None,
        write: bool = False,
    ) -> None:
        """Request/response detail when DEBUG_AIRTEL is on: codes and ids, never bodies
        (they hold PINs, tokens and numbers)."""
        if not self.settings.debug:
            return
        body: dict[str, Any] = answer.body if isinstance(answer.body, dict) else {}
        raw_status = body.get("status")
        status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
        self.log.debug(
            "airtel.http", operation=operation, method=method,
            path=_redact_path(path), reference=reference, write=write,
            http_status=answer.http_status, elapsed_ms=answer.elapsed_ms,
            response_code=status.get("response_code"), result_code=status.get("result_code"),
            status_code=body.get("status_code"), error=body.get("error"),
        )  # fmt: skip


def _invalid_token(answer: Answer) -> bool:
    """§2: 401 or 403 ``invalid_token`` (a bare 401 too) → refresh once and resend."""
    if answer.http_status not in (401, 403):
        return False
    body = answer.body
    if isinstance(body, dict) and body.get("error") == "invalid_token":
        return True
    return answer.http_status == 401 and not (isinstance(body, dict) and "status" in body)


def _redact_path(path: str) -> str:
    """KYC paths carry an MSISDN: keep the last 3 digits only."""
    prefix = wire.USER_ENQUIRY_PATH.split("{", 1)[0]
    if path.startswith(prefix) and path != wire.BALANCE_PATH:
        return prefix + wire.mask_msisdn(path[len(prefix) :])
    return path
