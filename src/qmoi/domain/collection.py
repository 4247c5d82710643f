"""A collection: one request for a customer to pay, and what became of it.

Its state moves only along :data:`~qmoi.domain.states.COLLECTION_TRANSITIONS`; a move
returns the new value and never edits the old one, so the store can save it with a
compare-and-set on the previous state (two processes cannot both book one payment).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from qmoi.domain.money import Money
from qmoi.domain.states import CollectionState, advance_collection
from qmoi.domain.streams import StreamKey


def new_reference(prefix: str = "QC") -> str:
    """Our id for a collection, sent to the provider before the first attempt and reused
    on every retry: ``QC-`` and 24 hex characters (Airtel allows [A-Za-z0-9-], ≤ 40)."""
    return f"{prefix}-{secrets.token_hex(12)}"


@dataclass(frozen=True, slots=True)
class Collection:
    id: int | None
    reference: str
    provider: str
    msisdn: str
    amount: Money
    stream: StreamKey
    state: CollectionState
    created_at: datetime
    updated_at: datetime
    sandbox: bool
    origin: str = "request"  # request | c2b
    account_reference: str | None = None
    provider_request_id: str | None = None
    provider_reference: str | None = None
    reason: str | None = None
    provider_code: str | None = None
    provider_message: str | None = None
    next_check_at: datetime | None = None
    attempts: int = 0
    entry_id: int | None = None
    sent_at: datetime | None = None  # when the push last went out (its answer came)

    @property
    def is_final(self) -> bool:
        return self.state in (CollectionState.SUCCEEDED, CollectionState.FAILED)

    def moved_to(self, state: CollectionState, now: datetime, **changes: object) -> Collection:
        """This collection in ``state`` (raises IllegalTransition if that move is not allowed);
        staying in the same state only updates the given fields."""
        if state is not self.state:
            advance_collection(self.state, state)
        return replace(self, state=state, updated_at=now, **changes)  # type: ignore[arg-type]
