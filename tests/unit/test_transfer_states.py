"""The transfer state machine as a table, checked without I/O: every move it makes is a
legal one, final states are final, and nothing the provider says can put a transfer
back where it could be sent — and so paid — a second time."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qmoi.domain.states import TRANSFER_TRANSITIONS, TransferState
from qmoi.domain.transfer_states import (
    SENDABLE,
    TRANSFER_MOVES,
    TransferEvent,
    contradicts,
    first_send,
    may_send_again,
    next_state,
)

pytestmark = pytest.mark.transfer

T, E = TransferState, TransferEvent
FINAL = (T.SUCCEEDED, T.FAILED)
states = st.sampled_from(list(TransferState))
events = st.lists(st.sampled_from(list(TransferEvent)), max_size=30)


def walk(state: TransferState, path: list[TransferEvent]) -> list[TransferState]:
    seen = [state]
    for event in path:
        seen.append(next_state(seen[-1], event))
    return seen


def test_the_table_answers_every_event_in_every_state() -> None:
    assert set(TRANSFER_MOVES) == set(TransferState)
    for moves in TRANSFER_MOVES.values():
        assert set(moves) == set(TransferEvent)


@pytest.mark.parametrize(
    ("state", "event", "target"),
    [
        (T.RESERVED, E.ACCEPTED, T.SUBMITTED),
        (T.RESERVED, E.UNCLEAR, T.UNKNOWN),  # a timeout after sending
        (T.RESERVED, E.NOT_SENT, T.RESERVED),  # never left: send again later
        (T.RESERVED, E.PAID, T.SUCCEEDED),
        (T.RESERVED, E.REFUSED, T.FAILED),
        (T.SUBMITTED, E.UNCLEAR, T.SUBMITTED),  # an unclear enquiry changes nothing
        (T.SUBMITTED, E.PAID, T.SUCCEEDED),
        (T.SUBMITTED, E.REFUSED, T.FAILED),
        (T.UNKNOWN, E.ACCEPTED, T.SUBMITTED),
        (T.UNKNOWN, E.UNCLEAR, T.UNKNOWN),
        (T.UNKNOWN, E.PAID, T.SUCCEEDED),
        (T.FAILED, E.PAID, T.FAILED),  # a contradiction is reported, never booked
        (T.SUCCEEDED, E.REFUSED, T.SUCCEEDED),
    ],
)
def test_each_event_moves_a_transfer_as_the_table_says(
    state: TransferState, event: TransferEvent, target: TransferState
) -> None:
    assert next_state(state, event) is target


def test_only_paid_after_failed_is_a_contradiction() -> None:
    found = {(s, e) for s in TransferState for e in TransferEvent if contradicts(s, e)}
    assert found == {(T.FAILED, E.PAID)}


@given(states, events)
def test_every_move_the_table_makes_is_a_legal_transition(
    state: TransferState, path: list[TransferEvent]
) -> None:
    seen = walk(state, path)
    for before, after in pairwise(seen):
        assert after is before or after in TRANSFER_TRANSITIONS[before]


@given(st.sampled_from(FINAL), events)
def test_nothing_moves_a_final_transfer(state: TransferState, path: list[TransferEvent]) -> None:
    assert set(walk(state, path)) == {state}


@given(states, events)
def test_a_transfer_never_goes_back_to_reserved(
    state: TransferState, path: list[TransferEvent]
) -> None:
    seen = walk(state, path)
    first_other = next((i for i, s in enumerate(seen) if s is not T.RESERVED), len(seen))
    assert T.RESERVED not in seen[first_other:]


@given(st.sampled_from([T.SUBMITTED, T.SUCCEEDED]), events)
def test_once_acknowledged_or_paid_it_never_reaches_a_state_it_could_be_sent_from(
    state: TransferState, path: list[TransferEvent]
) -> None:
    assert not SENDABLE & set(walk(state, path))


@given(st.sampled_from(list(TransferState)), st.integers(0, 5))
def test_only_a_reserved_transfer_on_its_first_attempt_goes_out_unasked(
    state: TransferState, attempts: int
) -> None:
    assert first_send(state, attempts) == (state is T.RESERVED and attempts <= 1)


@given(
    states,
    st.booleans(),
    st.floats(0, 1e6, allow_nan=False),
    st.floats(0, 1e6, allow_nan=False),
)
def test_a_transfer_is_sent_again_only_when_it_cannot_have_gone_out(
    state: TransferState, acknowledged: bool, quiet_s: float, grace_s: float
) -> None:
    again = may_send_again(state, acknowledged=acknowledged, quiet_s=quiet_s, grace_s=grace_s)
    if again:
        assert state in SENDABLE
    if state is T.UNKNOWN:
        assert again == (not acknowledged and quiet_s >= grace_s)
    if state in (T.SUBMITTED, *FINAL):
        assert not again
    if state is T.RESERVED:
        assert again  # our send was interrupted before any answer
