"""The collection and transfer state machines, as transition tables.

Every transition is one database transaction that also writes its ledger entry and
audit record (in the services); here we only say which moves are legal.
"""

from __future__ import annotations

from enum import StrEnum

from qmoi.domain.errors import IllegalTransition


class CollectionState(StrEnum):
    REQUESTED = "requested"  # stored, not sent yet
    PENDING = "pending"  # the provider accepted the prompt
    UNKNOWN = "unknown"  # we could not tell whether the provider accepted it
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"  # the provider never finished it


class TransferState(StrEnum):
    RESERVED = "reserved"  # funds moved to in-transit, not sent yet
    SUBMITTED = "submitted"  # the provider acknowledged the request
    UNKNOWN = "unknown"  # timed out or ambiguous; resolved only by enquiry
    SUCCEEDED = "succeeded"
    FAILED = "failed"


C = CollectionState
COLLECTION_TRANSITIONS: dict[CollectionState, frozenset[CollectionState]] = {
    C.REQUESTED: frozenset({C.PENDING, C.UNKNOWN, C.FAILED, C.SUCCEEDED}),
    C.PENDING: frozenset({C.SUCCEEDED, C.FAILED, C.EXPIRED, C.UNKNOWN}),
    C.UNKNOWN: frozenset({C.PENDING, C.SUCCEEDED, C.FAILED, C.EXPIRED}),
    C.SUCCEEDED: frozenset(),
    # a provider may confirm a payment after it failed or we gave up on it: when its own
    # enquiry says so, the money is real (a callback alone never moves a concluded one)
    C.FAILED: frozenset({C.SUCCEEDED}),
    C.EXPIRED: frozenset({C.SUCCEEDED}),
}

T = TransferState
TRANSFER_TRANSITIONS: dict[TransferState, frozenset[TransferState]] = {
    T.RESERVED: frozenset({T.SUBMITTED, T.UNKNOWN, T.SUCCEEDED, T.FAILED}),
    T.SUBMITTED: frozenset({T.SUCCEEDED, T.FAILED, T.UNKNOWN}),
    T.UNKNOWN: frozenset({T.SUBMITTED, T.SUCCEEDED, T.FAILED}),
    T.SUCCEEDED: frozenset(),
    T.FAILED: frozenset(),
}


def advance_collection(current: CollectionState, target: CollectionState) -> CollectionState:
    if target not in COLLECTION_TRANSITIONS[current]:
        raise IllegalTransition("collection", current.value, target.value)
    return target


def advance_transfer(current: TransferState, target: TransferState) -> TransferState:
    if target not in TRANSFER_TRANSITIONS[current]:
        raise IllegalTransition("transfer", current.value, target.value)
    return target
