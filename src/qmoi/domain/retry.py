"""When to ask a provider again: the next check of an unresolved item, as a pure
function of how many times we have asked (exponential, capped, with deterministic
jitter so that many items resolved together do not all come back at once)."""

from __future__ import annotations

import hashlib
from datetime import timedelta


def next_check_in(
    attempts: int, key: str, *, first_s: float = 15.0, cap_s: float = 600.0
) -> timedelta:
    """Delay before check number ``attempts + 1`` of the item called ``key``."""
    base = min(cap_s, first_s * (2 ** min(attempts, 20)))
    spread = int(hashlib.sha256(f"{key}:{attempts}".encode()).hexdigest()[:4], 16) / 0xFFFF
    return timedelta(seconds=base * (0.75 + 0.5 * spread))
