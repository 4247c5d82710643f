"""Writes that must survive a database restart retry while it is away, and only then;
on an event loop the pauses between tries leave the loop free."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from qmoi.services import transient
from qmoi.services.transient import is_transient, patiently, with_patience


@pytest.fixture(autouse=True)
def short_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transient, "FIRST_PAUSE_S", 0.01)
    monkeypatch.setattr(transient, "LONGEST_PAUSE_S", 0.02)


def away_for(tries: int) -> tuple[list[int], Callable[[], str]]:
    """A write refused by an unreachable database ``tries`` times, then stored."""
    calls: list[int] = []

    def write() -> str:
        calls.append(1)
        if len(calls) <= tries:
            raise OperationalError("INSERT …", {}, Exception("terminating connection"))
        return "stored"

    return calls, write


def test_a_write_waits_out_a_database_restart() -> None:
    calls, write = away_for(2)
    assert with_patience(write, "test") == "stored"
    assert len(calls) == 3


def test_refused_data_is_not_retried() -> None:
    calls = []

    def write() -> None:
        calls.append(1)
        raise IntegrityError("INSERT …", {}, Exception("duplicate key"))

    with pytest.raises(IntegrityError):
        with_patience(write, "test")
    assert len(calls) == 1
    assert not is_transient(ValueError("no"))


def test_patience_ends_with_the_databases_own_error() -> None:
    calls, write = away_for(10_000)
    started = time.monotonic()
    with pytest.raises(OperationalError):
        with_patience(write, "test", patience_s=0.2)
    assert 0.1 < time.monotonic() - started < 1.0
    assert 3 < len(calls) < 30


async def test_on_an_event_loop_the_pauses_leave_the_loop_free() -> None:
    """While one write waits for the database, the same process goes on answering."""
    calls, write = away_for(4)
    ticks = 0

    async def other_requests() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(other_requests())
    try:
        assert await patiently(write, "test") == "stored"
    finally:
        ticker.cancel()
    assert len(calls) == 5
    assert ticks >= 10  # 4 pauses of 10–20 ms: a blocking sleep would allow none
