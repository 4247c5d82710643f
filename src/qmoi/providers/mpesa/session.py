"""One M-Pesa connector's session: HTTP client, bearer token, retries and one request.

Every job module (collections, payouts, queries, account, C2B) talks to Daraja through
:meth:`MpesaSession.call`, so the rules that protect money are kept in one place:

* one bearer token per connector, refreshed ~60 s before expiry, and once (then the
  request resent once) when Daraja calls it invalid — Daraja refuses it at the gate,
  so nothing was processed; concurrent callers share a single refresh;
* a connection that never opened raises :class:`NotSent`; a timeout, 5xx or unreadable
  answer after sending raises :class:`OutcomeUnknown`;
* only calls that are safe to repeat go through :meth:`MpesaSession.retrying`.

It also holds the configuration every job needs (shortcode, initiator credential, STK
password, callback URLs), failing with :class:`ConfigError` naming the variable to set.
It must never log a secret — consumer key/secret, token, passkey, STK password,
initiator password, SecurityCredential — nor a full MSISDN.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import structlog

from qmoi.config import Environment, MpesaSettings
from qmoi.domain.clock import Clock, SystemClock
from qmoi.errors import ConfigError
from qmoi.providers.base import (
    AuthenticationFailed,
    NotSent,
    OutcomeUnknown,
    ProviderName,
    Rejected,
    ResultWaiter,
)
from qmoi.providers.http import DEFAULT_TIMEOUT, classify_transport_error, make_client, retry_safe
from qmoi.providers.http import operation as http_operation
from qmoi.providers.mpesa import crypto, translate, wire
from qmoi.providers.mpesa.answers import QueryInProgress, error_of, read_answer
from qmoi.providers.mpesa.sources import parse_allowlist
from qmoi.providers.mpesa.translate import ErrorKind, mask_msisdn

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

__all__ = [
    "FORBIDDEN_URL_WORDS",
    "PRODUCTION_BASE_URL",
    "PROVIDER",
    "RESULT_TIMEOUT_S",
    "STAGING_BASE_URL",
    "TOKEN_REFRESH_MARGIN_S",
    "MpesaSession",
    "QueryInProgress",
    "default_base_url",
    "logger",
]


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


class MpesaSession:
    """What every Daraja call shares. See :class:`MpesaConnector` for the arguments."""

    def __init__(
        self,
        settings: MpesaSettings,
        *,
        callback_base_url: str,
        results: ResultWaiter,
        base_url: str | None,
        client: httpx.AsyncClient | None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Clock | None,
        result_timeout_s: float,
        retry_attempts: int,
        retry_initial_s: float,
        retry_max_s: float,
    ) -> None:
        self.settings = settings
        self.results = results
        self.clock: Clock = clock or SystemClock()
        self._callback_base = callback_base_url.rstrip("/")
        chosen = base_url or settings.base_url or default_base_url(settings.environment)
        self.base_url = chosen.rstrip("/")
        self._owns_client = client is None
        self.http = client or make_client(self.base_url, timeout=timeout, provider=PROVIDER)
        self.result_timeout_s = result_timeout_s
        self._retry_attempts = retry_attempts
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._token: str | None = None
        self._token_refresh_at: datetime | None = None
        self._token_lock = asyncio.Lock()
        try:
            self.allowlist = parse_allowlist(settings.callback_allowlist)
        except ValueError as exc:
            raise ConfigError(f"MPESA_CALLBACK_ALLOWLIST: {exc} — fix the entry") from None
        self._check_callback_base()

    async def aclose(self) -> None:
        if self._owns_client:
            await self.http.aclose()

    # --- configuration -------------------------------------------------------------------

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
            if not self.allowlist:
                logger.warning("MPESA_CALLBACK_ALLOWLIST is empty: callback sources unchecked")

    def callback_url(self, sub_path: str) -> str:
        """The absolute URL Daraja must call for one of the callback sub-paths."""
        return f"{self._callback_base}{sub_path}"

    @property
    def shortcodes(self) -> frozenset[str]:
        """Our shortcodes (paybill/store and till) as C2B callbacks name them."""
        codes = {self.settings.shortcode, self.settings.till_number}
        return frozenset(c for c in codes if c)

    def require(self, value: str | None, variable: str, fix: str) -> str:
        if not value:
            raise ConfigError(f"{variable}: is not set — {fix}")
        return value

    def shortcode(self) -> str:
        return self.require(self.settings.shortcode, "MPESA_SHORTCODE", "give your shortcode")

    def initiator(self) -> tuple[str, str]:
        """The initiator name and a fresh SecurityCredential (§4)."""
        name = self.require(
            self.settings.initiator_name, "MPESA_INITIATOR_NAME", "set the API operator name"
        )
        password = self.settings.initiator_password
        if password is None or not password.get_secret_value():
            raise ConfigError("MPESA_INITIATOR_PASSWORD: is not set — set the operator password")
        certificate = self.require(
            self.settings.certificate, "MPESA_CERTIFICATE", "give Safaricom's certificate"
        )
        try:
            credential = crypto.security_credential(password.get_secret_value(), certificate)
        except crypto.CredentialError as exc:
            raise ConfigError(f"MPESA_CERTIFICATE: {exc} — check the certificate") from None
        return name, credential

    def stk_secrets(self) -> tuple[str, str, str]:
        """Shortcode, timestamp and Password for an STK request."""
        shortcode = self.shortcode()
        passkey = self.settings.passkey
        if passkey is None or not passkey.get_secret_value():
            raise ConfigError("MPESA_PASSKEY: is not set — copy the Lipa na M-Pesa passkey")
        timestamp = crypto.stk_timestamp(self.clock.now())
        return (
            shortcode,
            timestamp,
            crypto.stk_password(shortcode, passkey.get_secret_value(), timestamp),
        )

    def msisdn(self, msisdn: str, operation: str, reference: str | None) -> str:
        """A number Daraja takes (2547… / 2541…), or :class:`Rejected` before sending."""
        value = msisdn.strip()
        if not translate.is_msisdn(value):
            raise Rejected(
                PROVIDER, operation, f"refused before sending: {mask_msisdn(value)!r} is not an "
                "M-Pesa number in 2547XXXXXXXX or 2541XXXXXXXX form", reference=reference,
            )  # fmt: skip
        return value

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a call that is safe to repeat with bounded backoff (never a money call)."""
        return await retry_safe(
            call,
            attempts=self._retry_attempts,
            initial_s=self._retry_initial_s,
            max_s=self._retry_max_s,
        )

    # --- OAuth (§2) ----------------------------------------------------------------------

    async def access_token(self) -> str:
        """A valid bearer token; at most one refresh runs at a time."""
        token, refresh_at = self._token, self._token_refresh_at
        if token is not None and refresh_at is not None and self.clock.now() < refresh_at:
            return token
        async with self._token_lock:
            token, refresh_at = self._token, self._token_refresh_at
            if token is not None and refresh_at is not None and self.clock.now() < refresh_at:
                return token
            fresh, lifetime = await self.retrying(self.fetch_token)
            margin = min(TOKEN_REFRESH_MARGIN_S, lifetime / 2)
            self._token = fresh
            self._token_refresh_at = self.clock.now() + timedelta(seconds=lifetime - margin)
            logger.debug("token obtained", lifetime_s=lifetime)
            return fresh

    def _drop_token(self, refused: str) -> None:
        """Forget ``refused`` — unless another caller already replaced it."""
        if self._token == refused:
            self._token = None
            self._token_refresh_at = None

    async def fetch_token(self) -> tuple[str, int]:
        """A fresh token and its lifetime (s), bypassing the cache; sent once."""
        key = self.settings.consumer_key
        secret = self.settings.consumer_secret
        if key is None or secret is None:
            raise ConfigError(
                "MPESA_CONSUMER_KEY / MPESA_CONSUMER_SECRET: not set — copy them from the "
                "Daraja app (sandbox: the emulator's fixed credentials)"
            )
        try:
            response = await self.http.get(
                wire.OAUTH_PATH,
                params={"grant_type": "client_credentials"},
                auth=httpx.BasicAuth(key.get_secret_value(), secret.get_secret_value()),
                extensions=http_operation("oauth"),
            )
        except httpx.TransportError as exc:
            raise classify_transport_error(exc, PROVIDER, "oauth") from exc
        answer = read_answer(response)
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

    # --- one request ---------------------------------------------------------------------

    async def call(
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
                response = await self.http.post(
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
            answer = read_answer(response, answer_limit)
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
            raise error_of(operation, verdict, answer, money_moving, reference)
        raise AssertionError("unreachable")  # pragma: no cover
