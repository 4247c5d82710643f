"""The transactions history's page cursors: keyset positions on (created_at, kind, id),
opaque to clients, checked when they come back (the store reads the page, through
:class:`~qmoi.services.ports.History`)."""

from __future__ import annotations

import base64
from datetime import datetime

from qmoi.services.records import HistoryRow

KINDS = ("collection", "transfer", "fee")


def encode_cursor(row: HistoryRow) -> str:
    raw = f"{row.created_at.isoformat()}|{row.kind}|{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str, int]:
    """Raises ValueError for anything that is not one of our cursors."""
    padded = cursor + "=" * (-len(cursor) % 4)
    at, kind, ident = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
    if kind not in KINDS:
        raise ValueError("unknown kind in cursor")
    when = datetime.fromisoformat(at)
    if when.tzinfo is None:
        raise ValueError("cursor time has no zone")
    number = int(ident)
    if not 0 <= number < 2**63:  # ids are 64-bit: a larger one would overflow the query
        raise ValueError("id out of range in cursor")
    return when, kind, number
