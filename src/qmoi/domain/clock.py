"""Time: a ``Clock`` is passed in, never read from globals, and days are calendar days
in the configured time zone (stored instants are UTC).

The sandbox runs a simulated day in minutes with :class:`ScaledClock`; tests stand at
23:59:59 in Nairobi with :class:`ManualClock`.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = _require_aware(start).astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = _require_aware(instant).astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


class ScaledClock:
    """Wall time ``speed`` times faster from ``start`` (the sandbox's accelerated day).

    ``origin`` is the wall-clock epoch second at which the clock stood at ``start``; another
    process given the same three values tells the same time (the CLI beside ``qmoi start``).
    """

    def __init__(self, start: datetime, speed: float = 1.0, origin: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = _require_aware(start).astimezone(UTC)
        self.origin = time.time() if origin is None else origin
        self.speed = speed

    @property
    def start(self) -> datetime:
        return self._start

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.time() - self.origin) * self.speed)


def _require_aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant!r} has no time zone; QMOI only handles aware instants")
    return instant


def business_day(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar day ``instant`` falls on in ``tz``."""
    return _require_aware(instant).astimezone(tz).date()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of ``day`` in ``tz``, as UTC instants."""
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)
