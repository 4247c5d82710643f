"""A transfer to the owner's wallet: its identity, its amount, and its state.

The reference is the idempotency key sent to the provider. Auto-transfer chunks get a
deterministic one from (provider, day, sequence); a manual transfer's comes from the
caller's Idempotency-Key, or is generated once and stored before anything is sent.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime

from qmoi.domain.autotransfer import account_code
from qmoi.domain.money import Money
from qmoi.domain.states import TransferState, advance_transfer


def manual_reference(account: str, idempotency_key: str | None) -> str:
    """``QMOI-MAT-…``: derived from the caller's key (the same key always names the same
    transfer of ``account``), or random when the caller gave none."""
    code = account_code(account)
    if idempotency_key:
        digest = hashlib.sha256(f"{account}:{idempotency_key}".encode()).hexdigest()[:20]
    else:
        digest = secrets.token_hex(10)
    return f"QMOI-M{code}-{digest}"


def fallback_reference(reference: str) -> str:
    """The linked transfer on the other provider for a chunk its wallet could not pay."""
    return f"{reference}-FB"


@dataclass(frozen=True, slots=True)
class Transfer:
    id: int | None
    reference: str
    provider: str
    trigger: str  # auto | manual
    business_day: date
    sequence: int | None
    msisdn: str
    amount: Money
    state: TransferState
    actor: str
    created_at: datetime
    updated_at: datetime
    sandbox: bool
    fee: Money | None = None
    provider_request_id: str | None = None
    provider_reference: str | None = None
    reason: str | None = None
    provider_code: str | None = None
    provider_message: str | None = None
    fallback_of: int | None = None
    next_check_at: datetime | None = None
    attempts: int = 0

    @property
    def is_final(self) -> bool:
        return self.state in (TransferState.SUCCEEDED, TransferState.FAILED)

    def moved_to(self, state: TransferState, now: datetime, **changes: object) -> Transfer:
        if state is not self.state:
            advance_transfer(self.state, state)
        return replace(self, state=state, updated_at=now, **changes)  # type: ignore[arg-type]
