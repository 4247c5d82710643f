"""Repeated failed authentication from one source is slowed down and logged: after
:data:`FREE` failures within :data:`WINDOW_S`, each further attempt from that address
waits longer (doubling, at most :data:`MAX_DELAY_S`) before it is answered. In memory,
per process, bounded."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

import structlog

log = structlog.get_logger("qmoi.api.auth")

FREE = 5
WINDOW_S = 60.0
MAX_DELAY_S = 5.0
MAX_SOURCES = 10_000


class AuthThrottle:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def failed(self, source: str) -> float:
        """Record a failed attempt from ``source``; returns the delay it was given."""
        now = time.monotonic()
        with self._lock:
            seen = self._failures.pop(source, deque())
            while seen and now - seen[0] > WINDOW_S:
                seen.popleft()
            seen.append(now)
            self._failures[source] = seen
            while len(self._failures) > MAX_SOURCES:
                self._failures.popitem(last=False)
            count = len(seen)
        if count <= FREE:
            return 0.0
        delay = min(MAX_DELAY_S, 0.25 * 2.0 ** (count - FREE - 1))
        log.warning("auth.failed_repeatedly", source=source, failures=count, delay_s=delay)
        time.sleep(delay)
        return delay
