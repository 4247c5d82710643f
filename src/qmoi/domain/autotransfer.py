"""The auto-transfer rule, as pure arithmetic.

For each provider, whenever today's earnings not yet auto-transferred reach the chunk,
exactly one chunk goes to the owner. Each chunk has a deterministic identity built from
(provider, day, sequence), so a crash, retry or second worker computes the same ids
and the database's uniqueness turns a second attempt into a no-op.
"""

from __future__ import annotations

import re
from datetime import date

from qmoi.domain.errors import InvalidAmount
from qmoi.domain.money import Money

_PROVIDER_CODES = {"airtel": "AT", "mpesa": "MP"}


def chunks_due(earned_today: Money, chunk: Money, chunks_planned: int) -> int:
    """How many more chunks the rule prescribes now (7,300 earned, 2,000 chunk, 1 planned → 2)."""
    if not chunk.is_positive:
        raise InvalidAmount("the auto-transfer chunk must be positive")
    if earned_today.currency != chunk.currency:
        earned_today - chunk  # raises CurrencyMismatch
    if chunks_planned < 0:
        raise ValueError("chunks_planned cannot be negative")
    return max(0, earned_today.minor // chunk.minor - chunks_planned)


def chunk_id(provider: str, day: date, sequence: int) -> str:
    """``QMOI-AT-20261129-0003``: the idempotency key of one auto-transfer chunk.

    Kept to ``[A-Za-z0-9-]`` and well under 40 characters, as Airtel's ids must be; the
    M-Pesa connector uses it as the OriginatorConversationID.
    """
    if sequence < 1:
        raise ValueError("chunk sequences start at 1")
    code = _PROVIDER_CODES[provider]
    identity = f"QMOI-{code}-{day:%Y%m%d}-{sequence:04d}"
    assert re.fullmatch(r"[A-Za-z0-9-]{1,40}", identity)  # noqa: S101 - an invariant
    return identity
