"""Which connector serves which provider: :func:`build_provider` builds it from settings.

This is the one module outside ``providers/airtel`` and ``providers/mpesa`` that knows
both connectors. The bootstrap and ``qmoi validate --online`` build their connectors
here, and a process that receives Daraja's asynchronous results hands them to its
:class:`ResultWaiter` through :func:`answer_route` and :func:`hand_over_result`, without
knowing Daraja's field names.

It must never start an emulator (only the CLI imports ``qmoi_sandbox``), read the
environment, or return or log a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

from qmoi.config import Settings
from qmoi.errors import ConfigError
from qmoi.providers.airtel import AirtelConnector
from qmoi.providers.base import (
    CallbackKind,
    Capabilities,
    InMemoryResultWaiter,
    PaymentProvider,
    ProviderName,
    ResultWaiter,
)
from qmoi.providers.mpesa import callbacks as mpesa_callbacks
from qmoi.providers.mpesa.client import RESULT_TIMEOUT_S, MpesaConnector

#: Where QMOI mounts the M-Pesa callbacks under its public URL. Daraja refuses callback
#: URLs containing "mpesa", "query", "exe"… (docs/providers/mpesa.md §13.5), so
#: the neutral ``/hooks/{MPESA_CALLBACK_TOKEN}`` is the prefix registered with Daraja.
MPESA_CALLBACK_PREFIX = "/hooks"


def mpesa_callback_base(settings: Settings) -> str:
    """``{QMOI_PUBLIC_URL}/hooks/{MPESA_CALLBACK_TOKEN}``: the base of every M-Pesa callback
    URL sent to Daraja. It holds the secret token: never print or log it."""
    token = settings.mpesa.callback_token
    if settings.public_url is None:
        raise ConfigError(
            "QMOI_PUBLIC_URL: is not set, so Daraja has nowhere to post M-Pesa results — "
            "give the https URL where QMOI is reachable"
        )
    if token is None or not token.get_secret_value():
        raise ConfigError(
            "MPESA_CALLBACK_TOKEN: is not set, so there is no M-Pesa callback URL — set at "
            "least 24 random characters (e.g. `openssl rand -hex 16`)"
        )
    return f"{settings.public_url.rstrip('/')}{MPESA_CALLBACK_PREFIX}/{token.get_secret_value()}"


@overload
def build_provider(
    settings: Settings,
    name: Literal["airtel"],
    *,
    base_url: str | None = None,
    results: ResultWaiter | None = None,
    callback_base_url: str | None = None,
    result_timeout_s: float | None = None,
) -> AirtelConnector: ...


@overload
def build_provider(
    settings: Settings,
    name: Literal["mpesa"],
    *,
    base_url: str | None = None,
    results: ResultWaiter | None = None,
    callback_base_url: str | None = None,
    result_timeout_s: float | None = None,
) -> MpesaConnector: ...


@overload
def build_provider(
    settings: Settings,
    name: ProviderName,
    *,
    base_url: str | None = None,
    results: ResultWaiter | None = None,
    callback_base_url: str | None = None,
    result_timeout_s: float | None = None,
) -> PaymentProvider: ...


def build_provider(
    settings: Settings,
    name: ProviderName,
    *,
    base_url: str | None = None,
    results: ResultWaiter | None = None,
    callback_base_url: str | None = None,
    result_timeout_s: float | None = None,
) -> PaymentProvider:
    """The connector for ``name``, configured from ``settings``.

    ``base_url`` overrides ``AIRTEL_BASE_URL`` / ``MPESA_BASE_URL`` and the environment's
    host; the sandbox has no host of its own, so there it must point at an emulator.
    M-Pesa only: ``results`` is where Daraja's result callbacks meet the calls waiting
    for them (default: a new :class:`InMemoryResultWaiter`, enough for one process);
    ``callback_base_url`` is where Daraja posts them (default:
    :func:`mpesa_callback_base`); ``result_timeout_s`` bounds each wait. Airtel ignores
    these three (Airtel posts to the callback URL registered in its portal).

    Raises :class:`ConfigError` when the settings cannot make a working connector. The
    caller owns the connector and must ``await provider.aclose()``.
    """
    if name == "airtel":
        return AirtelConnector(settings.airtel, base_url=base_url)
    if name == "mpesa":
        return MpesaConnector(
            settings.mpesa,
            callback_base_url=(
                mpesa_callback_base(settings) if callback_base_url is None else callback_base_url
            ),
            results=results if results is not None else InMemoryResultWaiter(),
            base_url=base_url,
            result_timeout_s=RESULT_TIMEOUT_S if result_timeout_s is None else result_timeout_s,
        )
    raise ValueError(f"no connector for provider {name!r}")


def capabilities_for(name: ProviderName) -> Capabilities:
    """What the connector for ``name`` says of its provider, before one is built."""
    connector = AirtelConnector if name == "airtel" else MpesaConnector
    return connector.capabilities


def base_url_of(provider: PaymentProvider) -> str:
    """The API host a connector talks to (no credentials in it)."""
    if isinstance(provider, AirtelConnector | MpesaConnector):
        return provider.base_url
    raise TypeError(f"not a QMOI connector: {type(provider).__name__}")


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A fresh access token was issued; only its lifetime is kept, never the token."""

    lifetime_s: float


async def fetch_token(provider: PaymentProvider) -> TokenGrant:
    """Ask the provider for a fresh access token (bypassing the connector's cache) and
    say how long it lives: the proof that the app credentials and the host are right.

    Raises :class:`~qmoi.providers.base.AuthenticationFailed` when the credentials are
    refused, :class:`~qmoi.providers.base.NotSent` when the host cannot be reached, any
    other :class:`~qmoi.providers.base.ProviderError` for an unusable answer, and
    :class:`ConfigError` when no credentials are configured.
    """
    if isinstance(provider, AirtelConnector | MpesaConnector):
        return TokenGrant(await provider.fresh_token_lifetime())  # retried inside
    raise TypeError(f"not a QMOI connector: {type(provider).__name__}")


def answer_route(name: ProviderName, sub_path: str) -> tuple[CallbackKind, str] | None:
    """The kind and answer tag of a callback sub-path (below the callback base URL) that
    answers one query of ours — Daraja's balance, transaction-status and reversal results
    and their queue timeouts, each at its query's own tagged URL. None for any other
    path; Airtel answers nothing by callback that a call waits for."""
    if name != "mpesa":
        return None
    found = mpesa_callbacks.route(sub_path)
    if found is None or found[1] is None or found[0] not in mpesa_callbacks.WAITED_KINDS:
        return None
    return found[0], found[1]


def hand_over_result(
    name: ProviderName, kind: CallbackKind, tag: str, body: bytes, results: ResultWaiter
) -> bool:
    """Parse one result callback of ``kind`` that came with answer tag ``tag`` and deliver
    it to ``results``; False when no call waits for this kind. Raises
    :class:`~qmoi.providers.base.CallbackRejected` for a body that is not such a result."""
    if name != "mpesa" or kind not in mpesa_callbacks.WAITED_KINDS:
        return False
    event = mpesa_callbacks.parse_callback(kind, body)
    delivery = mpesa_callbacks.waiter_delivery(event, tag)
    if delivery is None:
        return False
    results.deliver(*delivery)
    return True
