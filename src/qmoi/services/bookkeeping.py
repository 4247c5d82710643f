"""Writing to the books: every entry goes in with its signed audit record, in the same
transaction, or not at all. Verifying the books and the audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qmoi.domain.audit import GENESIS_HASH, AuditRecord, Break, find_break
from qmoi.domain.ledger import JournalEntry
from qmoi.security.signing import Verifier
from qmoi.services.ports import UnitOfWork, UnitOfWorkFactory


def record_entry(uow: UnitOfWork, entry: JournalEntry, actor: str) -> int:
    """Post ``entry`` and its audit record in ``uow``'s transaction (the caller commits)."""
    entry_id = uow.ledger.post(entry)
    uow.audit.append(actor, *_audit_record(entry, entry_id), uow.now)
    return entry_id


def record_entries(uow: UnitOfWork, entries: list[JournalEntry], actor: str) -> list[int | None]:
    """:func:`record_entry` for many referenced entries with a few statements in all;
    None for each one whose reference was already booked (it is skipped, not an error)."""
    ids = uow.ledger.post_many(entries)
    uow.audit.append_many(
        actor,
        [_audit_record(e, i) for e, i in zip(entries, ids, strict=True) if i is not None],
        uow.now,
    )
    return ids


def _audit_record(entry: JournalEntry, entry_id: int) -> tuple[str, dict[str, Any]]:
    return f"ledger.{entry.kind.value}", {
        "entry_id": entry_id,
        "reference": entry.reference,
        "currency": entry.currency,
        "postings": [[p.account, p.amount.minor] for p in entry.postings],
        "occurred_at": entry.occurred_at.isoformat(),
        "sandbox": entry.sandbox,
    }


@dataclass(frozen=True)
class AuditVerdict:
    records: int
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_audit(uows: UnitOfWorkFactory, verifier: Verifier) -> AuditVerdict:
    """Recompute the whole chain and every signature; name the first broken record.

    Safe while QMOI is writing: the head is read *after* the records and the walk goes
    on to it, so records appended meanwhile are not taken for a break (the chaos run
    saw "the head says 1537 is the last, but the chain ends at 1539" on a healthy trail:
    head read first, two records committed during the walk). A head beyond the records,
    with none left to read, is still a trail cut short."""
    with uows(read_only=True) as uow:
        end: dict[str, tuple[int, str]] = {}
        count, broken = find_break(
            _to_the_head(uow, end),
            lambda record: (
                record.key_id == verifier.key_id and verifier.verify(record.hash, record.signature)
            ),
        )
        last, head = end.get("last", (0, GENESIS_HASH)), end.get("head")
        if broken is None and head is not None and head != last:
            broken = Break(
                last[0] + 1,
                f"the store's head says record {head[0]} is the last, but the chain ends "
                f"at {last[0]}",
            )
    return AuditVerdict(count, broken)


def _to_the_head(uow: UnitOfWork, end: dict[str, tuple[int, str]]) -> Iterator[AuditRecord]:
    """Every record, then the head; more records if the head has moved past them."""
    last = 0
    while True:
        found = False
        for record in uow.audit.records(after=last):
            found = True
            last = record.seq
            end["last"] = (record.seq, record.hash)
            yield record
        end["head"] = head = uow.audit.head()
        if head[0] <= last or not found:
            return


def verify_ledger(uows: UnitOfWorkFactory) -> list[str]:
    with uows(read_only=True) as uow:
        return uow.ledger.verify()
