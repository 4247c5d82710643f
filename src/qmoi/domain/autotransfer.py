"""The auto-transfer rule, as pure arithmetic.

For each provider, whenever today's earnings not yet auto-transferred reach the chunk,
exactly one chunk goes to the owner. Each chunk has a deterministic identity built from
(provider, day, sequence), so a crash, retry or second worker computes the same ids
and the database's uniqueness turns a second attempt into a no-op.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

from qmoi.domain.errors import InvalidAmount
from qmoi.domain.money import Money

#: the legacy accounts' codes, as every chunk id written before accounts carries them
_LEGACY_CODES = {"airtel": "AT", "mpesa": "MP"}


def account_code(account: str) -> str:
    """The account as it appears in a transfer reference: ``AT`` / ``MP`` for the legacy
    ``airtel`` / ``mpesa``, else its id in capitals — shortened past 12 characters to 7
    and a digest of the whole id, so that every reference stays within 40 characters."""
    if account in _LEGACY_CODES:
        return _LEGACY_CODES[account]
    code = account.upper()
    if len(code) > 12:
        digest = hashlib.sha256(account.encode()).hexdigest()[:4].upper()
        code = f"{code[:7]}-{digest}"
    return code


def chunks_due(earned_today: Money, chunk: Money, chunks_planned: int) -> int:
    """How many more chunks the rule prescribes now (7,300 earned, 2,000 chunk, 1 planned → 2)."""
    if not chunk.is_positive:
        raise InvalidAmount("the auto-transfer chunk must be positive")
    if earned_today.currency != chunk.currency:
        earned_today - chunk  # raises CurrencyMismatch
    if chunks_planned < 0:
        raise ValueError("chunks_planned cannot be negative")
    return max(0, earned_today.minor // chunk.minor - chunks_planned)


def chunk_id(account: str, day: date, sequence: int) -> str:
    """``QMOI-AT-20261129-0003`` (``QMOI-AIRTEL-UG-…``): the idempotency key of one
    auto-transfer chunk of ``account``.

    Kept to ``[A-Za-z0-9-]`` and well under 40 characters, as Airtel's ids must be; the
    M-Pesa connector uses it as the OriginatorConversationID.
    """
    if sequence < 1:
        raise ValueError("chunk sequences start at 1")
    code = account_code(account)
    identity = f"QMOI-{code}-{day:%Y%m%d}-{sequence:04d}"
    assert re.fullmatch(r"[A-Za-z0-9-]{1,40}", identity)  # noqa: S101 - an invariant
    return identity
