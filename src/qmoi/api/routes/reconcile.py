"""``POST /api/qmoi/reconcile``: the reconciliation pass on demand (what ``qmoi
reconcile`` calls). The owner's only: it may book a payment the provider confirms."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body

from qmoi.api.deps import OwnerDep, ServicesDep
from qmoi.api.errors import ApiError, documented
from qmoi.api.schemas import ReconcileIn, ReconcileOut
from qmoi.providers.base import PROVIDERS
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
    names = list(svc.policy.providers)
    if body.provider is not None and body.provider not in names:
        known = body.provider in PROVIDERS
        raise ApiError(
            422,
            "provider_not_enabled" if known else "invalid_request",
            f"provider: {body.provider} is not enabled on this QMOI; use {' or '.join(names)}"
            if known
            else f"provider: {body.provider!r} is not one; use {' or '.join(names)}",
        )
    today = svc.policy.day(svc.clock.now())
    day = body.day or today - timedelta(days=1)
    if day > today:
        raise ApiError(422, "invalid_request", f"day: {day} has not begun yet; give a past day")
    done = [
        await reconcile(svc, provider, day)
        for provider in ([body.provider] if body.provider else names)
    ]
    return {
        "settled": all(r.settled for r in done),
        "reconciliations": [r.as_json() for r in done],
    }
