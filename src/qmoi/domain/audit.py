"""The audit chain's arithmetic: canonical JSON, record hashes, and finding the first
broken link. Signing and key handling live in ``qmoi.security``; this module only
hashes, so the verifier and the writer cannot disagree about what was hashed.

Each record's hash covers its sequence number, time, actor, action, payload and the
previous record's hash: changing, removing or reordering any record breaks the chain at
that record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS_HASH = "0" * 64


class AuditSigner(Protocol):
    """Signs a record's hash (the instance key lives in ``qmoi.security.signing``)."""

    key_id: str

    def sign(self, digest_hex: str) -> str: ...


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept, no floats allowed."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_refuse,
    )


def _refuse(value: object) -> Any:
    raise TypeError(f"{type(value).__name__} is not allowed in an audit payload")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: datetime
    actor: str
    action: str
    payload: str  # canonical JSON
    prev_hash: str
    hash: str
    signature: str = ""
    key_id: str = ""


def record_hash(
    seq: int, at: datetime, actor: str, action: str, payload: str, prev_hash: str
) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "payload": payload,
            "prev": prev_hash,
        }
    )
    return hashlib.sha256(body.encode()).hexdigest()


def next_record(
    prev_seq: int, prev_hash: str, at: datetime, actor: str, action: str, payload: dict[str, Any]
) -> AuditRecord:
    """The unsigned record that follows (prev_seq, prev_hash)."""
    text = canonical_json(payload)
    seq = prev_seq + 1
    return AuditRecord(
        seq,
        at,
        actor,
        action,
        text,
        prev_hash,
        record_hash(seq, at, actor, action, text, prev_hash),
    )


@dataclass(frozen=True, slots=True)
class Break:
    seq: int
    reason: str


def find_break(
    records: Iterable[AuditRecord],
    signature_ok: Callable[[AuditRecord], bool],
    *,
    head: tuple[int, str] | None = None,
) -> tuple[int, Break | None]:
    """Walk the chain in sequence order; return (records checked, first break or None).

    ``head`` is the (seq, hash) the store says it last wrote; records missing from the
    end of the chain show up as a mismatch with it.
    """
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for record in records:
        count += 1
        if record.seq != expected_seq:
            return count, Break(
                record.seq,
                f"expected record {expected_seq} here: a record was removed or reordered",
            )
        if record.prev_hash != prev_hash:
            return count, Break(record.seq, "does not follow the previous record's hash")
        recomputed = record_hash(
            record.seq, record.at, record.actor, record.action, record.payload, record.prev_hash
        )
        if recomputed != record.hash:
            return count, Break(record.seq, "its content was changed after it was written")
        if not signature_ok(record):
            return count, Break(record.seq, "its signature does not verify")
        expected_seq, prev_hash = record.seq + 1, record.hash
    if head is not None and head != (expected_seq - 1, prev_hash):
        return count, Break(
            expected_seq,
            f"the store's head says record {head[0]} is the "
            f"last, but the chain ends at {expected_seq - 1}",
        )
    return count, None
