"""The transactions history through its read port: pages newest first, cursors that
come back as they went out and refuse anything else."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qmoi.domain.clock import ManualClock
from qmoi.services.history import decode_cursor, encode_cursor
from qmoi.services.records import HistoryFilter
from tests.unit.services.support import ask, make_services


async def test_pages_follow_their_cursors_without_repeats(clock: ManualClock) -> None:
    services = make_services(clock)
    for amount in ("100", "200", "300"):
        await ask(services, "airtel", amount)
        clock.advance(timedelta(seconds=1))
    seen: list[str] = []
    cursor = None
    while True:
        with services.uows(read_only=True) as uow:
            page = uow.history.page(HistoryFilter("airtel"), 2, cursor)
        seen += [row.reference for row in page]
        if len(page) < 2:
            break
        cursor = decode_cursor(encode_cursor(page[-1]))
    assert len(seen) == len(set(seen)) == 3
    with services.uows(read_only=True) as uow:
        newest = uow.history.page(HistoryFilter("airtel"), 1, None)[0]
    assert newest.amount_minor == 30_000


@pytest.mark.parametrize("cursor", ["nonsense", "MjAyNnxmZWV8MQ", "eHx5fHo"])
def test_a_cursor_this_api_did_not_give_is_refused(cursor: str) -> None:
    with pytest.raises((ValueError, UnicodeDecodeError)):
        decode_cursor(cursor)
