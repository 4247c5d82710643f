"""Finding a payment on the provider's statement when nothing else can name it.

An M-Pesa STK push whose answer was lost (a timeout after Daraja accepted it) leaves no
CheckoutRequestID to query, and its callback — were it to come — is only a hint. Once
the prompt is long over, the statement of the push's minutes is read. A payment from
that number for that amount is the request's only if no other request could have made
it — none for that number and amount whose own window holds the payment's moment,
whether it is open, given up on, or paid without a receipt (an STK query names none, so
the payment may be its). Exactly one such payment is booked with its receipt; none at
all on the statement means the customer did not pay. Anything else is left unknown for
the next pass or the owner — never guessed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from qmoi.domain.collection import Collection
from qmoi.providers.base import (
    FailureReason,
    Outcome,
    ProviderError,
    ProviderStatus,
    Statements,
)
from qmoi.services.booking import NOT_FOUND_FLOOR_S
from qmoi.services.context import Services

log = structlog.get_logger("qmoi.services.statement")

#: the statement is read from this long before the request: the provider's clock and
#: ours differ a little. (On a fast sandbox clock every process tells the time of one
#: clock file, so a fifth of a real second is room enough — and a wider one made
#: requests look like owners of payments made before they were: the chaos run left a
#: customer's two equal payments 21 simulated minutes apart both ambiguous.)
BEFORE_S, BEFORE_FLOOR_S = 120.0, 0.2


def can_read_statement(services: Services, collection: Collection) -> bool:
    """An unnamed push on a provider that offers a statement."""
    return (
        collection.origin == "request"
        and not collection.provider_request_id
        and isinstance(services.providers[collection.provider], Statements)
    )


def _settled(services: Services) -> timedelta:
    policy = services.policy
    return timedelta(seconds=policy.window(policy.prompt_window_s, NOT_FOUND_FLOOR_S))


def statement_due(services: Services, collection: Collection) -> datetime | None:
    """When the statement can say whether ``collection`` was paid — once its prompt is
    over, counted from when its push last went out (not from its request: one sent again
    after a refusal or its sender's death went out later; the chaos run lost one re-sent
    14 simulated hours after its request); None when it can be read now."""
    due = (collection.sent_at or collection.created_at) + _settled(services)
    return due if services.clock.now() < due else None


async def from_statement(services: Services, collection: Collection) -> ProviderStatus:
    """What the statement says of ``collection`` (call once :func:`statement_due` is
    None): the payment that can only be its, or NOT_FOUND, or UNKNOWN."""
    policy = services.policy
    settled = _settled(services)
    sent = collection.sent_at or collection.created_at
    before = timedelta(seconds=policy.window(BEFORE_S, BEFORE_FLOOR_S))
    since, until = collection.created_at - before, sent + settled
    connector = services.providers[collection.provider]
    assert isinstance(connector, Statements)  # noqa: S101 - checked by can_read_statement
    try:
        lines = await connector.statement(since, until)
    except ProviderError as exc:
        log.warning(
            "statement.unread", reference=collection.reference, code=exc.code,
            provider_code=exc.provider_code, detail=exc.detail,
        )  # fmt: skip
        return exc.as_status()
    provider = collection.provider
    with services.uows(read_only=True) as uow:
        unbooked = [
            line
            for line in lines
            if line.msisdn == collection.msisdn
            and line.amount == collection.amount
            and line.provider_reference is not None
            and uow.collections.by_provider_reference(provider, line.provider_reference) is None
            and not uow.ledger.has_reference(f"{provider}:pay:{line.provider_reference}")
        ]
        # A line is this request's only if no other request for that number and amount
        # could have made it: none whose own window holds the line's moment — still
        # open, given up on, or paid without a receipt (an STK query names none, so the
        # line may be its payment).
        only_ours = [
            line
            for line in unbooked
            if not uow.collections.possible_owners(
                collection,
                *(
                    (since, until)
                    if line.completed_at is None
                    else (line.completed_at, line.completed_at)
                ),
                before=before,
                settled=settled,
            )
        ]
    log.info(
        "statement.read",
        reference=collection.reference,
        lines=len(lines),
        candidates=len(unbooked),
        only_ours=len(only_ours),
    )
    if not unbooked:
        return ProviderStatus(
            Outcome.UNKNOWN,
            "not_on_statement",
            "no payment from this number for this amount is on the statement",
            reason=FailureReason.NOT_FOUND,
        )
    if len(only_ours) == 1:
        return only_ours[0]
    return ProviderStatus(
        Outcome.UNKNOWN,
        "ambiguous_statement",
        f"{len(unbooked)} unbooked payment(s) on the statement for this request, "
        f"{len(only_ours)} of them no other request could have made",
    )
