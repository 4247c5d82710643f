from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from qmoi.domain.clock import ManualClock, ScaledClock, business_day, day_bounds
from qmoi.domain.errors import IllegalTransition
from qmoi.domain.states import (
    COLLECTION_TRANSITIONS,
    TRANSFER_TRANSITIONS,
    CollectionState,
    TransferState,
    advance_collection,
    advance_transfer,
)

NAIROBI = ZoneInfo("Africa/Nairobi")


@pytest.mark.parametrize("current", list(CollectionState))
@pytest.mark.parametrize("target", list(CollectionState))
def test_every_collection_pair_is_allowed_or_refused(
    current: CollectionState, target: CollectionState
) -> None:
    if target in COLLECTION_TRANSITIONS[current]:
        assert advance_collection(current, target) is target
    else:
        with pytest.raises(IllegalTransition):
            advance_collection(current, target)


@pytest.mark.parametrize("current", list(TransferState))
@pytest.mark.parametrize("target", list(TransferState))
def test_every_transfer_pair_is_allowed_or_refused(
    current: TransferState, target: TransferState
) -> None:
    if target in TRANSFER_TRANSITIONS[current]:
        assert advance_transfer(current, target) is target
    else:
        with pytest.raises(IllegalTransition):
            advance_transfer(current, target)


def test_final_states_are_final() -> None:
    assert not TRANSFER_TRANSITIONS[TransferState.SUCCEEDED]
    assert not TRANSFER_TRANSITIONS[TransferState.FAILED]
    assert not COLLECTION_TRANSITIONS[CollectionState.SUCCEEDED]
    # a transfer whose outcome is unknown can never be re-reserved (i.e. sent anew)
    assert TransferState.RESERVED not in TRANSFER_TRANSITIONS[TransferState.UNKNOWN]


def test_day_boundary_in_nairobi() -> None:
    last_second = datetime(2026, 11, 29, 20, 59, 59, tzinfo=UTC)  # 23:59:59 in Nairobi
    assert business_day(last_second, NAIROBI) == date(2026, 11, 29)
    assert business_day(last_second + timedelta(seconds=1), NAIROBI) == date(2026, 11, 30)
    start, end = day_bounds(date(2026, 11, 29), NAIROBI)
    assert start == datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 29, 21, 0, tzinfo=UTC)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        business_day(datetime(2026, 11, 29, 12, 0), NAIROBI)  # noqa: DTZ001
    with pytest.raises(ValueError, match="no time zone"):
        ManualClock(datetime(2026, 11, 29, 12, 0))  # noqa: DTZ001


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(timedelta(hours=1))
    assert clock.now() == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def test_scaled_clock_runs_faster_than_the_wall() -> None:
    start = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    clock = ScaledClock(start, speed=3600)
    assert clock.now() >= start
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(start, speed=0)
