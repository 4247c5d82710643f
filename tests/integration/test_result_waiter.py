"""Daraja's asynchronous results across processes: the API process that receives a
result stores it, and a waiter in a worker process (its own waiter object, the same
database) finds it; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from qmoi.db.uow import UnitOfWorkFactory
from qmoi.services.results import StoredResultWaiter

pytestmark = pytest.mark.mpesa

RESULT = {"ResultCode": 0, "ConversationID": "AG_1", "DebitPartyCharges": "Fee|KES|22.40"}


async def test_a_result_received_by_one_process_reaches_a_waiter_in_another(
    uows: UnitOfWorkFactory,
) -> None:
    api, worker = StoredResultWaiter(uows, "mpesa"), StoredResultWaiter(uows, "mpesa")
    waiting = asyncio.create_task(worker.wait("AG_1", timeout_s=5.0))
    await asyncio.sleep(0.3)
    await asyncio.to_thread(api.deliver, "AG_1", RESULT)
    assert await waiting == RESULT
    # the same result delivered twice (Daraja retries) is kept once and still readable
    await asyncio.to_thread(api.deliver, "AG_1", RESULT)
    assert await worker.wait("AG_1", timeout_s=1.0) == RESULT


async def test_a_result_that_never_comes_is_none_after_the_timeout(
    uows: UnitOfWorkFactory,
) -> None:
    api, worker = StoredResultWaiter(uows, "mpesa"), StoredResultWaiter(uows, "mpesa")
    await asyncio.to_thread(api.deliver, "AG_other", RESULT)
    assert await worker.wait("AG_missing", timeout_s=0.6) is None
