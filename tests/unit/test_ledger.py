from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qmoi.domain import accounts
from qmoi.domain import ledger as L
from qmoi.domain.errors import (
    CurrencyMismatch,
    DomainError,
    DuplicateReference,
    InsufficientFunds,
    InvalidAmount,
    UnbalancedEntry,
)
from qmoi.domain.ledger import EntryKind, JournalEntry, Ledger, Posting
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey
from tests.ledger_model import Op, Story, ops

AT = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def kes(text: str) -> Money:
    return Money.parse(text)


def test_unbalanced_entry_cannot_be_built() -> None:
    with pytest.raises(UnbalancedEntry):
        JournalEntry(
            EntryKind.COLLECTION,
            (
                Posting("assets:airtel:wallet", kes("10")),
                Posting("income:airtime_sales", -kes("9")),
            ),
            AT,
        )


def test_mixed_currency_entry_cannot_be_built() -> None:
    with pytest.raises(CurrencyMismatch):
        JournalEntry(
            EntryKind.COLLECTION,
            (
                Posting("assets:airtel:wallet", Money(100, "KES")),
                Posting("income:airtime_sales", Money(-100, "UGX")),
            ),
            AT,
        )


def test_single_line_zero_line_and_unknown_account_refused() -> None:
    with pytest.raises(UnbalancedEntry):
        JournalEntry(EntryKind.COLLECTION, (Posting("assets:airtel:wallet", kes("1")),), AT)
    with pytest.raises(InvalidAmount):
        Posting("assets:airtel:wallet", Money.zero())
    with pytest.raises(ValueError, match="known account kind"):
        Posting("petty_cash", kes("1"))


def test_payment_books_wallet_and_stream_income() -> None:
    book = Ledger()
    book.post(
        L.payment_confirmed(
            "airtel", StreamKey.AIRTIME_SALES, kes("500"), "AT-1", AT, sandbox=False
        )
    )
    assert book.balance(accounts.wallet("airtel")) == kes("500")
    assert book.balance(accounts.income(StreamKey.AIRTIME_SALES)) == -kes("500")
    assert book.trial_balance() == {"KES": 0}


def test_second_booking_of_the_same_reference_raises_and_changes_nothing() -> None:
    book = Ledger()
    entry = L.payment_confirmed(
        "mpesa", StreamKey.DATA_PACKAGES, kes("120"), "MP-RCPT-1", AT, sandbox=False
    )
    book.post(entry)
    before = dict(book.balances)
    with pytest.raises(DuplicateReference):
        book.post(entry)
    assert dict(book.balances) == before


def test_transfer_cannot_reserve_more_than_the_wallet_holds() -> None:
    book = Ledger()
    book.post(
        L.payment_confirmed("airtel", StreamKey.AIRTIME_SALES, kes("1500"), "p1", AT, sandbox=False)
    )
    with pytest.raises(InsufficientFunds) as caught:
        book.post(L.transfer_reserved("airtel", kes("2000"), "t1", AT, sandbox=False))
    assert caught.value.available_minor == 150000
    assert book.balance(accounts.in_transit("airtel")) == Money.zero()


def test_reserve_then_settle_moves_money_to_owner_drawings() -> None:
    book = Ledger()
    book.post(
        L.payment_confirmed(
            "airtel", StreamKey.MOBILE_SERVICES, kes("2500"), "p1", AT, sandbox=False
        )
    )
    book.post(L.transfer_reserved("airtel", kes("2000"), "t1", AT, sandbox=False))
    book.post(L.transfer_settled("airtel", kes("2000"), "t1", AT, sandbox=False))
    assert book.balance(accounts.wallet("airtel")) == kes("500")
    assert book.balance(accounts.in_transit("airtel")) == Money.zero()
    assert book.balance(accounts.OWNER_DRAWINGS) == kes("2000")


def test_reversal_undoes_an_entry_without_editing_it() -> None:
    book = Ledger()
    entry = L.payment_confirmed(
        "airtel", StreamKey.MOBILE_SERVICES, kes("100"), "p1", AT, sandbox=False
    )
    book.post(entry)
    book.post(entry.reversal("p1:reversal", AT, "customer refunded"))
    assert book.balance(accounts.wallet("airtel")) == Money.zero()
    assert len(book.entries) == 2


def test_standard_entries_refuse_non_positive_amounts() -> None:
    with pytest.raises(InvalidAmount):
        L.fee_charged("airtel", Money.zero(), "f", AT, sandbox=False)
    with pytest.raises(InvalidAmount):
        L.transfer_reserved("airtel", -kes("1"), "t", AT, sandbox=False)


@given(st.lists(ops, max_size=60))
def test_random_bookkeeping_keeps_every_invariant(operations: list[Op]) -> None:
    book, story = Ledger(), Story()
    for op in operations:
        entry = story.entry_for(op)
        if entry is None:
            continue
        before = dict(book.balances)
        try:
            book.post(entry)
        except DomainError:
            assert dict(book.balances) == before  # a refused entry changes nothing
            story.not_booked(entry)
            continue
        story.booked_ok(entry)
    # the trial balance is zero in every currency
    assert all(total == 0 for total in book.trial_balance().values())
    # real-money accounts never go negative
    for (account, _), minor in book.balances.items():
        if accounts.must_stay_non_negative(account):
            assert minor >= 0
    # every balance equals the sum of its postings
    recomputed: dict[str, int] = {}
    for entry in book.entries:
        for posting in entry.postings:
            recomputed[posting.account] = recomputed.get(posting.account, 0) + posting.amount.minor
    assert {a: m for (a, _), m in book.balances.items() if m} == {
        a: m for a, m in recomputed.items() if m
    }
    # each reference booked at most once
    refs = [e.reference for e in book.entries]
    assert len(refs) == len(set(refs))
