"""Group commit for incoming callbacks.

A callback is acknowledged only once it is stored, and a busy provider sends hundreds a
second: one transaction each would spend the API's time on round trips and commits.
Requests hand their callback to the :class:`Intake` and wait; one writer task stores
whatever has queued up meanwhile in a single transaction and answers each request
(new or duplicate) — or fails them all, so the provider retries. Under light load a
batch is one callback and nothing waits longer than before.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from qmoi.services.ports import UnitOfWorkFactory
from qmoi.services.transient import with_patience

MAX_BATCH = 256


@dataclass(frozen=True, slots=True)
class Arrival:
    provider: str
    kind: str
    event_id: str
    body: str


class Intake:
    """Stores callbacks for the requests of one event loop, in batches."""

    def __init__(self, uows: UnitOfWorkFactory, max_batch: int = MAX_BATCH) -> None:
        self._uows = uows
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Arrival, asyncio.Future[bool]]] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def store(self, arrival: Arrival) -> bool:
        """Store ``arrival``; True when new, False when already stored (a duplicate)."""
        if self._queue is None or self._writer is None or self._writer.done():
            self._queue = asyncio.Queue()
            self._writer = asyncio.create_task(self._write_batches(self._queue))
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((arrival, future))
        return await future

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_batches(
        self, queue: asyncio.Queue[tuple[Arrival, asyncio.Future[bool]]]
    ) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                new = await asyncio.to_thread(self._write, [arrival for arrival, _ in batch])
            except Exception as exc:  # the database refused: every request fails, retried
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), is_new in zip(batch, new, strict=True):
                if not future.done():
                    future.set_result(is_new)

    def _write(self, arrivals: list[Arrival]) -> list[bool]:
        # Daraja sends a callback once: a database restart must not refuse it.
        return with_patience(lambda: self._write_once(arrivals), "callbacks")

    def _write_once(self, arrivals: list[Arrival]) -> list[bool]:
        with self._uows() as uow:
            new = uow.inbox.add_many(
                [(a.provider, a.kind, a.event_id, a.body) for a in arrivals], uow.now
            )
            uow.commit()
        return new
