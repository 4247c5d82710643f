"""``/api/qmoi/accounts/…``: the accounts, and each account's generate, transfer,
balance, transactions and metrics — the same bodies and answers as the original
``/api/qmoi/revenue/{provider}/…`` routes, which act on each provider's default account."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from qmoi.api.deps import OperateDep, OwnerDep, ReadDep, ServicesDep
from qmoi.api.errors import documented
from qmoi.api.exact_json import ExactJSONRoute
from qmoi.api.routes.revenue import (
    IdempotencyKey,
    account_of,
    read_balance,
    read_transactions,
    run_generate,
    run_transfer,
)
from qmoi.api.schemas import (
    ACCOUNT_ID_PATTERN,
    AccountsOut,
    BalanceOut,
    GenerateIn,
    GenerateOut,
    Metrics,
    TransactionsOut,
    TransactionsQuery,
    TransferIn,
    TransferOut,
)
from qmoi.domain.msisdn import masked
from qmoi.services import metrics as metrics_service

router = APIRouter(prefix="/api/qmoi/accounts", tags=["accounts"], route_class=ExactJSONRoute)

AccountPath = Annotated[
    str,
    Path(description="an account id, as GET /api/qmoi/accounts lists", pattern=ACCOUNT_ID_PATTERN),
]


@router.get("", response_model=AccountsOut, responses=documented(401, 403))
def accounts(_: ReadDep, svc: ServicesDep) -> Any:
    """The enabled accounts, each provider's default marked."""
    amount = metrics_service.amount
    return {
        "accounts": [
            {
                "id": name,
                "provider": rules.provider,
                "label": rules.label,
                "country": rules.country,
                "currency": rules.currency,
                "default": rules.default,
                "daily_target": amount(rules.daily_target),
                "auto_transfer": amount(rules.chunk),
                "owner_msisdn": masked(rules.owner_msisdn),
            }
            for name, rules in svc.policy.providers.items()
        ]
    }


@router.post(
    "/{account}/generate",
    response_model=GenerateOut,
    status_code=202,
    responses=documented(401, 403, 404, 409, 413, 422, 502, 503, 504),
    summary="start collections on one account (as /api/qmoi/revenue/{provider}/generate)",
)
async def generate(
    account: AccountPath,
    who: OperateDep,
    svc: ServicesDep,
    body: Annotated[GenerateIn | None, Body()] = None,
    key: IdempotencyKey = None,
) -> Any:
    return await run_generate(svc, account_of(svc, account), who, body, key)


@router.post(
    "/{account}/transfer",
    response_model=TransferOut,
    status_code=201,
    responses=documented(401, 403, 404, 409, 413, 422, 502, 503, 504),
    summary="transfer from one account to the owner's wallet on it now",
)
async def transfer(
    account: AccountPath,
    body: TransferIn,
    who: OwnerDep,
    svc: ServicesDep,
    key: IdempotencyKey = None,
) -> Any:
    return await run_transfer(svc, account_of(svc, account), body, who, key)


@router.get("/{account}/balance", response_model=BalanceOut, responses=documented(401, 403, 404))
async def balance(account: AccountPath, _: ReadDep, svc: ServicesDep) -> Any:
    return await read_balance(svc, account_of(svc, account))


@router.get(
    "/{account}/transactions",
    response_model=TransactionsOut,
    responses=documented(401, 403, 404, 422),
)
def transactions(
    account: AccountPath,
    _: ReadDep,
    svc: ServicesDep,
    q: Annotated[TransactionsQuery, Query()],
) -> Any:
    return read_transactions(svc, account_of(svc, account), q)


@router.get(
    "/{account}/metrics",
    response_model=Metrics,
    responses=documented(401, 403, 404),
    summary="today's figures of one account",
)
def metrics(account: AccountPath, _: ReadDep, svc: ServicesDep) -> Any:
    return metrics_service.account_metrics(svc, account_of(svc, account))
