"""Double-entry journal entries and the rules every posting obeys.

A :class:`JournalEntry` cannot be built unbalanced, in mixed currencies, with a float or
a zero line. :class:`Ledger` is the in-memory model of the whole book: it applies an
entry all-or-nothing, refuses a second booking of the same reference, and never lets a
wallet or in-transit balance go below zero. The database store enforces the same rules
(see ``qmoi.db``); property tests run both against random postings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from qmoi.domain import accounts
from qmoi.domain.errors import (
    CurrencyMismatch,
    DuplicateReference,
    InsufficientFunds,
    InvalidAmount,
    UnbalancedEntry,
)
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey


class EntryKind(StrEnum):
    COLLECTION = "collection"  # a confirmed customer payment
    SUSPENSE = "suspense"  # money arrived that we cannot match
    TRANSFER_RESERVE = "transfer_reserve"
    TRANSFER_SETTLE = "transfer_settle"
    TRANSFER_RELEASE = "transfer_release"
    FEE = "fee"
    REFUND = "refund"
    REVERSAL = "reversal"  # corrects an earlier entry
    OPENING = "opening"  # float present before QMOI started


@dataclass(frozen=True, slots=True)
class Posting:
    """One line: a debit (positive) or credit (negative) to one account."""

    account: str
    amount: Money

    def __post_init__(self) -> None:
        accounts.kind_of(self.account)  # refuses unknown account kinds
        if self.amount.minor == 0:
            raise InvalidAmount(f"a posting to {self.account} of zero moves nothing")


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A balanced set of postings in one currency, with an optional unique reference."""

    kind: EntryKind
    postings: tuple[Posting, ...]
    occurred_at: datetime
    description: str = ""
    reference: str | None = None  # unique across the ledger when set
    sandbox: bool = False
    provider: str | None = None
    stream: StreamKey | None = None

    def __post_init__(self) -> None:
        if len(self.postings) < 2:
            raise UnbalancedEntry("a journal entry needs at least two postings")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        currencies = {p.amount.currency for p in self.postings}
        if len(currencies) != 1:
            raise CurrencyMismatch(f"one entry cannot mix currencies: {sorted(currencies)}")
        total = sum(p.amount.minor for p in self.postings)
        if total != 0:
            raise UnbalancedEntry(f"postings sum to {total} minor units, not zero")

    @property
    def currency(self) -> str:
        return self.postings[0].amount.currency

    @property
    def amount(self) -> Money:
        """The entry's size: the sum of its debits."""
        return Money(
            sum(p.amount.minor for p in self.postings if p.amount.minor > 0), self.currency
        )

    def reversal(self, reference: str, occurred_at: datetime, description: str) -> JournalEntry:
        """The entry that undoes this one (entries are never edited or deleted)."""
        return JournalEntry(
            kind=EntryKind.REVERSAL,
            postings=tuple(Posting(p.account, -p.amount) for p in self.postings),
            occurred_at=occurred_at,
            description=description,
            reference=reference,
            sandbox=self.sandbox,
            provider=self.provider,
            stream=self.stream,
        )


def _entry(
    kind: EntryKind,
    debit: str,
    credit: str,
    amount: Money,
    occurred_at: datetime,
    reference: str,
    description: str,
    **extra: object,
) -> JournalEntry:
    if not amount.is_positive:
        raise InvalidAmount(f"{kind.value} amount must be positive, got {amount}")
    return JournalEntry(
        kind=kind,
        postings=(Posting(debit, amount), Posting(credit, -amount)),
        occurred_at=occurred_at,
        reference=reference,
        description=description,
        **extra,  # type: ignore[arg-type]
    )


def payment_confirmed(
    provider: str,
    stream: StreamKey,
    amount: Money,
    reference: str,
    occurred_at: datetime,
    *,
    sandbox: bool,
) -> JournalEntry:
    """A provider-confirmed payment: the wallet grows, the stream earns."""
    return _entry(
        EntryKind.COLLECTION,
        accounts.wallet(provider),
        accounts.income(stream),
        amount,
        occurred_at,
        reference,
        f"{provider} payment for {stream.value}",
        sandbox=sandbox,
        provider=provider,
        stream=stream,
    )


def payment_to_suspense(
    provider: str,
    amount: Money,
    reference: str,
    occurred_at: datetime,
    reason: str,
    *,
    sandbox: bool,
) -> JournalEntry:
    """Money that arrived but cannot be matched: held as a liability, never revenue."""
    return _entry(
        EntryKind.SUSPENSE,
        accounts.wallet(provider),
        accounts.SUSPENSE,
        amount,
        occurred_at,
        reference,
        f"unmatched {provider} payment: {reason}",
        sandbox=sandbox,
        provider=provider,
    )


def transfer_reserved(
    provider: str, amount: Money, transfer_ref: str, occurred_at: datetime, *, sandbox: bool
) -> JournalEntry:
    return _entry(
        EntryKind.TRANSFER_RESERVE,
        accounts.in_transit(provider),
        accounts.wallet(provider),
        amount,
        occurred_at,
        f"{transfer_ref}:reserve",
        f"reserve transfer {transfer_ref}",
        sandbox=sandbox,
        provider=provider,
    )


def transfer_settled(
    provider: str, amount: Money, transfer_ref: str, occurred_at: datetime, *, sandbox: bool
) -> JournalEntry:
    return _entry(
        EntryKind.TRANSFER_SETTLE,
        accounts.OWNER_DRAWINGS,
        accounts.in_transit(provider),
        amount,
        occurred_at,
        f"{transfer_ref}:settle",
        f"transfer {transfer_ref} paid to owner",
        sandbox=sandbox,
        provider=provider,
    )


def transfer_released(
    provider: str, amount: Money, transfer_ref: str, occurred_at: datetime, *, sandbox: bool
) -> JournalEntry:
    return _entry(
        EntryKind.TRANSFER_RELEASE,
        accounts.wallet(provider),
        accounts.in_transit(provider),
        amount,
        occurred_at,
        f"{transfer_ref}:release",
        f"transfer {transfer_ref} failed; funds released",
        sandbox=sandbox,
        provider=provider,
    )


def fee_charged(
    provider: str, fee: Money, reference: str, occurred_at: datetime, *, sandbox: bool
) -> JournalEntry:
    return _entry(
        EntryKind.FEE,
        accounts.fees(provider),
        accounts.wallet(provider),
        fee,
        occurred_at,
        reference,
        f"{provider} fee",
        sandbox=sandbox,
        provider=provider,
    )


def fee_payable(
    provider: str, fee: Money, reference: str, occurred_at: datetime, *, sandbox: bool
) -> JournalEntry:
    """A fee the provider took from float our books do not hold: owed, not overdrawn."""
    return _entry(
        EntryKind.FEE,
        accounts.fees(provider),
        accounts.fees_payable(provider),
        fee,
        occurred_at,
        reference,
        f"{provider} fee taken from unbooked float",
        sandbox=sandbox,
        provider=provider,
    )


def fee_settled(
    provider: str, fee: Money, fee_reference: str, occurred_at: datetime, *, sandbox: bool
) -> JournalEntry:
    """An owed fee (:func:`fee_payable`) paid from wallet money booked since: the books'
    wallet comes back down to the provider's float. One per fee (``{fee}:settled``)."""
    return _entry(
        EntryKind.FEE,
        accounts.fees_payable(provider),
        accounts.wallet(provider),
        fee,
        occurred_at,
        settled_reference(fee_reference),
        f"{provider} fee owed, paid from the wallet",
        sandbox=sandbox,
        provider=provider,
    )


def settled_reference(fee_reference: str) -> str:
    return f"{fee_reference}:settled"


@dataclass
class Ledger:
    """The whole book in memory; the reference model the database store must agree with."""

    balances: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    references: set[str] = field(default_factory=set)
    entries: list[JournalEntry] = field(default_factory=list)

    def balance(self, account: str, currency: str = "KES") -> Money:
        return Money(self.balances.get((account, currency), 0), currency)

    def post(self, entry: JournalEntry) -> None:
        """Apply ``entry`` entirely or not at all."""
        if entry.reference is not None and entry.reference in self.references:
            raise DuplicateReference(entry.reference)
        check_non_negative(entry, lambda account: self.balances.get((account, entry.currency), 0))
        for posting in entry.postings:
            self.balances[(posting.account, entry.currency)] += posting.amount.minor
        if entry.reference is not None:
            self.references.add(entry.reference)
        self.entries.append(entry)

    def trial_balance(self) -> dict[str, int]:
        """Sum of all balances per currency; zero for every currency in a sound ledger."""
        totals: dict[str, int] = defaultdict(int)
        for (_, currency), minor in self.balances.items():
            totals[currency] += minor
        return dict(totals)


def check_non_negative(entry: JournalEntry, current_minor: Callable[[str], int]) -> None:
    """Raise :class:`InsufficientFunds` if ``entry`` takes a real-money account below zero."""
    deltas: dict[str, int] = defaultdict(int)
    for posting in entry.postings:
        deltas[posting.account] += posting.amount.minor
    for account, delta in deltas.items():
        if delta < 0 and accounts.must_stay_non_negative(account):
            available = current_minor(account)
            if available + delta < 0:
                raise InsufficientFunds(account, available, -delta)
