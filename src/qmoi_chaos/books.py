"""What QMOI's database says, read the way an auditor would, and the checks that hold
it against the emulators' ground truth (``GET /sandbox/transactions``) — asserted by the
end-to-end tests; :mod:`qmoi_chaos.truth` counts the same comparisons for a report.

The emulators name things their own way: Airtel keys a transaction by the merchant's
id (our collection reference, our transfer reference); Daraja keys an STK push by its
CheckoutRequestID (stored by QMOI as the collection's provider request id) and a B2C
payout by its ConversationID, with our reference as the OriginatorConversationID (the
inspection API's ``reference``). A receipt (``provider_id``) names the money either way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, update

from qmoi.db import tables as t
from qmoi.domain import accounts

OPEN_TRANSFER_STATES = ("reserved", "submitted", "unknown")
OPEN_COLLECTION_STATES = ("requested", "pending", "unknown")


@dataclass(frozen=True)
class Books:
    """One provider's collections, transfers, payment entries and balances in QMOI."""

    provider: str
    collections: list[dict[str, Any]]
    transfers: list[dict[str, Any]]
    payment_entries: list[dict[str, Any]]
    suspense_entries: list[dict[str, Any]]
    balances: dict[str, int]
    inbox_waiting: int

    @property
    def open_collections(self) -> list[dict[str, Any]]:
        return [c for c in self.collections if c["state"] in OPEN_COLLECTION_STATES]

    @property
    def open_transfers(self) -> list[dict[str, Any]]:
        return [x for x in self.transfers if x["state"] in OPEN_TRANSFER_STATES]

    @property
    def earned_minor(self) -> int:
        return sum(e["amount_minor"] for e in self.payment_entries)

    def fingerprint(self) -> tuple[object, ...]:
        """Changes whenever anything moves: used to wait for the system to settle."""
        return (
            tuple(sorted(Counter(c["state"] for c in self.collections).items())),
            tuple(sorted(Counter(x["state"] for x in self.transfers).items())),
            len(self.payment_entries),
            self.inbox_waiting,
        )


def read_books(engine: Engine, provider: str) -> Books:
    with engine.connect() as conn:
        collections = [
            dict(r._mapping)
            for r in conn.execute(
                select(t.collections)
                .where(t.collections.c.provider == provider)
                .order_by(t.collections.c.id)
            )
        ]
        transfers = [
            dict(r._mapping)
            for r in conn.execute(
                select(t.transfers)
                .where(t.transfers.c.provider == provider)
                .order_by(t.transfers.c.id)
            )
        ]
        entries = [
            dict(r._mapping)
            for r in conn.execute(
                select(t.journal_entries).where(t.journal_entries.c.provider == provider)
            )
        ]
        balances = {
            r.name: r.balance_minor
            for r in conn.execute(select(t.accounts.c.name, t.accounts.c.balance_minor))
        }
        waiting = conn.scalar(
            select(func.count()).select_from(t.inbox).where(t.inbox.c.status == "received")
        )
    payments = [e for e in entries if (e["reference"] or "").startswith(f"{provider}:pay:")]
    suspense = [e for e in entries if (e["reference"] or "").startswith(f"{provider}:suspense:")]
    return Books(provider, collections, transfers, payments, suspense, balances, int(waiting or 0))


@dataclass(frozen=True)
class Inbox:
    """QMOI's callback inbox as the judge of the attack reads it: how many callbacks
    ended in each status, and every row whose body carries ``marker`` (the attacker's)."""

    statuses: dict[str, int]
    marked: list[dict[str, Any]]
    parked: list[str]  # the first few parked callbacks: event id and reason


def read_inbox(engine: Engine, marker: str) -> Inbox:
    with engine.connect() as conn:
        statuses = {
            str(status): int(count)
            for status, count in conn.execute(
                select(t.inbox.c.status, func.count()).group_by(t.inbox.c.status)
            )
        }
        marked = [
            dict(r._mapping)
            for r in conn.execute(
                select(
                    t.inbox.c.provider,
                    t.inbox.c.kind,
                    t.inbox.c.event_id,
                    t.inbox.c.status,
                    t.inbox.c.reason,
                    t.inbox.c.body,
                )
                .where(t.inbox.c.body.contains(marker, autoescape=True))
                .order_by(t.inbox.c.id)
            )
        ]
        parked = [
            f"{r.provider} {r.event_id}: {r.reason}"
            for r in conn.execute(
                select(t.inbox.c.provider, t.inbox.c.event_id, t.inbox.c.reason)
                .where(t.inbox.c.status == "failed")
                .order_by(t.inbox.c.id)
                .limit(10)
            )
        ]
    return Inbox(statuses, marked, parked)


def expire_leases(engine: Engine) -> int:
    """Make every unfinished item due now: what waiting out the claim leases of a worker
    that died would do (a minute or more of real time: a ``qmoi worker`` has no faster
    clock). Only the schedule moves; no state, no money."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        moved = conn.execute(
            update(t.transfers)
            .where(t.transfers.c.state.in_(OPEN_TRANSFER_STATES), t.transfers.c.next_check_at > now)
            .values(next_check_at=now)
        ).rowcount
        moved += conn.execute(
            update(t.collections)
            .where(
                t.collections.c.state.in_(("pending", "unknown")),
                t.collections.c.next_check_at > now,
            )
            .values(next_check_at=now)
        ).rowcount
    return int(moved)


# --- the checks ------------------------------------------------------------------------


class Mismatch(AssertionError):
    """QMOI's books disagree with the emulator's ground truth (what a test fails on)."""


def _require(condition: object, message: object = "") -> None:
    if not condition:
        raise Mismatch(str(message))


def collection_key(provider: str, collection: dict[str, Any]) -> str:
    return str(
        collection["reference"] if provider == "airtel" else collection["provider_request_id"]
    )


def payout_reference(provider: str, txn: dict[str, Any]) -> str:
    """Our reference of an emulator payout: Airtel's transaction id, Daraja's
    OriginatorConversationID."""
    return str(txn["id"] if provider == "airtel" else txn["reference"])


def check_collections(books: Books, truth: list[dict[str, Any]], expected_minor: int) -> None:
    """Every collection the emulator says succeeded is booked exactly once, at its
    amount and under its receipt; nothing else is booked; nothing is left open."""
    provider = books.provider
    pushes = [x for x in truth if x["kind"] == "collection"]
    _require(not [x for x in pushes if x["status"] == "pending"], "the emulator still waits")
    _require(not books.open_collections, f"collections left open: {books.open_collections}")
    paid = {x["id"]: x for x in pushes if x["status"] == "succeeded"}
    ours = {collection_key(provider, c): c for c in books.collections}
    _require(len(ours) == len(books.collections), "two collections share a provider id")
    booked = {k: c for k, c in ours.items() if c["state"] == "succeeded"}
    _require(
        set(booked) == set(paid),
        (
            f"paid but not booked: {sorted(set(paid) - set(booked))}; "
            f"booked but not paid: {sorted(set(booked) - set(paid))}"
        ),
    )
    # Booked under the provider's receipt — or, for an M-Pesa push whose success came
    # from its STK query (every M-Pesa callback is only a hint, and the query names no
    # receipt), under its CheckoutRequestID: either names the emulator's transaction.
    named = {key: (txn["provider_id"], key) for key, txn in paid.items()}
    for key, txn in paid.items():
        mine = booked[key]
        _require(mine["amount_minor"] == txn["amount_minor"], key)
        _require(mine["provider_reference"] in named[key], key)
        _require(mine["entry_id"] is not None, f"{key} succeeded without a ledger entry")
    receipts = Counter(e["reference"] for e in books.payment_entries)
    _require(
        receipts == Counter(f"{provider}:pay:{booked[key]['provider_reference']}" for key in paid)
    )
    _require(books.earned_minor == sum(x["amount_minor"] for x in paid.values()) == expected_minor)
    _require(not books.suspense_entries, f"money in suspense: {books.suspense_entries}")
    _require(books.inbox_waiting == 0, "callbacks still waiting in the inbox")


def check_transfers(
    books: Books, truth: list[dict[str, Any]], chunk_minor: int, opening_minor: int, wallet: int
) -> None:
    """The auto-transfer rule, each chunk disbursed exactly once, and the ledger's wallet
    equal to the emulator's float movement."""
    provider = books.provider
    _require(not books.open_transfers, f"transfers left open: {books.open_transfers}")
    payouts = [x for x in truth if x["kind"] == "disbursement"]
    _require(not [x for x in payouts if x["status"] == "pending"], "the emulator still pays")
    keys = Counter(payout_reference(provider, x) for x in payouts)
    _require(not [k for k, n in keys.items() if n > 1], f"disbursed twice: {keys}")
    emulated = {payout_reference(provider, x): x for x in payouts}
    ours = {x["reference"]: x for x in books.transfers}
    _require(
        set(emulated) == set(ours),
        (
            f"disbursed, unknown to QMOI: {sorted(set(emulated) - set(ours))}; "
            f"in QMOI, never disbursed: {sorted(set(ours) - set(emulated))}"
        ),
    )
    for reference, txn in emulated.items():
        mine = ours[reference]
        _require(mine["amount_minor"] == txn["amount_minor"], reference)
        _require(mine["state"] == txn["status"], (reference, mine["state"], txn["status"]))
        if txn["status"] == "succeeded":
            _require(mine["provider_reference"] == txn["provider_id"], reference)
    # The rule, per business day: floor(earned that day / chunk) chunks, numbered 1…n,
    # each paid exactly once (a refused chunk may be retried under the same number).
    auto = [x for x in books.transfers if x["trigger"] == "auto"]
    _require(auto, "no auto-transfer at all")
    _require(all(x["amount_minor"] == chunk_minor for x in auto))
    earned_by_day: Counter[object] = Counter()
    for entry in books.payment_entries:
        earned_by_day[entry["business_day"]] += entry["amount_minor"]
    _require({x["business_day"] for x in auto} <= set(earned_by_day))
    for day, earned in earned_by_day.items():
        paid = Counter(
            x["sequence"] for x in auto if x["business_day"] == day and x["state"] == "succeeded"
        )
        _require(paid == Counter(range(1, earned // chunk_minor + 1)), (day, earned, paid))
    # Ledger and emulator agree on the money.
    fees = sum(x["fee_minor"] for x in payouts if x["status"] == "succeeded")
    paid_out = sum(x["amount_minor"] for x in payouts if x["status"] == "succeeded")
    _require(books.balances[accounts.in_transit(provider)] == 0)
    _require(
        books.balances[accounts.wallet(provider)] == books.earned_minor - paid_out - fees,
        (
            books.balances[accounts.wallet(provider)],
            books.earned_minor,
            paid_out,
            fees,
            [(x["reference"], x.get("fee_minor")) for x in books.transfers],
        ),
    )
    _require(wallet - opening_minor == books.earned_minor - paid_out - fees)
