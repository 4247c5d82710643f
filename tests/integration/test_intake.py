"""Group commit of incoming callbacks: concurrent requests share transactions, each
learns whether its callback was new or a duplicate, and a failed write fails every
request waiting on it (so providers retry) — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest

from qmoi.db.uow import UnitOfWorkFactory
from qmoi.services.intake import Arrival, Intake

pytestmark = pytest.mark.revenue


class CountingIntake(Intake):
    def __init__(self, uows: UnitOfWorkFactory) -> None:
        super().__init__(uows)
        self.batches: list[int] = []

    def _write(self, arrivals: list[Arrival]) -> list[bool]:
        self.batches.append(len(arrivals))
        return super()._write(arrivals)


def arrival(n: int) -> Arrival:
    return Arrival("airtel", "collection", f"event-{n}", json.dumps({"n": n}))


async def test_concurrent_callbacks_share_commits_and_duplicates_are_told(
    uows: UnitOfWorkFactory,
) -> None:
    intake = CountingIntake(uows)
    # 60 distinct callbacks, 20 of them sent twice at once
    arrivals = [arrival(n) for n in range(60)] + [arrival(n) for n in range(20)]
    answers = await asyncio.gather(*(intake.store(a) for a in arrivals))
    await intake.close()
    assert answers.count(True) == 60
    assert [a.event_id for a, new in zip(arrivals, answers, strict=True) if not new] == [
        f"event-{n}" for n in range(20)
    ]
    assert sum(intake.batches) == 80
    assert len(intake.batches) < 80  # shared transactions, not one each
    with uows(read_only=True) as uow:
        assert uow.inbox.counts() == {"received": 60}
    # a repeat later is a duplicate too
    again = Intake(uows)
    assert await again.store(arrival(5)) is False
    assert await again.store(arrival(99)) is True
    await again.close()


async def test_a_failed_write_fails_every_waiting_request_and_the_next_one_works(
    uows: UnitOfWorkFactory,
) -> None:
    class Failing(Intake):
        fail = True

        def _write(self, arrivals: list[Arrival]) -> list[bool]:
            if self.fail:
                raise ConnectionError("database unavailable")
            return super()._write(arrivals)

    intake = Failing(uows)
    results = await asyncio.gather(
        *(intake.store(arrival(n)) for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)
    intake.fail = False
    assert await intake.store(arrival(1)) is True
    await intake.close()
    with uows(read_only=True) as uow:
        assert uow.inbox.counts() == {"received": 1}
