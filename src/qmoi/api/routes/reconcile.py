"""``POST /api/qmoi/reconcile``: the reconciliation pass on demand (what ``qmoi
reconcile`` calls). The owner's only: it may book a payment the provider confirms."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body

from qmoi.api.deps import OwnerDep, ServicesDep
from qmoi.api.errors import ApiError, documented
from qmoi.api.schemas import ReconcileIn, ReconcileOut
from qmoi.domain.clock import day_bounds
from qmoi.providers.base import PROVIDERS
from qmoi.services.context import Services
from qmoi.services.reconcile import reconcile

router = APIRouter(prefix="/api/qmoi", tags=["reconcile"])


@router.post(
    "/reconcile",
    response_model=ReconcileOut,
    responses=documented(401, 403, 422),
    summary="hold the books against the provider: its float and (M-Pesa) its statement",
)
async def run_reconciliation(
    _: OwnerDep, svc: ServicesDep, body: Annotated[ReconcileIn | None, Body()] = None
) -> Any:
    body = body or ReconcileIn()
    names = _accounts(svc, body)
    today = svc.policy.day(svc.clock.now())
    day = body.day or today - timedelta(days=1)
    if day > today:
        raise ApiError(422, "invalid_request", f"day: {day} has not begun yet; give a past day")
    try:
        day_bounds(day, svc.policy.tz)
    except OverflowError:  # 0001-01-01 in Nairobi begins before year 1 in UTC
        raise ApiError(
            422, "invalid_request", f"day: {day} is before any day QMOI can hold; give a later one"
        ) from None
    done = [await reconcile(svc, account, day) for account in names]
    return {
        "settled": all(r.settled for r in done),
        "reconciliations": [r.as_json() for r in done],
    }


def _accounts(svc: Services, body: ReconcileIn) -> list[str]:
    """The accounts asked for: one, a provider's, or all; 422 naming what exists."""
    policy = svc.policy
    everyone = list(policy.providers)
    if body.account is not None and body.provider is not None:
        raise ApiError(422, "invalid_request", "give provider or account, not both")
    if body.account is not None:
        if body.account not in everyone:
            raise ApiError(
                422,
                "invalid_request",
                f"account: there is no account {body.account!r}; use {' or '.join(everyone)}",
            )
        return [body.account]
    if body.provider is None:
        return everyone
    mine = policy.accounts_of(body.provider)
    if not mine:
        kinds = " or ".join(policy.kinds)
        known = body.provider in PROVIDERS
        raise ApiError(
            422,
            "provider_not_enabled" if known else "invalid_request",
            f"provider: {body.provider} is not enabled on this QMOI; use {kinds}"
            if known
            else f"provider: {body.provider!r} is not one; use {kinds}",
        )
    return mine
