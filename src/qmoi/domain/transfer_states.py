"""What each word from a provider does to a transfer, as a table.

:data:`~qmoi.domain.states.TRANSFER_TRANSITIONS` says which moves are legal; the table
below says which one each event makes, from each state. Three rules shape it:

* a final state is final: nothing moves a succeeded or failed transfer (a provider
  calling a failed one paid is a contradiction for the owner, never a booking);
* once the provider has acknowledged a transfer, no answer puts it back where it could
  be sent again: an unclear answer leaves it submitted, not unknown;
* a request that never left changes nothing but the time of the next attempt.

A transfer is sent from ``reserved`` (its first attempt, or one interrupted before any
answer) and sent again only from ``unknown`` when the provider says it never had it
(:func:`may_send_again`) — under the same reference, which the provider refuses as a
duplicate should it have it after all.
"""

from __future__ import annotations

from enum import StrEnum

from qmoi.domain.states import TransferState


class TransferEvent(StrEnum):
    """What we learnt about a transfer, from its send, an enquiry or a callback."""

    PAID = "paid"  # the money reached the owner: final
    REFUSED = "refused"  # the money did not move: final
    ACCEPTED = "accepted"  # the provider has it and has not finished
    UNCLEAR = "unclear"  # we cannot tell: ask again, never send again
    NOT_SENT = "not_sent"  # the request never left: safe to send again, same reference


T, E = TransferState, TransferEvent
_STAYS: dict[TransferEvent, TransferState | None] = dict.fromkeys(E)
#: the state each event moves a transfer to; None: it stays where it is
TRANSFER_MOVES: dict[TransferState, dict[TransferEvent, TransferState | None]] = {
    T.RESERVED: {
        E.PAID: T.SUCCEEDED,
        E.REFUSED: T.FAILED,
        E.ACCEPTED: T.SUBMITTED,
        E.UNCLEAR: T.UNKNOWN,
        E.NOT_SENT: None,
    },
    T.SUBMITTED: {
        E.PAID: T.SUCCEEDED,
        E.REFUSED: T.FAILED,
        E.ACCEPTED: None,
        E.UNCLEAR: None,  # an unclear enquiry does not make a sent transfer unknown
        E.NOT_SENT: None,
    },
    T.UNKNOWN: {
        E.PAID: T.SUCCEEDED,
        E.REFUSED: T.FAILED,
        E.ACCEPTED: T.SUBMITTED,
        E.UNCLEAR: None,
        E.NOT_SENT: None,
    },
    T.SUCCEEDED: dict(_STAYS),
    T.FAILED: dict(_STAYS),
}

#: the states a request may (again) go out from, under the transfer's one reference
SENDABLE = frozenset({T.RESERVED, T.UNKNOWN})


def next_state(state: TransferState, event: TransferEvent) -> TransferState:
    """Where ``event`` takes a transfer in ``state`` (the same state when it stays)."""
    return TRANSFER_MOVES[state][event] or state


def contradicts(state: TransferState, event: TransferEvent) -> bool:
    """A provider now calling paid a transfer it had failed: the books stay as they
    are (the money went back to the wallet) and the owner is told to check."""
    return state is T.FAILED and event is E.PAID


def first_send(state: TransferState, attempts: int) -> bool:
    """A reserved transfer on its first attempt has never gone out: send it. Any
    other may have, so the provider is asked first."""
    return state is T.RESERVED and attempts <= 1


def may_send_again(
    state: TransferState, *, acknowledged: bool, quiet_s: float, grace_s: float
) -> bool:
    """After the provider said it has no such transfer: send it again? Yes when our
    send was interrupted before any answer (still reserved); for an unclear send the
    provider never acknowledged, only once it has been quiet long enough (``grace_s``)
    that it would know of it. Never once it acknowledged it, nor when final."""
    if state is T.RESERVED:
        return True
    if state is not T.UNKNOWN or acknowledged:
        return False
    return quiet_s >= grace_s
