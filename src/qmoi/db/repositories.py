"""Repositories: domain objects in, rows out, and back; each keeps its table's rules.

The ledger repository posts a :class:`~qmoi.domain.ledger.JournalEntry` in the caller's
transaction: it moves account balances with single atomic ``UPDATE … SET balance =
balance + delta`` statements guarded by the non-negative rule (no read-modify-write, so
concurrent writers on PostgreSQL cannot lose an update), inserts the entry and its
postings, and turns the database's refusals into domain errors. Nothing here updates or
deletes a journal, posting or audit row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qmoi.db import tables as t
from qmoi.domain import accounts as acc
from qmoi.domain.audit import AuditRecord, AuditSigner, next_record
from qmoi.domain.clock import business_day
from qmoi.domain.errors import DuplicateReference, InsufficientFunds
from qmoi.domain.ledger import JournalEntry
from qmoi.domain.money import Money
from qmoi.errors import AuditError


def violates(exc: IntegrityError, constraint: str, columns: str) -> bool:
    """Whether ``exc`` is the database refusing unique ``constraint`` on ``columns``
    (``"table.col, table.col"``, as SQLite names it; PostgreSQL names the constraint)."""
    diag = getattr(exc.orig, "diag", None)
    if diag is not None:
        return bool(diag.constraint_name == constraint)
    return f"UNIQUE constraint failed: {columns}" in str(exc.orig)


def inserted(session: Session, statement: Any) -> bool:
    """Run an ``INSERT … ON CONFLICT DO NOTHING … RETURNING``: True if a row went in.
    (The driver's rowcount is -1 for these on PostgreSQL; RETURNING is exact.)"""
    return session.execute(statement).first() is not None


def dialect_insert(session: Session, table: Any) -> Any:
    """A dialect insert that supports ON CONFLICT."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


class AccountDirectory:
    """Account ids by (name, currency), created on first use.

    Accounts are never deleted, so ids are cached for the life of the process — but only
    once the transaction that created them has committed: until then they live in the
    session (``PENDING``), so a rollback cannot leave a cached id that does not exist.
    """

    PENDING = "qmoi_pending_accounts"

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], int] = {}

    def ids(self, session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        pending: dict[tuple[str, str], int] = session.info.setdefault(self.PENDING, {})
        missing = keys - self._ids.keys() - pending.keys()
        if missing:
            rows = [
                {
                    "name": name,
                    "currency": currency,
                    "kind": acc.kind_of(name).value,
                    "non_negative": acc.must_stay_non_negative(name),
                    "balance_minor": 0,
                }
                for name, currency in sorted(missing)
            ]
            session.execute(
                dialect_insert(session, t.accounts).values(rows).on_conflict_do_nothing()
            )
            for row in session.execute(
                select(t.accounts.c.id, t.accounts.c.name, t.accounts.c.currency)
            ):
                key = (row.name, row.currency)
                if key not in self._ids:
                    pending[key] = row.id
        return {key: self._ids.get(key) or pending[key] for key in keys}

    def committed(self, session: Session) -> None:
        """The session's transaction committed: its new accounts are now durable."""
        self._ids.update(session.info.pop(self.PENDING, {}))

    def rolled_back(self, session: Session) -> None:
        session.info.pop(self.PENDING, None)


@dataclass(frozen=True, slots=True)
class StoredEntry:
    id: int
    kind: str
    reference: str | None
    occurred_at: datetime
    business_day: date
    amount: Money
    provider: str | None
    stream: str | None
    sandbox: bool


class LedgerRepository:
    """Posts journal entries and reads balances, inside the caller's transaction."""

    def __init__(
        self, session: Session, directory: AccountDirectory, tz: ZoneInfo, now: datetime
    ) -> None:
        self._session = session
        self._directory = directory
        self._tz = tz
        self._now = now

    def post(self, entry: JournalEntry) -> int:
        """Book ``entry``; returns its id. Raises :class:`DuplicateReference` or
        :class:`InsufficientFunds` having written nothing the caller's rollback keeps."""
        deltas: dict[str, int] = {}
        for posting in entry.postings:
            deltas[posting.account] = deltas.get(posting.account, 0) + posting.amount.minor
        # Accounts are created outside the savepoint: only the whole transaction's
        # rollback can undo them, and the directory hears about that.
        ids = self._directory.ids(self._session, {(name, entry.currency) for name in deltas})
        # A savepoint makes the post all-or-nothing even if the caller catches the error
        # and goes on with its transaction.
        with self._session.begin_nested():
            return self._post(entry, deltas, ids)

    def _post(
        self, entry: JournalEntry, deltas: dict[str, int], ids: dict[tuple[str, str], int]
    ) -> int:
        session = self._session
        try:
            entry_id: int = session.execute(
                insert(t.journal_entries)
                .values(self._entry_values(entry))
                .returning(t.journal_entries.c.id)
            ).scalar_one()
        except IntegrityError as exc:
            if entry.reference is not None and violates(
                exc, "uq_journal_entries_reference", "journal_entries.reference"
            ):
                raise DuplicateReference(entry.reference) from exc
            raise
        self._move_balances(deltas, ids)
        self._insert_postings([(entry_id, entry)], ids)
        return entry_id

    def post_many(self, entries: list[JournalEntry]) -> list[int | None]:
        """Book many entries with a few statements whatever their number (the inbox's
        batches); returns each one's id, None where its reference was already booked.
        All-or-nothing like :meth:`post`: raises :class:`InsufficientFunds` having
        written nothing. Every entry must carry a reference and one currency."""
        if not entries:
            return []
        currency = entries[0].currency
        if any(e.currency != currency or e.reference is None for e in entries):
            raise ValueError("post_many takes referenced entries in one currency")
        names = {p.account for e in entries for p in e.postings}
        ids = self._directory.ids(self._session, {(name, currency) for name in names})
        with self._session.begin_nested():
            rows = [self._entry_values(e) for e in entries]
            statement = (
                dialect_insert(self._session, t.journal_entries)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["reference"])
                .returning(t.journal_entries.c.id, t.journal_entries.c.reference)
            )
            new = {row.reference: int(row.id) for row in self._session.execute(statement)}
            booked = [(new[str(e.reference)], e) for e in entries if e.reference in new]
            deltas: dict[str, int] = {}
            for _, entry in booked:
                for posting in entry.postings:
                    deltas[posting.account] = deltas.get(posting.account, 0) + posting.amount.minor
            self._move_balances(deltas, ids)
            self._insert_postings(booked, ids)
        return [new.get(str(e.reference)) for e in entries]

    def _entry_values(self, entry: JournalEntry) -> dict[str, Any]:
        return {
            "kind": entry.kind.value,
            "reference": entry.reference,
            "occurred_at": entry.occurred_at,
            "recorded_at": self._now,
            "business_day": business_day(self._now, self._tz),
            "currency": entry.currency,
            "amount_minor": entry.amount.minor,
            "provider": entry.provider,
            "stream": entry.stream.value if entry.stream else None,
            "sandbox": entry.sandbox,
            "description": entry.description,
        }

    def _move_balances(self, deltas: dict[str, int], ids: dict[tuple[str, str], int]) -> None:
        """One atomic ``balance = balance + delta`` per account, guarded by the
        non-negative rule, in a fixed order (by id) so concurrent writers cannot
        deadlock."""
        session = self._session
        for (name, _), account_id in sorted(ids.items(), key=lambda item: item[1]):
            delta = deltas.get(name, 0)
            if delta == 0:
                continue
            statement = (
                update(t.accounts)
                .where(t.accounts.c.id == account_id)
                .values(balance_minor=t.accounts.c.balance_minor + delta)
            )
            if delta < 0 and acc.must_stay_non_negative(name):
                statement = statement.where(t.accounts.c.balance_minor + delta >= 0)
            if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
                available = session.scalar(
                    select(t.accounts.c.balance_minor).where(t.accounts.c.id == account_id)
                )
                raise InsufficientFunds(name, int(available or 0), -delta)

    def _insert_postings(
        self, booked: list[tuple[int, JournalEntry]], ids: dict[tuple[str, str], int]
    ) -> None:
        rows = [
            {
                "entry_id": entry_id,
                "account_id": ids[(p.account, entry.currency)],
                "amount_minor": p.amount.minor,
                "currency": entry.currency,
            }
            for entry_id, entry in booked
            for p in entry.postings
        ]
        if rows:
            self._session.execute(insert(t.postings), rows)

    def has_reference(self, reference: str) -> bool:
        found = self._session.scalar(
            select(t.journal_entries.c.id).where(t.journal_entries.c.reference == reference)
        )
        return found is not None

    def owed(self, account: str, currency: str, limit: int = 50) -> list[tuple[str, Money]]:
        """Credits to ``account`` (a liability such as fees payable) not yet settled by an
        entry referenced ``{reference}:settled``, oldest first: (reference, amount)."""
        e, p, a = t.journal_entries, t.postings, t.accounts
        settled = e.alias("settled")
        rows = self._session.execute(
            select(e.c.reference, p.c.amount_minor)
            .join(p, p.c.entry_id == e.c.id)
            .join(a, a.c.id == p.c.account_id)
            .where(
                a.c.name == account,
                a.c.currency == currency,
                p.c.amount_minor < 0,
                e.c.reference.is_not(None),
                ~select(settled.c.id)
                .where(settled.c.reference == e.c.reference.concat(":settled"))
                .exists(),
            )
            .order_by(e.c.id)
            .limit(limit)
        )
        return [(str(r.reference), Money(-int(r.amount_minor), currency)) for r in rows]

    def balance(self, account: str, currency: str = "KES") -> Money:
        minor = self._session.scalar(
            select(t.accounts.c.balance_minor).where(
                t.accounts.c.name == account, t.accounts.c.currency == currency
            )
        )
        return Money(int(minor or 0), currency)

    def balances(self) -> dict[tuple[str, str], int]:
        rows = self._session.execute(
            select(t.accounts.c.name, t.accounts.c.currency, t.accounts.c.balance_minor)
        )
        return {(r.name, r.currency): int(r.balance_minor) for r in rows}

    def entry_count(self) -> int:
        return int(self._session.scalar(select(func.count()).select_from(t.journal_entries)) or 0)

    def entries(self) -> Iterator[StoredEntry]:
        query = select(t.journal_entries).order_by(t.journal_entries.c.id)
        for row in self._session.execute(query):
            yield StoredEntry(
                row.id,
                row.kind,
                row.reference,
                row.occurred_at,
                row.business_day,
                Money(int(row.amount_minor), row.currency),
                row.provider,
                row.stream,
                row.sandbox,
            )

    def verify(self) -> list[str]:
        """Every way the stored book disagrees with double-entry rules (empty when sound):
        entries that do not balance, account balances that differ from the sum of their
        postings, currencies whose balances do not sum to zero."""
        problems: list[str] = []
        session = self._session
        unbalanced = session.execute(
            select(t.postings.c.entry_id, func.sum(t.postings.c.amount_minor))
            .group_by(t.postings.c.entry_id)
            .having(func.sum(t.postings.c.amount_minor) != 0)
        ).all()
        problems += [f"entry {row[0]} is unbalanced by {row[1]}" for row in unbalanced]
        sums = dict(
            session.execute(
                select(t.postings.c.account_id, func.sum(t.postings.c.amount_minor)).group_by(
                    t.postings.c.account_id
                )
            ).all()
        )
        totals: dict[str, int] = {}
        for row in session.execute(select(t.accounts)):
            posted = int(sums.get(row.id, 0) or 0)
            if posted != row.balance_minor:
                problems.append(
                    f"{row.name} ({row.currency}) shows {row.balance_minor} but its postings "
                    f"sum to {posted}"
                )
            if row.non_negative and row.balance_minor < 0:
                problems.append(f"{row.name} ({row.currency}) is negative")
            totals[row.currency] = totals.get(row.currency, 0) + int(row.balance_minor)
        problems += [f"{cur} balances sum to {tot}, not zero" for cur, tot in totals.items() if tot]
        return problems


class AuditRepository:
    """Appends signed, hash-chained records; reads them back in order."""

    def __init__(self, session: Session, signer: AuditSigner | None) -> None:
        self._session = session
        self._signer = signer

    def append(self, actor: str, action: str, payload: dict[str, Any], at: datetime) -> int:
        (seq,) = self.append_many(actor, [(action, payload)], at)
        return seq

    def append_many(
        self, actor: str, records: list[tuple[str, dict[str, Any]]], at: datetime
    ) -> list[int]:
        """Chain, sign and insert ``(action, payload)`` records in order; their seqs."""
        if self._signer is None:
            raise AuditError("no signing key is loaded; audit records cannot be written")
        if not records:
            return []
        session = self._session
        # The head row is the chain's lock: concurrent writers queue here, so the chain
        # never forks. Taken late in the transaction to keep the hold short.
        head = session.execute(
            select(t.audit_head.c.seq, t.audit_head.c.hash)
            .where(t.audit_head.c.id == 1)
            .with_for_update()
        ).one()
        seq, last = int(head.seq), head.hash
        rows: list[dict[str, Any]] = []
        for action, payload in records:
            record = next_record(seq, last, at, actor, action, payload)
            seq, last = record.seq, record.hash
            rows.append(
                {
                    "seq": record.seq,
                    "at": record.at,
                    "actor": record.actor,
                    "action": record.action,
                    "payload": record.payload,
                    "prev_hash": record.prev_hash,
                    "hash": record.hash,
                    "signature": self._signer.sign(record.hash),
                    "key_id": self._signer.key_id,
                }
            )
        session.execute(insert(t.audit_log), rows)
        session.execute(
            update(t.audit_head).where(t.audit_head.c.id == 1).values(seq=seq, hash=last)
        )
        return [int(row["seq"]) for row in rows]

    def head(self) -> tuple[int, str]:
        row = self._session.execute(
            select(t.audit_head.c.seq, t.audit_head.c.hash).where(t.audit_head.c.id == 1)
        ).one()
        return int(row.seq), row.hash

    def records(self, batch: int = 5000, after: int = 0) -> Iterator[AuditRecord]:
        """Records after ``after`` by sequence, streamed in batches (the trail can be
        long)."""
        last = after or None
        while True:
            query = select(t.audit_log).order_by(t.audit_log.c.seq).limit(batch)
            if last is not None:
                query = query.where(t.audit_log.c.seq > last)
            rows = self._session.execute(query).all()
            if not rows:
                return
            for row in rows:
                yield AuditRecord(
                    row.seq,
                    row.at,
                    row.actor,
                    row.action,
                    row.payload,
                    row.prev_hash,
                    row.hash,
                    row.signature,
                    row.key_id,
                )
            last = rows[-1].seq

    def count(self) -> int:
        return int(self._session.scalar(select(func.count()).select_from(t.audit_log)) or 0)


@dataclass(frozen=True)
class StoredAccount:
    """What the database holds of one account: its provider and currency, for life."""

    id: str
    provider: str
    currency: str
    country: str | None


class MerchantAccountRepository:
    """The accounts this database has held money for (``merchant_accounts``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def register(
        self, account_id: str, provider: str, currency: str, country: str, now: datetime
    ) -> StoredAccount:
        """Record the account unless it is known; returns what is stored either way (the
        caller compares). A known account without a country gets this one."""
        self._session.execute(
            dialect_insert(self._session, t.merchant_accounts)
            .values(
                id=account_id, provider=provider, currency=currency, country=country,
                created_at=now,
            )
            .on_conflict_do_nothing()
        )  # fmt: skip
        self._session.execute(
            update(t.merchant_accounts)
            .where(t.merchant_accounts.c.id == account_id, t.merchant_accounts.c.country.is_(None))
            .values(country=country)
        )
        row = self._session.execute(
            select(t.merchant_accounts).where(t.merchant_accounts.c.id == account_id)
        ).one()
        return StoredAccount(row.id, row.provider, row.currency, row.country)

    def all(self) -> list[StoredAccount]:
        rows = self._session.execute(select(t.merchant_accounts).order_by(t.merchant_accounts.c.id))
        return [StoredAccount(r.id, r.provider, r.currency, r.country) for r in rows]


class MetaRepository:
    """Instance facts: whether this database holds sandbox or live money, and the like."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, key: str) -> str | None:
        return self._session.scalar(select(t.meta.c.value).where(t.meta.c.key == key))

    def put(self, key: str, value: str | None) -> None:
        """Store ``value`` under ``key`` (None removes it)."""
        self._session.execute(delete(t.meta).where(t.meta.c.key == key))
        if value is not None:
            self._session.execute(insert(t.meta).values(key=key, value=value))

    def set_once(self, key: str, value: str) -> str:
        """Store ``value`` unless the key exists; returns the stored value either way."""
        self._session.execute(
            dialect_insert(self._session, t.meta)
            .values(key=key, value=value)
            .on_conflict_do_nothing()
        )
        stored = self.get(key)
        assert stored is not None  # noqa: S101 - just written or already there
        return stored
