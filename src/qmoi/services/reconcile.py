"""The daily reconciliation pass: QMOI's books held against what the provider itself says.

Two checks per provider and day, run by the worker once a day has closed and on demand
(``qmoi reconcile``, ``POST /api/qmoi/reconcile``):

* **The float.** The provider's balance against the books' view of it — the wallet, plus
  what is reserved in transit (the provider still holds it until the payout is made),
  less fees the provider took that the books owe. The difference the first pass finds
  is the *opening float* — money the provider held that QMOI never booked (the float
  before QMOI, top-ups) — and is kept; every later difference beyond it is explained by
  work still in flight (a payout made but not yet confirmed, a payment arrived but not
  yet booked) or it is reported to the owner. Nothing is ever booked to make the books
  agree.
* **The statement** (where the provider has one: M-Pesa). Every completed payment of the
  day that no collection owns is accounted for: one an STK push paid without QMOI
  learning its receipt (the STK query names none) is that push's; one an unnamed push
  may own is left to the statement resolver's stricter rule; the rest are asked about
  by receipt (Transaction Status) and booked only when the provider confirms a payment
  the customer made unprompted — a C2B confirmation that never reached QMOI — at the
  provider's amount, its stream by the account-reference rules.

It must never book money the provider has not confirmed, nor anything twice: a receipt
already on a collection or in the ledger is owned, and the collection a lost C2B
payment becomes is unique on its receipt.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import structlog

from qmoi.domain import accounts
from qmoi.domain.clock import day_bounds
from qmoi.domain.collection import Collection, new_reference
from qmoi.domain.money import Money
from qmoi.domain.states import CollectionState
from qmoi.domain.streams import attribute
from qmoi.providers.base import (
    DirectPayments,
    FailureReason,
    Outcome,
    ProviderError,
    ProviderStatus,
    Statements,
)
from qmoi.services.booking import apply_collection_status
from qmoi.services.conflicts import ConcurrentUpdate
from qmoi.services.context import Services

log = structlog.get_logger("qmoi.services.reconcile")

#: a push's payment may show on the statement this long after the push was asked for
PROMPT_REACH_S = 900.0


@dataclass(frozen=True)
class FloatCheck:
    """The provider's balance against the books (minor units of ``currency``)."""

    currency: str
    provider_minor: int | None  # None: the provider did not answer
    books_minor: int  # wallet + in transit − fees owed
    opening_minor: int | None  # the difference recorded by the first pass
    in_flight_in_minor: int  # open collections: may have arrived unbooked
    in_flight_out_minor: int  # open transfers: may have been paid unconfirmed
    problem: str | None = None

    @property
    def difference_minor(self) -> int | None:
        if self.provider_minor is None:
            return None
        return self.provider_minor - self.books_minor

    @property
    def unexplained_minor(self) -> int | None:
        """What neither the opening float nor work in flight can account for (0: the
        books agree); None when the provider could not be asked."""
        if self.difference_minor is None or self.opening_minor is None:
            return None
        beyond = self.difference_minor - self.opening_minor
        if -self.in_flight_out_minor <= beyond <= self.in_flight_in_minor:
            return 0
        return beyond

    @property
    def verdict(self) -> str:
        if self.provider_minor is None:
            return "unavailable"
        if self.opening_minor is None:
            return "no_baseline_yet"  # recorded at the first pass with nothing in flight
        if self.unexplained_minor == 0:
            if self.difference_minor == self.opening_minor:
                return "agrees"
            return "agrees_with_work_in_flight"
        return "differs"


@dataclass(frozen=True)
class Line:
    """What became of one statement line no collection owned."""

    receipt: str
    amount_minor: int
    outcome: str  # booked | push_paid_without_receipt | left_to_push | not_direct | unconfirmed
    collection: str | None = None
    detail: str | None = None


@dataclass
class Reconciliation:
    provider: str
    day: date
    float: FloatCheck
    statement_lines: int | None = None  # None: no statement (or it could not be read)
    owned: int = 0
    lines: list[Line] = field(default_factory=list)
    statement_problem: str | None = None

    @property
    def booked(self) -> list[Line]:
        return [x for x in self.lines if x.outcome == "booked"]

    @property
    def settled(self) -> bool:
        """Nothing is left for the owner: the float agrees (or is explained) and every
        statement line is accounted for."""
        return (
            self.float.verdict in ("agrees", "agrees_with_work_in_flight", "no_baseline_yet")
            and self.statement_problem is None
            and not [x for x in self.lines if x.outcome in ("not_direct", "unconfirmed")]
        )

    def as_json(self) -> dict[str, Any]:
        f = self.float
        return {
            "provider": self.provider,
            "day": self.day.isoformat(),
            "settled": self.settled,
            "float": {
                "verdict": f.verdict,
                "currency": f.currency,
                "provider_minor": f.provider_minor,
                "books_minor": f.books_minor,
                "difference_minor": f.difference_minor,
                "opening_minor": f.opening_minor,
                "unexplained_minor": f.unexplained_minor,
                "in_flight_in_minor": f.in_flight_in_minor,
                "in_flight_out_minor": f.in_flight_out_minor,
                "problem": f.problem,
            },
            "statement": None
            if self.statement_lines is None and self.statement_problem is None
            else {
                "lines": self.statement_lines,
                "owned": self.owned,
                "problem": self.statement_problem,
                "accounted": dict(Counter(x.outcome for x in self.lines)),
                "unowned": [
                    {
                        "receipt": x.receipt,
                        "amount_minor": x.amount_minor,
                        "outcome": x.outcome,
                        "collection": x.collection,
                        "detail": x.detail,
                    }
                    for x in self.lines
                ],
            },
        }


def opening_key(provider: str) -> str:
    return f"reconcile:{provider}:opening_minor"


async def record_opening(services: Services) -> list[str]:
    """Record each provider's opening float at the first quiet moment (the worker asks
    at its start and until it has one); returns the providers recorded now."""
    recorded = []
    for provider in services.policy.providers:
        with services.uows(read_only=True) as uow:
            if uow.meta.get(opening_key(provider)) is not None:
                continue
        check = await _float(services, provider)
        if check.opening_minor is not None:
            recorded.append(provider)
            log.info(
                "reconcile.opening_float", provider=provider, minor=check.opening_minor,
                currency=check.currency,
            )  # fmt: skip
    return recorded


async def reconcile(services: Services, provider: str, day: date) -> Reconciliation:
    """Reconcile ``provider`` for ``day`` (the float as it stands now; the statement of
    that day); books lost C2B payments the provider confirms, tells the owner of what
    stays unexplained."""
    connector = services.providers[provider]
    found = Reconciliation(provider, day, FloatCheck("", None, 0, None, 0, 0))
    if isinstance(connector, Statements) and isinstance(connector, DirectPayments):
        # first: what the statement books is then part of the float the books explain
        await _statement(services, provider, day, connector, connector, found)
    result = replace(found, float=await _float(services, provider))
    _tell(services, result)
    log.info(
        "reconcile.done", provider=provider, day=day.isoformat(), settled=result.settled,
        float=result.float.verdict, unexplained=result.float.unexplained_minor,
        lines=result.statement_lines, booked=len(result.booked),
    )  # fmt: skip
    return result


async def _float(services: Services, provider: str) -> FloatCheck:
    currency = services.policy.provider(provider).currency
    try:
        reported: Money | None = (await services.providers[provider].balance()).available
        problem = None
    except ProviderError as exc:
        reported, problem = None, f"{exc.code}: {exc.detail}"
    with services.uows() as uow:
        wallet = uow.ledger.balance(accounts.wallet(provider), currency).minor
        transit = uow.ledger.balance(accounts.in_transit(provider), currency).minor
        owed = -uow.ledger.balance(accounts.fees_payable(provider), currency).minor
        books = wallet + transit - owed
        incoming = uow.collections.open_total(provider)
        outgoing = uow.transfers.reserved_total(provider)
        known = uow.meta.get(opening_key(provider))
        if reported is not None and reported.currency != currency:
            problem = f"the provider reports {reported.currency}, the books hold {currency}"
            reported = None
        if known is None and reported is not None and incoming == outgoing == 0:
            # only a quiet moment says what the float was apart from our work: a payout
            # made but not yet confirmed would be taken for float for ever after
            known = uow.meta.set_once(opening_key(provider), str(reported.minor - books))
        uow.commit()
    opening = None if known is None else int(known)
    return FloatCheck(
        currency,
        None if reported is None else reported.minor,
        books,
        opening,
        incoming,
        outgoing,
        problem,
    )


async def _statement(
    services: Services,
    provider: str,
    day: date,
    statements: Statements,
    direct: DirectPayments,
    result: Reconciliation,
) -> None:
    start, end = day_bounds(day, services.policy.tz)
    until = min(end, services.clock.now())
    try:
        lines = await statements.statement(start, until)
    except ProviderError as exc:
        result.statement_problem = f"{exc.code}: {exc.detail}"
        return
    result.statement_lines = len(lines)
    unowned = _unowned(services, provider, lines)
    result.owned = len(lines) - len(unowned)
    reach = timedelta(seconds=PROMPT_REACH_S)
    groups: dict[tuple[str | None, int], list[ProviderStatus]] = {}
    for line in unowned:
        assert line.amount is not None  # noqa: S101 - _unowned keeps only complete lines
        groups.setdefault((line.msisdn, line.amount.minor), []).append(line)
    for (msisdn, _), group in groups.items():
        amount = group[0].amount
        assert amount is not None  # noqa: S101
        with services.uows(read_only=True) as uow:
            explained = (
                uow.collections.paid_without_receipt(provider, msisdn, amount, start - reach, until)
                if msisdn is not None
                else 0
            )
            unnamed = (
                uow.collections.unnamed(provider, msisdn, amount, start - reach)
                if msisdn is not None
                else []
            )
        if len(group) <= explained:
            result.lines += [
                Line(x.provider_reference or "", amount.minor, "push_paid_without_receipt")
                for x in group
            ]
            continue
        for line in group:
            result.lines.append(await _ask(services, provider, direct, line, amount, bool(unnamed)))


def _unowned(
    services: Services, provider: str, lines: list[ProviderStatus]
) -> list[ProviderStatus]:
    """The statement's completed lines no collection or ledger entry owns."""
    found = []
    with services.uows(read_only=True) as uow:
        for line in lines:
            receipt = line.provider_reference
            if line.outcome is not Outcome.SUCCEEDED or not receipt or line.amount is None:
                continue
            if (
                uow.collections.by_provider_reference(provider, receipt) is not None
                or uow.collections.named(provider, receipt) is not None
                or uow.ledger.has_reference(f"{provider}:pay:{receipt}")
                or uow.ledger.has_reference(f"{provider}:suspense:{receipt}")
            ):
                continue
            found.append(line)
    return found


async def _ask(
    services: Services,
    provider: str,
    direct: DirectPayments,
    line: ProviderStatus,
    amount: Money,
    unnamed_may_own: bool,
) -> Line:
    """Ask the provider about one unowned line; book it when it is a direct payment."""
    receipt = line.provider_reference or ""
    try:
        status = await direct.direct_payment_status(receipt)
    except ProviderError as exc:
        return Line(receipt, amount.minor, "unconfirmed", detail=exc.detail)
    if status.outcome is not Outcome.SUCCEEDED:
        if status.reason is FailureReason.NOT_FOUND:
            outcome = "left_to_push" if unnamed_may_own else "not_direct"
            return Line(receipt, amount.minor, outcome, detail=status.provider_message)
        return Line(receipt, amount.minor, "unconfirmed", detail=status.provider_message)
    booked = _book_direct(services, provider, line, status)
    if booked is None:  # a late confirmation got there first: owned after all
        return Line(receipt, amount.minor, "owned_meanwhile")
    return Line(receipt, booked.amount.minor, "booked", collection=booked.reference)


def _book_direct(
    services: Services, provider: str, line: ProviderStatus, status: ProviderStatus
) -> Collection | None:
    """Record the lost C2B payment the provider confirmed and book it, in one
    transaction; None when its receipt has been recorded meanwhile."""
    receipt = line.provider_reference or ""
    rules = services.policy.provider(provider)
    amount = status.amount or line.amount
    assert amount is not None  # noqa: S101 - a statement line has an amount
    with services.uows() as uow:
        if (
            uow.collections.named(provider, receipt) is not None
            or uow.collections.by_provider_reference(provider, receipt) is not None
        ):
            return None
        now = uow.now
        stream = attribute(line.account_reference or "", rules.c2b_rules, rules.c2b_default_stream)
        made = uow.collections.add(
            Collection(
                id=None,
                reference=new_reference("QB"),
                provider=provider,
                msisdn=(line.msisdn or "unknown")[:16],
                amount=amount,
                stream=stream,
                state=CollectionState.REQUESTED,
                created_at=now,
                updated_at=now,
                sandbox=services.policy.sandbox,
                origin="c2b",
                account_reference=(line.account_reference or "")[:64] or None,
                provider_request_id=receipt,
                reason="found_on_statement",
                attempts=1,
            )
        )
        try:
            booked = apply_collection_status(uow, services.policy, made, status, source="reconcile")
        except ConcurrentUpdate:  # pragma: no cover - the row is ours alone until commit
            return None
        uow.notifications.add(
            "reconciliation_booked",
            f"{provider}: {amount} paid directly ({receipt}) never reached QMOI; found on "
            f"the statement, confirmed by {provider} and booked as {booked.reference}",
            now,
            provider=provider,
            payload={
                "receipt": receipt,
                "collection": booked.reference,
                "amount_minor": amount.minor,
            },
            dedupe_key=f"reconciliation_booked:{provider}:{receipt}",
        )
        uow.commit()
    services.wake()
    return booked


def _tell(services: Services, result: Reconciliation) -> None:
    """The owner hears of what the pass could not account for, once per day and kind."""
    f = result.float
    problems, kinds = [], []
    if f.verdict == "differs":
        kinds.append("float")
        problems.append(
            f"the provider holds {Money(f.provider_minor or 0, f.currency)} but the books "
            f"account for {Money(f.books_minor + (f.opening_minor or 0), f.currency)} "
            f"(including the opening float): {Money(f.unexplained_minor or 0, f.currency)} "
            "unexplained"
        )
    strays = [x for x in result.lines if x.outcome in ("not_direct", "unconfirmed")]
    if strays:
        kinds.append("strays")
        problems.append(
            f"{len(strays)} payment(s) on the statement belong to no request: "
            + ", ".join(x.receipt for x in strays[:5])
        )
    if result.statement_problem:
        kinds.append("unread")
        problems.append(f"the statement could not be read ({result.statement_problem})")
    if not problems:
        return
    with services.uows() as uow:
        uow.notifications.add(
            "reconciliation_difference",
            f"{result.provider} {result.day}: " + "; ".join(problems),
            uow.now,
            provider=result.provider,
            payload=result.as_json(),
            dedupe_key=f"reconciliation:{result.provider}:{result.day}:{'+'.join(kinds)}",
        )
        uow.commit()


def due_day(services: Services, now: datetime) -> date:
    """The day the daily pass reconciles: yesterday in QMOI_TIMEZONE."""
    return services.policy.day(now) - timedelta(days=1)
