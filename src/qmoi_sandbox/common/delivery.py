"""Delivery of callbacks to the merchant, as a provider's notifier does it.

A callback is POSTed as JSON; anything but a 2xx answer (or no answer) is retried with
a growing pause, a bounded number of times. Fault injection can lose, duplicate or delay
a callback, or hold one back a random while so that later ones overtake it. Every
attempt is logged for the inspection API.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from qmoi_sandbox.common.clock import SimClock
from qmoi_sandbox.common.faults import FaultInjector


@dataclass
class DeliveryAttempt:
    at: datetime
    status: int | None
    error: str | None = None


@dataclass
class Delivery:
    """One callback the emulator owes the merchant."""

    id: int
    url: str
    body: dict[str, Any]
    headers: dict[str, str]
    transaction_id: str
    #: "lost" | "duplicate" | "late" | "out_of_order" when one was injected
    fault: str | None = None
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    delivered: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "transaction_id": self.transaction_id,
            "fault": self.fault,
            "delivered": self.delivered,
            "attempts": [
                {"at": a.at.isoformat(), "status": a.status, "error": a.error}
                for a in self.attempts
            ],
            "body": self.body,
        }


class CallbackSender:
    """Sends callbacks in the background; ``close()`` cancels what is still waiting."""

    def __init__(
        self,
        clock: SimClock,
        faults: FaultInjector,
        *,
        max_attempts: int = 5,
        first_retry_s: float = 30.0,
        timeout_s: float = 10.0,
        log_size: int = 100_000,
    ) -> None:
        self._clock = clock
        self._faults = faults
        self._max_attempts = max_attempts
        self._first_retry_s = first_retry_s
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self.log: deque[Delivery] = deque(maxlen=log_size)

    def send(
        self,
        url: str,
        body: dict[str, Any],
        *,
        transaction_id: str,
        headers: dict[str, str] | None = None,
        delay_s: float = 0.0,
    ) -> Delivery:
        """Schedule a callback ``delay_s`` simulated seconds from now, with faults applied."""
        delivery = Delivery(next(self._ids), url, body, dict(headers or {}), transaction_id)
        self.log.append(delivery)
        if self._faults.roll("lost_callback"):
            delivery.fault = "lost"
            return delivery
        copies = 1
        if self._faults.roll("out_of_order_callback"):
            # Held back a random while: callbacks sent after it can arrive before it.
            delivery.fault = "out_of_order"
            delay_s += self._faults.uniform(0.0, self._faults.faults.out_of_order_max_delay_s)
        if self._faults.roll("late_callback"):
            delivery.fault = "late"
            delay_s += self._faults.faults.late_callback_delay_s
        elif self._faults.roll("duplicate_callback"):
            delivery.fault = "duplicate"
            copies = 2
        for copy in range(copies):
            self._spawn(self._deliver(delivery, delay_s + copy * 1.0))
        return delivery

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: Delivery, delay_s: float) -> None:
        if delay_s:
            await self._clock.sleep(delay_s)
        pause = self._first_retry_s
        for _ in range(self._max_attempts):
            status: int | None = None
            error: str | None = None
            try:
                answer = await self._client.post(
                    delivery.url, json=delivery.body, headers=delivery.headers
                )
                status = answer.status_code
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            delivery.attempts.append(DeliveryAttempt(self._clock.now(), status, error))
            if status is not None and 200 <= status < 300:
                delivery.delivered = True
                return
            await self._clock.sleep(pause)
            pause *= 2

    async def exchange(
        self,
        url: str,
        body: dict[str, Any],
        *,
        transaction_id: str,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[Delivery, httpx.Response | None]:
        """POST once now and return the merchant's answer (None if there was none).

        For requests the provider waits on, such as a C2B validation. Logged like a
        callback; the lost-callback fault applies (the merchant never sees it), while
        duplicate and late do not, and nothing is retried.
        """
        delivery = Delivery(next(self._ids), url, body, dict(headers or {}), transaction_id)
        self.log.append(delivery)
        if self._faults.roll("lost_callback"):
            delivery.fault = "lost"
            return delivery, None
        try:
            answer = await self._client.post(
                url,
                json=body,
                headers=delivery.headers,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s,
            )
        except httpx.HTTPError as exc:
            delivery.attempts.append(DeliveryAttempt(self._clock.now(), None, type(exc).__name__))
            return delivery, None
        delivery.attempts.append(DeliveryAttempt(self._clock.now(), answer.status_code))
        delivery.delivered = 200 <= answer.status_code < 300
        return delivery, answer

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait (real seconds) until every scheduled delivery has finished or given up."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)

    async def cancel(self) -> None:
        """Cancel every delivery still waiting and forget the log; the sender stays usable."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.log.clear()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()
