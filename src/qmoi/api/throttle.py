"""Repeated failed authentication from one source is refused for a while, never waited
out: after :data:`FREE` failed keys, each within :data:`WINDOW_S` of the one before, the
source is blocked for :data:`FIRST_BLOCK_S`, doubling with each further failure (at most
:data:`MAX_BLOCK_S`), and every key it presents meanwhile is answered ``429
too_many_attempts`` with ``Retry-After`` — without being checked, so a blocked source
learns nothing. Once a block has passed, one attempt at a time is checked: a burst of
guesses sent the moment a block ends gets one answer, not one per guess. A source
without a failure for :data:`WINDOW_S` starts afresh.

Nothing sleeps: a request held asleep in a worker thread is a thread a genuine request
(a provider's callback, which needs no key and is never throttled) cannot use. In
memory, per process, bounded; the clock is injectable so tests need not wait."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("qmoi.api.auth")

FREE = 5
WINDOW_S = 60.0
FIRST_BLOCK_S = 1.0
MAX_BLOCK_S = 60.0
MAX_SOURCES = 10_000


@dataclass
class _Source:
    failures: int = 0
    last_failure: float = 0.0
    blocked_until: float = 0.0


class AuthThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sources: OrderedDict[str, _Source] = OrderedDict()

    def admit(self, source: str) -> int | None:
        """Before a key from ``source`` is checked: ``None`` to check it, or the whole
        seconds it must wait (answer 429 with ``Retry-After``)."""
        now = self._clock()
        with self._lock:
            entry = self._sources.get(source)
            if entry is None:
                return None
            if now < entry.blocked_until:
                return max(1, math.ceil(entry.blocked_until - now))
            count = _prune(entry, now)
            if count >= FREE:  # over the limit: this attempt alone, until its outcome
                entry.blocked_until = now + _block(count + 1)
            return None

    def succeeded(self, source: str) -> None:
        """A key from ``source`` was valid: lift the block set while it was checked."""
        with self._lock:
            entry = self._sources.get(source)
            if entry is not None:
                entry.blocked_until = 0.0

    def failed(self, source: str) -> int | None:
        """Record a failed attempt from ``source``; returns the seconds it is now blocked
        for, or ``None`` while it is within :data:`FREE`."""
        now = self._clock()
        with self._lock:
            entry = self._sources.pop(source, None) or _Source()
            count = _prune(entry, now) + 1
            entry.failures, entry.last_failure = count, now
            self._sources[source] = entry  # most recent last: the oldest are forgotten first
            while len(self._sources) > MAX_SOURCES:
                self._sources.popitem(last=False)
            if count < FREE:
                entry.blocked_until = 0.0
                return None
            block = _block(count)
            entry.blocked_until = now + block
        seconds = math.ceil(block)
        log.warning("auth.failed_repeatedly", source=source, failures=count, retry_after_s=seconds)
        return seconds


def _prune(entry: _Source, now: float) -> int:
    """The source's failures, forgotten after a quiet window."""
    if now - entry.last_failure > WINDOW_S:
        entry.failures = 0
    return entry.failures


def _block(failures: int) -> float:
    doublings = min(failures - FREE, 16)  # bounded: a float power overflows in the end
    return min(MAX_BLOCK_S, FIRST_BLOCK_S * 2.0**doublings)
