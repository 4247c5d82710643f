"""The Airtel OAuth2 bearer token, cached per connector and refreshed before it expires.

Follows ``docs/providers/airtel.md`` §2: client-credentials tokens live about
180 s (``expires_in`` as a string or an integer; not an hour), so the cache refreshes
``margin_s`` early, and once more when a call is answered ``invalid_token`` (401/403).
Concurrent callers share one refresh: the first starts a single in-flight fetch and
every caller arriving meanwhile awaits that same fetch (and shares its failure, so a
down token endpoint is not hammered once per waiting caller). A refresh asked for
because a specific token was refused is skipped when another caller has already
replaced that token.

This module must never log or expose the token or the client secret; the fetch itself
(HTTP, retries) is the session's (:mod:`.session`) and is passed in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

#: §2: "about 180 seconds"; used when an answer has no usable ``expires_in``.
DEFAULT_LIFETIME_S = 180.0


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    lifetime_s: float


@dataclass(slots=True)
class _Cached:
    value: str
    refresh_at: float  # monotonic seconds


class TokenCache:
    """One token at a time, fetched through ``fetch`` by one in-flight task."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Token]],
        *,
        margin_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if margin_s < 0:
            raise ValueError("margin_s must not be negative")
        self._fetch = fetch
        self._margin_s = margin_s
        self._monotonic = monotonic
        self._cached: _Cached | None = None
        self._inflight: asyncio.Future[str] | None = None
        self.fetches = 0  # how many tokens were requested (for tests and metrics)

    def _fresh(self, refused: str | None) -> str | None:
        cached = self._cached
        if cached is None or cached.value == refused:
            return None
        if self._monotonic() >= cached.refresh_at:
            return None
        return cached.value

    async def get(self, *, refused: str | None = None) -> str:
        """A valid token. ``refused``: the token a call was just refused with — a new one
        is fetched unless another caller already replaced it."""
        token = self._fresh(refused)
        if token is not None:
            return token
        inflight = self._inflight
        if inflight is None:
            inflight = asyncio.ensure_future(self._refresh())
            inflight.add_done_callback(_consume)
            self._inflight = inflight
        # shield: one caller giving up must not cancel the fetch the others wait for
        return await asyncio.shield(inflight)

    async def _refresh(self) -> str:
        try:
            self.fetches += 1
            fetched = await self._fetch()
            lifetime = fetched.lifetime_s if fetched.lifetime_s > 0 else DEFAULT_LIFETIME_S
            # refresh margin_s early, but never use less than half of a short lifetime
            usable = max(lifetime - self._margin_s, lifetime / 2)
            self._cached = _Cached(fetched.value, self._monotonic() + usable)
            return fetched.value
        finally:
            self._inflight = None

    def clear(self) -> None:
        self._cached = None


def _consume(future: asyncio.Future[str]) -> None:
    """Mark a failed fetch's exception as retrieved even if every waiter went away."""
    if not future.cancelled():
        future.exception()
