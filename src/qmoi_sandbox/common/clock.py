"""A simulated clock: real elapsed time multiplied by ``speed`` from a chosen start.

``qmoi start --speed 60`` runs a simulated hour per real minute; QMOI and both emulators
are started with the same start and speed, so their clocks agree.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """UTC time that runs ``speed`` times faster than the wall clock."""

    def __init__(
        self, start: datetime | None = None, speed: float = 1.0, origin: float | None = None
    ) -> None:
        """``origin``: the wall-clock epoch second at which the clock stood at ``start``,
        so a clock made later, or elsewhere, tells the same time as the one it copies;
        without it the clock starts now (and is immune to wall-clock jumps)."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self._wall = origin is not None
        self._origin = origin if origin is not None else time.monotonic()
        self.speed = speed

    def now(self) -> datetime:
        clock = time.time() if self._wall else time.monotonic()
        return self._start + timedelta(seconds=(clock - self._origin) * self.speed)

    def real_seconds(self, simulated_seconds: float) -> float:
        return max(0.0, simulated_seconds / self.speed)

    async def sleep(self, simulated_seconds: float) -> None:
        await asyncio.sleep(self.real_seconds(simulated_seconds))
