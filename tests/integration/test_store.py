"""The store on SQLite and PostgreSQL: postings, balances, the database's own refusals,
and the signed audit chain."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain import accounts
from qmoi.domain import ledger as L
from qmoi.domain.errors import DomainError, DuplicateReference, InsufficientFunds
from qmoi.domain.ledger import Ledger
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey
from qmoi.services.bookkeeping import record_entry, verify_audit, verify_ledger
from tests.ledger_model import Op, Story, ops

AT = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def kes(text: str) -> Money:
    return Money.parse(text)


def pay(ref: str, amount: str = "500", provider: str = "airtel") -> L.JournalEntry:
    return L.payment_confirmed(
        provider, StreamKey.AIRTIME_SALES, kes(amount), ref, AT, sandbox=True
    )


def test_booked_payment_moves_balances_and_is_audited(uows: UnitOfWorkFactory) -> None:
    with uows() as uow:
        record_entry(uow, pay("AT-1", "1,250.50"), "system")
        uow.commit()
    with uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("airtel")) == kes("1250.50")
        assert uow.ledger.balance(accounts.income(StreamKey.AIRTIME_SALES)) == -kes("1250.50")
        assert uow.audit.count() == 1
        entry = next(uow.ledger.entries())
        assert entry.business_day.isoformat() == "2026-11-29"
    assert verify_ledger(uows) == []


def test_leaving_without_commit_writes_nothing(uows: UnitOfWorkFactory) -> None:
    with uows() as uow:
        record_entry(uow, pay("AT-1"), "system")
    with uows(read_only=True) as uow:
        assert uow.ledger.entry_count() == 0
        assert uow.audit.count() == 0


def test_same_provider_reference_cannot_be_booked_twice(uows: UnitOfWorkFactory) -> None:
    with uows() as uow:
        record_entry(uow, pay("MP-RCPT-1"), "system")
        uow.commit()
    with uows() as uow:
        with pytest.raises(DuplicateReference):
            uow.ledger.post(pay("MP-RCPT-1", "999"))
        # the savepoint kept the transaction usable and unchanged
        record_entry(uow, pay("MP-RCPT-2"), "system")
        uow.commit()
    with uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("airtel")) == kes("1000")
        assert uow.ledger.entry_count() == 2


def test_reservation_beyond_the_wallet_is_refused(uows: UnitOfWorkFactory) -> None:
    with uows() as uow:
        record_entry(uow, pay("p1", "1500"), "system")
        uow.commit()
    with uows() as uow:
        with pytest.raises(InsufficientFunds):
            uow.ledger.post(L.transfer_reserved("airtel", kes("2000"), "t1", AT, sandbox=True))
        uow.commit()
    with uows(read_only=True) as uow:
        assert uow.ledger.balance(accounts.wallet("airtel")) == kes("1500")
        assert uow.ledger.balance(accounts.in_transit("airtel")) == Money.zero()
        assert uow.ledger.entry_count() == 1


def test_database_refuses_negative_wallet_even_behind_the_code(uows: UnitOfWorkFactory) -> None:
    with uows() as uow:
        record_entry(uow, pay("p1", "10"), "system")
        uow.commit()
    with uows() as uow, pytest.raises(IntegrityError):
        uow.session.execute(
            text("UPDATE accounts SET balance_minor = -1 WHERE name = 'assets:airtel:wallet'")
        )


@pytest.mark.parametrize("table", ["journal_entries", "postings", "audit_log"])
@pytest.mark.parametrize("verb", ["UPDATE", "DELETE"])
def test_books_are_append_only_in_the_database(
    uows: UnitOfWorkFactory, table: str, verb: str
) -> None:
    with uows() as uow:
        record_entry(uow, pay("p1"), "system")
        uow.commit()
    column = {
        "journal_entries": "description = 'x'",
        "postings": "amount_minor = 1",
        "audit_log": "actor = 'x'",
    }[table]
    statement = f"UPDATE {table} SET {column}" if verb == "UPDATE" else f"DELETE FROM {table}"  # noqa: S608
    with uows() as uow, pytest.raises(DBAPIError, match="append-only"):
        uow.session.execute(text(statement))


@pytest.mark.postgres
def test_postgres_refuses_an_unbalanced_entry_at_commit(postgres_url: str, signer, clock) -> None:  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    from qmoi.db.engine import create_db_engine

    engine = create_db_engine(postgres_url)
    uows = UnitOfWorkFactory(engine, clock, ZoneInfo("Africa/Nairobi"), signer)
    with uows() as uow:
        entry_id = uow.ledger.post(pay("p1"))
        uow.session.execute(
            text(
                "INSERT INTO postings (entry_id, account_id, amount_minor, currency) "
                "SELECT :e, id, 7, 'KES' FROM accounts LIMIT 1"
            ),
            {"e": entry_id},
        )
        with pytest.raises(Exception, match="unbalanced"):
            uow.commit()
    engine.dispose()


def test_audit_chain_verifies_and_catches_tampering(uows: UnitOfWorkFactory, signer) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        with uows() as uow:
            record_entry(uow, pay(f"p{i}"), "system")
            uow.commit()
    verdict = verify_audit(uows, signer.verifier())
    assert verdict.ok
    assert verdict.records == 5

    _tamper(uows, "UPDATE audit_log SET payload = replace(payload, 'p2', 'p9') WHERE seq = 3")
    verdict = verify_audit(uows, signer.verifier())
    assert verdict.broken is not None
    assert verdict.broken.seq == 3
    assert "changed" in verdict.broken.reason


def test_audit_chain_catches_a_removed_record(uows: UnitOfWorkFactory, signer) -> None:  # type: ignore[no-untyped-def]
    for i in range(4):
        with uows() as uow:
            record_entry(uow, pay(f"p{i}"), "system")
            uow.commit()
    _tamper(uows, "DELETE FROM audit_log WHERE seq = 2")
    verdict = verify_audit(uows, signer.verifier())
    assert verdict.broken is not None
    assert verdict.broken.seq == 3


def test_audit_chain_catches_records_cut_from_the_end(uows: UnitOfWorkFactory, signer) -> None:  # type: ignore[no-untyped-def]
    for i in range(4):
        with uows() as uow:
            record_entry(uow, pay(f"p{i}"), "system")
            uow.commit()
    _tamper(uows, "DELETE FROM audit_log WHERE seq = 4")
    verdict = verify_audit(uows, signer.verifier())
    assert verdict.broken is not None
    assert "head says record 4" in verdict.broken.reason


def test_records_written_while_the_trail_is_verified_are_no_break(  # type: ignore[no-untyped-def]
    uows: UnitOfWorkFactory, signer, monkeypatch
) -> None:
    """Regression (chaos run): ``qmoi audit verify`` beside running processes reported
    "the head says 1537 is the last, but the chain ends at 1539": it read the head, then
    two records were committed while it walked the chain."""
    from qmoi.db.repositories import AuditRepository

    for i in range(3):
        with uows() as uow:
            record_entry(uow, pay(f"p{i}"), "system")
            uow.commit()
    read_head = AuditRepository.head
    appended = []

    def head_then_a_write(self):  # type: ignore[no-untyped-def]
        head = read_head(self)
        if not appended:  # another process writes just after the head was read
            appended.append(1)
            with uows() as other:
                record_entry(other, pay("p-late"), "system")
                other.commit()
        return head

    monkeypatch.setattr(AuditRepository, "head", head_then_a_write)
    verdict = verify_audit(uows, signer.verifier())
    assert verdict.ok, verdict.broken
    assert verdict.records in (3, 4)  # SQLite's read is a snapshot


def test_audit_chain_catches_a_forged_signature(uows: UnitOfWorkFactory, signer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from qmoi.security.signing import Signer

    with uows() as uow:
        record_entry(uow, pay("p1"), "system")
        uow.commit()
    other = Signer.load_or_create(tmp_path / "other.key")
    verdict = verify_audit(uows, other.verifier())
    assert verdict.broken is not None
    assert verdict.broken.seq == 1
    assert "signature" in verdict.broken.reason


def _tamper(uows: UnitOfWorkFactory, statement: str) -> None:
    """Change the database behind QMOI's back: drop the guard triggers, then write."""
    with uows() as uow:
        if uow.session.get_bind().dialect.name == "sqlite":
            for verb in ("update", "delete"):
                uow.session.execute(text(f"DROP TRIGGER audit_log_no_{verb}"))
        else:
            uow.session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        uow.session.execute(text(statement))
        uow.commit()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(ops, max_size=25))
def test_store_agrees_with_the_reference_ledger(
    uows: UnitOfWorkFactory, operations: list[Op]
) -> None:
    with uows(read_only=True) as uow:
        model = Ledger()
        model.balances.update(uow.ledger.balances())
    story = Story()
    for op in operations:
        entry = story.entry_for(op)
        if entry is None:
            continue
        try:
            model.post(entry)
        except DomainError:
            story.not_booked(entry)
            with uows() as uow, pytest.raises(DomainError):
                uow.ledger.post(entry)
            continue
        story.booked_ok(entry)
        with uows() as uow:
            record_entry(uow, entry, "system")
            uow.commit()
    with uows(read_only=True) as uow:
        stored = {k: v for k, v in uow.ledger.balances().items() if v}
    assert stored == {k: v for k, v in model.balances.items() if v}
    assert verify_ledger(uows) == []
