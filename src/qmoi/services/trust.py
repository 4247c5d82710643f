"""The trust rule: what may move money or change the state of a collection or transfer.

Only three kinds of word may:

1. an **authenticated callback** — one its connector proved the provider sent (Airtel's
   callback hash, verified with the callback key);
2. the provider's **answer to our own request** — the push's or payout's synchronous
   answer, and Daraja's query results, which come to a URL made for that one query
   whose tag only Daraja learns;
3. our own **status enquiry**.

Everything else is a **hint**, whatever it claims — paid, failed, insufficient funds:
anyone can post to a public URL, and the M-Pesa path token travels in URLs, so it is
no proof. A hint brings the next enquiry about what it names forward to now, and that
is all: it never moves money, changes a state, releases reserved funds, binds an id to
a request or fails anything, and what only its body says (number, amount, id, receipt)
is never used to decide whose money something is. Daraja signs nothing, so every M-Pesa
callback is a hint and every fact it reports is confirmed by a query.

A success reported for a collection already failed or expired is asked about too — by
hint or by proof — and booked only if the provider confirms it: late truth is never
dropped, and never taken on trust.

The callback service applies this rule (:mod:`qmoi.services.callbacks`); the resolver
asks (:mod:`qmoi.services.resolver`).
"""

from __future__ import annotations

from qmoi.domain.collection import Collection
from qmoi.domain.states import CollectionState, TransferState
from qmoi.domain.transfer import Transfer
from qmoi.providers.base import CallbackEvent, Outcome
from qmoi.services.ports import UnitOfWork

C = CollectionState
T = TransferState


def is_proof(event: CallbackEvent) -> bool:
    """Whether ``event`` may itself change a state (rule 1); otherwise it is a hint."""
    return event.authenticated


def claims_success(event: CallbackEvent) -> bool:
    return event.status.outcome is Outcome.SUCCEEDED


def ask_about_collection(uow: UnitOfWork, collection: Collection, *, late_success: bool) -> str:
    """Bring the next enquiry about ``collection`` forward to now; returns what was done
    (kept as the callback's inbox reason).

    A request still being sent is left to its sender (its answer names it, then the
    resolver asks). A failed or expired one is asked about again only for a reported
    success (``late_success``). A concurrent enquiry is harmless: the answer is applied
    with a compare-and-set, and a payment is booked once by its receipt.
    """
    state = collection.state
    if state is C.SUCCEEDED:
        return "already_succeeded"
    if state is C.REQUESTED:
        return "being_sent"
    concluded = state in (C.FAILED, C.EXPIRED)
    if concluded and not late_success:
        return "already_concluded"
    assert collection.id is not None  # noqa: S101 - a stored collection
    # a late success starts a new round of enquiries (counted from nought)
    uow.collections.ask_now(collection.id, uow.now, [state], afresh=concluded)
    return "late_enquiry" if concluded else "enquiry_scheduled"


def ask_about_transfer(uow: UnitOfWork, transfer: Transfer) -> str:
    """Bring the next enquiry about ``transfer`` forward to now; returns what was done.

    A reserved transfer is left to the worker sending it; a sent one is asked about (an
    enquiry never sends — and a re-send after "no such transaction" is claimed with a
    compare-and-set, so two workers cannot both send, see ``transfers.advance_transfer``).
    """
    if transfer.is_final:
        return "already_concluded"
    if transfer.state is T.RESERVED:
        return "being_sent"
    assert transfer.id is not None  # noqa: S101 - a stored transfer
    uow.transfers.ask_now(transfer.id, uow.now, [transfer.state])
    return "enquiry_scheduled"
