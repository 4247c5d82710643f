"""The one HTTP seam both connectors use: pooled clients, explicit timeouts, the line
between "never sent" and "sent, outcome unknown", and bounded retries for safe calls.

httpx tells us how far a request got: a ``ConnectError``/``ConnectTimeout``/``PoolTimeout``
means no byte of the request reached the provider (safe to send again with the same
reference); a ``ReadTimeout``, ``WriteTimeout`` or dropped connection after sending means
the provider may have acted (ask, never resend). Retries are for calls that are safe to
repeat — token, enquiries, balance — never for money-moving calls.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from prometheus_client import Histogram
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from qmoi.providers.base import NotSent, OutcomeUnknown, ProviderError

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=20)


#: the request extension naming a call's operation (its latency label)
OPERATION = "qmoi_operation"

PROVIDER_LATENCY = Histogram(
    "qmoi_provider_request_seconds",
    "Time from sending a request to a provider to its answer's headers (this process).",
    ["provider", "operation", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def operation(name: str) -> dict[str, str]:
    """``extensions=`` for a request: names its operation for the latency histogram."""
    return {OPERATION: name}


class TimedTransport(httpx.AsyncBaseTransport):
    """Observes every provider request in :data:`PROVIDER_LATENCY`, labelled by provider,
    operation (bounded: the connector's operation names) and outcome (``2xx``… or
    ``error`` when no answer came)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, provider: str) -> None:
        self._inner = inner
        self._provider = provider

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        outcome = "error"
        try:
            response = await self._inner.handle_async_request(request)
            outcome = f"{response.status_code // 100}xx"
            return response
        finally:
            PROVIDER_LATENCY.labels(
                self._provider, str(request.extensions.get(OPERATION, "other")), outcome
            ).observe(time.perf_counter() - started)

    async def aclose(self) -> None:
        await self._inner.aclose()


def make_client(
    base_url: str,
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    limits: httpx.Limits = DEFAULT_LIMITS,
    transport: httpx.AsyncBaseTransport | None = None,
    provider: str = "other",
) -> httpx.AsyncClient:
    """One pooled async client per connector (and per base URL), its requests timed."""
    inner = transport or httpx.AsyncHTTPTransport(limits=limits)
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        timeout=timeout,
        limits=limits,
        transport=TimedTransport(inner, provider),
        follow_redirects=False,
        headers={"Accept": "application/json"},
    )


def classify_transport_error(
    exc: httpx.TransportError, provider: str, operation: str, reference: str | None = None
) -> ProviderError:
    """Map an httpx failure to :class:`NotSent` or :class:`OutcomeUnknown`."""
    not_sent = (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.UnsupportedProtocol,
    )
    detail = f"{type(exc).__name__} talking to the provider"
    if isinstance(exc, not_sent):
        return NotSent(provider, operation, detail, reference=reference)
    return OutcomeUnknown(provider, operation, detail, reference=reference)


async def retry_safe(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int = 4,
    initial_s: float = 0.2,
    max_s: float = 5.0,
) -> T:
    """Run a call that is safe to repeat, retrying transport failures and unknown outcomes
    with exponential backoff and jitter, a bounded number of times."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(multiplier=initial_s, max=max_s, jitter=initial_s),
        retry=retry_if_exception_type((NotSent, OutcomeUnknown)),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover
