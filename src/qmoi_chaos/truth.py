"""QMOI's books held against the emulators' ground truth, counted rather than asserted:
the chaos run reports how many payments were lost, booked twice, paid twice…, and
names the first few of each so that a failure can be looked into.

The emulator is the provider: what it says succeeded is money that moved. Matching is
by the provider's receipt (``provider_id``) for money in, and by our transfer reference
(Airtel's transaction id, Daraja's OriginatorConversationID) for money out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from qmoi.domain import accounts
from qmoi_chaos.books import Books, payout_reference

#: result codes with which the emulators refuse a payout for want of float
INSUFFICIENT = {"DP00900001007", "1"}
EXAMPLES = 5


@dataclass
class Comparison:
    """Counts over both providers; ``problems`` names examples of anything wrong."""

    succeeded: int = 0
    booked: int = 0
    lost: int = 0
    double_booked: int = 0
    phantom_booked: int = 0
    in_suspense: int = 0
    #: of ``lost``: M-Pesa STK pushes whose answer *and* callback were both lost — QMOI
    #: never learnt their CheckoutRequestID, Daraja can be asked about a push only by
    #: that id, so only the paybill statement shows the money; told apart to show where
    #: to look when the statement did not rescue them
    unknowable: int = 0
    #: pushes QMOI booked from the statement (success without a CheckoutRequestID)
    found_on_statement: int = 0
    transfers: int = 0
    transfers_failed: int = 0
    disbursements: int = 0
    double_paid: int = 0
    orphan_disbursements: int = 0
    phantom_transfers: int = 0
    payouts_refused_for_float: int = 0
    rule_days: int = 0
    rule_overpaid: int = 0
    rule_shortfall: int = 0
    open_collections: int = 0
    open_transfers: int = 0
    emulator_pending: int = 0
    inbox_waiting: int = 0
    money_mismatches: int = 0
    max_collection_lag_sim_s: float = 0.0
    max_transfer_lag_sim_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < 40:
            self.problems.append(text)

    @property
    def invariants_hold(self) -> bool:
        """The books' own promises, apart from the counts the report leads with: nothing
        invented, nothing in suspense, the chunk rule per day, the money equal to the
        floats, nothing left open or waiting."""
        return not (
            self.phantom_booked
            or self.in_suspense
            or self.phantom_transfers
            or self.rule_overpaid
            or self.rule_shortfall
            or self.open_collections
            or self.open_transfers
            or self.emulator_pending
            or self.inbox_waiting
            or self.money_mismatches
        )


def _receipt(entry_reference: str) -> str:
    return entry_reference.split(":", 2)[2]


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _lag_s(ours: datetime, theirs: datetime) -> float:
    """Seconds from the emulator's moment to QMOI's (SQLite hands back naive UTC)."""
    if ours.tzinfo is None:
        ours = ours.replace(tzinfo=UTC)
    return (ours - theirs).total_seconds()


def compare(
    result: Comparison,
    books: Books,
    truth: list[dict[str, Any]],
    *,
    chunk_minor: int,
    float_moved_minor: int,
    callbacks: list[dict[str, Any]],
) -> None:
    """Add one provider's comparison to ``result``. ``float_moved_minor``: the emulator's
    float now less its opening (holds move no money)."""
    provider = books.provider
    _collections(result, books, truth, callbacks)
    _transfers(result, books, truth)
    _rule(result, books, chunk_minor)
    # Money: the float moved by what was paid in, less what was paid out and charged —
    # and the ledger's wallet says the same (fees the books could not cover sit in
    # fees payable).
    payouts = [x for x in truth if x["kind"] == "disbursement" and x["status"] == "succeeded"]
    paid_in = sum(
        x["amount_minor"] for x in truth if x["kind"] == "collection" and x["status"] == "succeeded"
    )
    paid_out = sum(x["amount_minor"] for x in payouts)
    fees = sum(int(x.get("fee_minor") or 0) for x in payouts)
    if float_moved_minor != paid_in - paid_out - fees:
        result.money_mismatches += 1
        result.problem(
            f"{provider}: float moved {float_moved_minor}, transactions say "
            f"{paid_in - paid_out - fees}"
        )
    wallet = books.balances.get(accounts.wallet(provider), 0)
    payable = -books.balances.get(f"liabilities:{provider}:fees_payable", 0)
    if wallet - payable != books.earned_minor - paid_out - fees:
        result.money_mismatches += 1
        result.problem(
            f"{provider}: ledger wallet {wallet} (fees payable {payable}) but earned "
            f"{books.earned_minor} - paid out {paid_out} - fees {fees} = "
            f"{books.earned_minor - paid_out - fees}"
        )
    in_transit = books.balances.get(accounts.in_transit(provider), 0)
    if in_transit:
        result.money_mismatches += 1
        result.problem(f"{provider}: {in_transit} still in transit after the drain")


def _unknowable(books: Books, txn: dict[str, Any], callbacks: list[dict[str, Any]]) -> bool:
    """An STK push QMOI sent but could never name: its answer never came (QMOI holds an
    open-then-expired request for that number and amount with no CheckoutRequestID) and
    the emulator's log shows its one callback was never delivered."""
    if books.provider != "mpesa":
        return False
    delivered = any(d["transaction_id"] == txn["id"] and d["delivered"] for d in callbacks)
    unnamed = any(
        c["provider_request_id"] is None
        and c["msisdn"] == txn["msisdn"]
        and c["amount_minor"] == txn["amount_minor"]
        and c["state"] != "succeeded"
        for c in books.collections
    )
    return unnamed and not delivered


def _collections(
    result: Comparison,
    books: Books,
    truth: list[dict[str, Any]],
    callbacks: list[dict[str, Any]],
) -> None:
    provider = books.provider
    pushes = [x for x in truth if x["kind"] == "collection"]
    result.emulator_pending += sum(1 for x in pushes if x["status"] == "pending")
    result.open_collections += len(books.open_collections)
    for c in books.open_collections[:EXAMPLES]:
        result.problem(f"{provider}: collection {c['reference']} left {c['state']}")
    result.inbox_waiting += books.inbox_waiting
    paid = {str(x["provider_id"]): x for x in pushes if x["status"] == "succeeded"}
    result.succeeded += len(paid)
    # QMOI books a payment under the provider's receipt, or — when the success came from
    # an enquiry that names none (Daraja's STK query) — under the request's id
    # (the CheckoutRequestID): either names the emulator's transaction.
    alias = {str(x["id"]): str(x["provider_id"]) for x in pushes if x["status"] == "succeeded"}

    def named(entry: dict[str, Any]) -> str:
        key = _receipt(entry["reference"])
        return alias.get(key, key)

    booked = Counter(named(e) for e in books.payment_entries)
    amounts = {named(e): e["amount_minor"] for e in books.payment_entries}
    suspense = {named(e) for e in books.suspense_entries}
    result.booked += sum(booked.values())
    for receipt, txn in paid.items():
        if receipt in booked:
            if amounts[receipt] != txn["amount_minor"]:
                result.money_mismatches += 1
                result.problem(f"{provider}: {receipt} booked at {amounts[receipt]}")
            if receipt in suspense:
                result.double_booked += 1
                result.problem(f"{provider}: {receipt} booked as revenue and in suspense")
        elif receipt in suspense:
            result.in_suspense += 1
            result.problem(f"{provider}: {receipt} ({txn['id']}) held in suspense")
        elif _unknowable(books, txn, callbacks):
            result.lost += 1  # lost all the same: counted, and told apart
            result.unknowable += 1
            result.problem(
                f"{provider}: paid {txn['id']} ({receipt}): its answer and its callback were "
                "both lost — only the statement shows it"
            )
        else:
            result.lost += 1
            mine = [
                c
                for c in books.collections
                if c["reference"] == txn["id"] or c["provider_request_id"] == txn["id"]
            ]
            state = ", ".join(f"{c['reference']} {c['state']}/{c['reason']}" for c in mine)
            result.problem(
                f"{provider}: paid {txn['id']} ({receipt}) not booked; QMOI: {state or 'none'}"
            )
    for receipt, count in booked.items():
        if count > 1:
            result.double_booked += count - 1
            result.problem(f"{provider}: {receipt} booked {count} times")
        if receipt not in paid:
            result.phantom_booked += 1
            result.problem(f"{provider}: {receipt} booked, never paid in the emulator")
    result.found_on_statement += sum(
        1
        for c in books.collections
        if c["state"] == "succeeded"
        and c["origin"] == "request"
        and c["provider_request_id"] is None
    )
    # Lag: from the emulator's completion to QMOI's success, in simulated seconds.
    completed = {x["id"]: _at(x.get("completed_at")) for x in pushes}
    for c in books.collections:
        if c["state"] != "succeeded":
            continue
        key = c["reference"] if provider == "airtel" else c["provider_request_id"]
        done = completed.get(key)
        if done is not None:
            lag = _lag_s(c["updated_at"], done)
            result.max_collection_lag_sim_s = max(result.max_collection_lag_sim_s, lag)


def _transfers(result: Comparison, books: Books, truth: list[dict[str, Any]]) -> None:
    provider = books.provider
    payouts = [x for x in truth if x["kind"] == "disbursement"]
    result.emulator_pending += sum(1 for x in payouts if x["status"] == "pending")
    result.open_transfers += len(books.open_transfers)
    for x in books.open_transfers[:EXAMPLES]:
        result.problem(f"{provider}: transfer {x['reference']} left {x['state']}")
    result.disbursements += len(payouts)
    result.payouts_refused_for_float += sum(
        1 for x in payouts if x["status"] == "failed" and x.get("result_code") in INSUFFICIENT
    )
    ours = {x["reference"]: x for x in books.transfers}
    result.transfers += sum(1 for x in books.transfers if x["state"] == "succeeded")
    result.transfers_failed += sum(1 for x in books.transfers if x["state"] == "failed")
    paid = Counter(payout_reference(provider, x) for x in payouts if x["status"] == "succeeded")
    for reference, count in paid.items():
        mine = ours.get(reference)
        if count > 1:
            result.double_paid += count - 1
            result.problem(f"{provider}: {reference} disbursed {count} times")
        if mine is None or mine["state"] != "succeeded":
            result.orphan_disbursements += 1
            result.problem(
                f"{provider}: {reference} disbursed; QMOI: "
                f"{'no such transfer' if mine is None else mine['state']}"
            )
    for reference, mine in ours.items():
        if mine["state"] == "succeeded" and reference not in paid:
            result.phantom_transfers += 1
            result.problem(f"{provider}: {reference} settled in QMOI, never disbursed")
    # A chunk is one (day, sequence): it is paid once, whatever its retries were called.
    chunks = Counter(
        (x["business_day"], x["sequence"])
        for x in books.transfers
        if x["trigger"] == "auto" and x["reference"] in paid
    )
    for chunk, count in chunks.items():
        if count > 1:
            result.double_paid += count - 1
            result.problem(f"{provider}: chunk {chunk} paid {count} times")
    completed = {payout_reference(provider, x): _at(x.get("completed_at")) for x in payouts}
    for x in books.transfers:
        done = completed.get(x["reference"])
        if x["state"] in ("succeeded", "failed") and done is not None:
            lag = _lag_s(x["updated_at"], done)
            result.max_transfer_lag_sim_s = max(result.max_transfer_lag_sim_s, lag)


def _rule(result: Comparison, books: Books, chunk_minor: int) -> None:
    """Per day: floor(earned / chunk) chunks, numbered 1…n, each paid once."""
    provider = books.provider
    earned: dict[Any, int] = defaultdict(int)
    for entry in books.payment_entries:
        earned[entry["business_day"]] += entry["amount_minor"]
    paid: dict[Any, list[int]] = defaultdict(list)
    for x in books.transfers:
        if x["trigger"] == "auto" and x["state"] == "succeeded":
            paid[x["business_day"]].append(x["sequence"])
            if x["amount_minor"] != chunk_minor:
                result.rule_overpaid += 1
                result.problem(f"{provider}: {x['reference']} of {x['amount_minor']}")
    for day in sorted(set(earned) | set(paid)):
        due = earned.get(day, 0) // chunk_minor
        got = sorted(paid.get(day, []))
        result.rule_days += 1
        if len(got) > due or len(set(got)) != len(got):
            result.rule_overpaid += len(got) - len(set(got)) + max(0, len(set(got)) - due)
            result.problem(f"{provider}: {day} owed {due} chunks, paid {got}")
        elif got != list(range(1, len(got) + 1)) or len(got) < due:
            result.rule_shortfall += due - len(got) or 1
            result.problem(f"{provider}: {day} owed {due} chunks, paid {len(got)}: {got[-3:]}")
