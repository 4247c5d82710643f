"""Where Daraja's asynchronous answers (balance, transaction status, reversal results)
meet the call waiting for them, across processes.

The API process that receives a result stores it in the inbox under ``result:{key}``
(the answer tag of the URL it came to, made for that one query) and hands it to its own
waiters; a worker in another process waiting for that key finds it in the inbox. The
first answer stored for a key is the one read: only the provider knows the key.
Implements the providers' ResultWaiter.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from qmoi.providers.base import InMemoryResultWaiter
from qmoi.services.ports import UnitOfWorkFactory

POLL_S = 0.25


def result_event_id(key: str) -> str:
    return f"result:{key}"


class StoredResultWaiter:
    """In-process delivery when the result arrives here, the inbox when it arrives at
    another process. ``provider``: whose results these are (the inbox keeps them under
    that provider's name); the bootstrap names it."""

    def __init__(self, uows: UnitOfWorkFactory, provider: str) -> None:
        self._uows = uows
        self._provider = provider
        self._local = InMemoryResultWaiter()

    async def wait(self, key: str, timeout_s: float) -> Mapping[str, Any] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            left = deadline - loop.time()
            if left <= 0:
                return None
            found = await self._local.wait(key, min(POLL_S, left))
            if found is not None:
                return found
            stored = await asyncio.to_thread(self._stored, key)
            if stored is not None:
                return stored

    def _stored(self, key: str) -> Mapping[str, Any] | None:
        with self._uows(read_only=True) as uow:
            body = uow.inbox.body_of(self._provider, result_event_id(key))
        if body is None:
            return None
        found: Mapping[str, Any] = json.loads(body)
        return found

    def deliver(self, key: str, body: Mapping[str, Any]) -> None:
        """Keep the result for waiters in other processes, then wake any waiting here."""
        with self._uows() as uow:
            uow.inbox.add(
                self._provider,
                "result",
                result_event_id(key),
                json.dumps(body, default=str),
                uow.now,
                status="answer",
            )
            uow.commit()
        self._local.deliver(key, body)
