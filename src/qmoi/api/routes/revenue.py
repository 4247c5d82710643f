"""``/api/qmoi/revenue/…``: start collections, transfer to the owner, balances, history
and metrics. Thin: parse, call one service, render."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Header, Path, Query

from qmoi.api.deps import Caller, OperateDep, OwnerDep, ReadDep, ServicesDep
from qmoi.api.errors import ApiError, documented
from qmoi.api.exact_json import ExactJSONRoute
from qmoi.api.idempotency import idempotent
from qmoi.api.schemas import (
    BalanceOut,
    GenerateIn,
    GenerateOut,
    Metrics,
    TransactionsOut,
    TransactionsQuery,
    TransferIn,
    TransferOut,
)
from qmoi.domain import accounts
from qmoi.domain.clock import day_bounds
from qmoi.domain.collection import Collection
from qmoi.domain.errors import InvalidAmount, UnknownStream
from qmoi.domain.money import Money, exponent
from qmoi.domain.msisdn import masked, normalise_msisdn
from qmoi.domain.streams import StreamKey, stream
from qmoi.domain.transfer import Transfer
from qmoi.providers.base import PROVIDERS, ProviderError
from qmoi.services import metrics as metrics_service
from qmoi.services.collections import InvalidRequest, PaymentRequest, start_collections
from qmoi.services.context import Services
from qmoi.services.history import decode_cursor, encode_cursor
from qmoi.services.records import HistoryFilter
from qmoi.services.sales import run_cycle
from qmoi.services.transfers import TransferRefused, manual_transfer

router = APIRouter(prefix="/api/qmoi/revenue", tags=["revenue"], route_class=ExactJSONRoute)

#: the spec lists the providers; any other name is answered 404 ``unknown_provider``,
#: one this QMOI does not collect on 404 ``provider_not_enabled``
ProviderPath = Annotated[
    str,
    Path(
        description="airtel or mpesa (an enabled one)",
        json_schema_extra={"enum": list(PROVIDERS)},
    ),
]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _provider(services: Services, provider: str) -> str:
    """The account the original per-provider routes act on for ``provider`` (its only
    one, or the one marked default); else 404, naming the providers QMOI collects on."""
    enabled = " or ".join(services.policy.kinds)
    account = services.policy.default_account(provider)
    if provider in PROVIDERS and account is None:
        raise ApiError(
            404,
            "provider_not_enabled",
            f"{provider} is not enabled on this QMOI, which collects on {enabled} only",
        )
    if account is None:
        raise ApiError(404, "unknown_provider", f"{provider!r} is not a provider; use {enabled}")
    return account


def account_of(services: Services, account: str) -> str:
    """``account`` if this QMOI has it (enabled); else 404 naming the ones it has."""
    if account not in services.policy.providers:
        known = ", ".join(services.policy.providers)
        raise ApiError(
            404, "account_not_found", f"there is no account {account!r} here; use one of {known}"
        )
    return account


#: a JSON number may carry at most this many minor units: beyond 2**53 a JavaScript
#: client cannot hold the number exactly, so what it sent may not be what it meant
JSON_NUMBER_MAX_MINOR = 2**53


def _amount(value: Any, currency: str, field: str = "amount") -> Money:
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        _exact_json_number(value, currency, field)
    try:
        money = Money.parse(value, currency)
    except InvalidAmount as exc:
        raise ApiError(422, "invalid_amount", f"{field}: {exc}") from exc
    if not money.is_positive:
        raise ApiError(422, "invalid_amount", f"{field}: must be more than zero")
    return money


def _exact_json_number(value: int | Decimal, currency: str, field: str) -> None:
    """A JSON number (read exactly, see :mod:`qmoi.api.exact_json`) is refused, never
    rounded, when it has more decimals than the currency or is beyond
    :data:`JSON_NUMBER_MAX_MINOR`; a string amount is not limited this way."""
    number = Decimal(value)
    if not number.is_finite():
        return  # JSON has no NaN or Infinity; Money.parse refuses them anyway
    places = exponent(currency)
    if _decimal_places(number) > places:
        raise ApiError(
            422,
            "invalid_amount",
            f"{field}: {value} has more than {places} decimal places, and QMOI never "
            "rounds an amount",
        )
    largest = Decimal(JSON_NUMBER_MAX_MINOR).scaleb(-places)
    if abs(number) > largest:
        raise ApiError(
            422,
            "invalid_amount",
            f"{field}: {value} is too large to send exactly as a JSON number (at most "
            f"{largest:,} {currency}), and QMOI never rounds an amount; send it as a "
            "string",
        )


def _decimal_places(number: Decimal) -> int:
    """Decimal places ``number`` really has (``1.50`` has one), counted without rounding."""
    _, digits, exp = number.as_tuple()
    if not isinstance(exp, int):  # not finite: no places to count
        return 0
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exp + trailing_zeros)) if any(digits) else 0


def collection_json(c: Collection) -> dict[str, Any]:
    return {
        "id": c.reference,
        "reference": c.account_reference,
        "stream": c.stream.value,
        "amount": metrics_service.amount(c.amount),
        "currency": c.amount.currency,
        "status": c.state.value,
        "msisdn": masked(c.msisdn),
        "reason": c.reason,
        "created_at": c.created_at.isoformat(),
    }


def transfer_json(x: Transfer, provider: str) -> dict[str, Any]:
    """A transfer as the API shows it; ``provider``: its account's provider."""
    return {
        "id": x.reference,
        "provider": provider,
        "account": x.provider,
        "trigger": x.trigger,
        "amount": metrics_service.amount(x.amount),
        "currency": x.amount.currency,
        "status": x.state.value,
        "msisdn": masked(x.msisdn),
        "provider_reference": x.provider_reference,
        "reason": x.reason,
        "created_at": x.created_at.isoformat(),
    }


@router.post(
    "/{provider}/generate",
    response_model=GenerateOut,
    status_code=202,
    responses=documented(401, 403, 404, 409, 413, 422, 502, 503, 504),
    summary="start collections (one USSD/STK push each); sandbox: empty body runs "
    "one simulated sales cycle",
)
async def generate(
    provider: ProviderPath,
    who: OperateDep,
    svc: ServicesDep,
    body: Annotated[GenerateIn | None, Body()] = None,
    key: IdempotencyKey = None,
) -> Any:
    return await run_generate(svc, _provider(svc, provider), who, body, key)


async def run_generate(
    svc: Services, name: str, who: Caller, body: GenerateIn | None, key: str | None
) -> Any:
    """Start the collections of one account's generate request."""
    payload = body.model_dump(mode="json") if body is not None else {}

    async def handle() -> tuple[int, Any]:
        if body is None or not body.requests:
            return 202, await _simulate(svc, name)
        rules = svc.policy.provider(name)
        requests = []
        for index, item in enumerate(body.requests):
            try:
                key_ = stream(item.stream).key
            except UnknownStream as exc:
                raise ApiError(422, "unknown_stream", f"requests[{index}].stream: {exc}") from exc
            number, problem = normalise_msisdn(
                item.msisdn, rules.country, rules.network, strict=svc.policy.strict_network
            )
            if problem:
                raise ApiError(422, "invalid_msisdn", f"requests[{index}].msisdn: {problem}")
            requests.append(
                PaymentRequest(
                    msisdn=number,
                    amount=_amount(item.amount, rules.currency, f"requests[{index}].amount"),
                    stream=key_,
                    reference=item.reference,
                )
            )
        try:
            started = await start_collections(svc, name, requests, actor=who.actor)
        except InvalidRequest as exc:
            raise ApiError(422, exc.code, exc.message) from exc
        return 202, {
            **_named(svc, name),
            "collections": [collection_json(c) for c in started],
            "simulated": False,
        }

    return await idempotent(svc, f"generate:{name}", key, payload, handle)


async def _simulate(svc: Services, provider: str) -> dict[str, Any]:
    customers = svc.sandbox_customers
    if not svc.policy.sandbox or not customers:
        raise ApiError(
            422,
            "invalid_request",
            "give at least one payment request (simulated sales exist only in the sandbox)",
        )
    rng = random.Random()  # noqa: S311 - simulated amounts, not secrets
    started = await run_cycle(
        svc, {provider: customers[provider]}, rng, slot=f"api:{datetime.now(UTC).isoformat()}"
    )
    return {
        **_named(svc, provider),
        "collections": [collection_json(c) for c in started],
        "simulated": True,
    }


def _named(svc: Services, account: str) -> dict[str, str]:
    """How an answer names its account: the provider, the account and its currency."""
    rules = svc.policy.provider(account)
    return {"provider": rules.provider, "account": account, "currency": rules.currency}


@router.post(
    "/{provider}/transfer",
    response_model=TransferOut,
    status_code=201,
    responses=documented(401, 403, 404, 409, 413, 422, 502, 503, 504),
    summary="transfer to the owner's wallet now (honours Idempotency-Key)",
)
async def transfer(
    provider: ProviderPath,
    body: TransferIn,
    who: OwnerDep,
    svc: ServicesDep,
    key: IdempotencyKey = None,
) -> Any:
    return await run_transfer(svc, _provider(svc, provider), body, who, key)


async def run_transfer(
    svc: Services, name: str, body: TransferIn, who: Caller, key: str | None
) -> Any:
    """One account's transfer to the owner now."""
    amount = _amount(body.amount, svc.policy.provider(name).currency)

    async def handle() -> tuple[int, Any]:
        try:
            made = await manual_transfer(svc, name, amount, who.actor, key)
        except TransferRefused as exc:
            status = 409 if exc.code == "insufficient_funds" else 422
            raise ApiError(status, exc.code, exc.message) from exc
        return 201, transfer_json(made, svc.policy.provider(name).provider)

    return await idempotent(
        svc, f"transfer:{name}", key, {"amount": str(amount.to_decimal())}, handle
    )


@router.get("/{provider}/balance", response_model=BalanceOut, responses=documented(401, 403, 404))
async def balance(provider: ProviderPath, _: ReadDep, svc: ServicesDep) -> Any:
    return await read_balance(svc, _provider(svc, provider))


async def read_balance(svc: Services, name: str) -> Any:
    """One account's wallet in the books and at the provider."""
    currency = svc.policy.provider(name).currency

    def read() -> tuple[Money, Money, Money]:
        with svc.uows(read_only=True) as uow:
            wallet = uow.ledger.balance(accounts.wallet(name), currency)
            reserved = uow.ledger.balance(accounts.in_transit(name), currency)
            day = svc.policy.day(uow.now)
            earned = Money(sum(uow.totals.by_stream(day, name).values()), currency)
        return wallet, reserved, earned

    wallet, reserved, earned = await asyncio.to_thread(read)
    try:
        reported: Money | None = (await svc.providers[name].balance()).available
    except ProviderError:
        reported = None
    a = metrics_service.amount
    return {
        **_named(svc, name),
        "provider_balance": a(reported) if reported is not None else None,
        "ledger_balance": a(wallet + reserved),
        "available": a(wallet),
        "reserved": a(reserved),
        "todays_earnings": a(earned),
    }


@router.get(
    "/{provider}/transactions",
    response_model=TransactionsOut,
    responses=documented(401, 403, 404, 422),
)
def transactions(
    provider: ProviderPath,
    _: ReadDep,
    svc: ServicesDep,
    q: Annotated[TransactionsQuery, Query()],
) -> Any:
    return read_transactions(svc, _provider(svc, provider), q)


def read_transactions(svc: Services, name: str, q: TransactionsQuery) -> Any:
    """One page of one account's history."""
    stream_key, kind, cursor, limit = q.stream, q.kind, q.cursor, q.limit
    tz = svc.policy.tz
    if stream_key is not None:
        try:
            stream(stream_key)
        except UnknownStream as exc:
            raise ApiError(422, "unknown_stream", str(exc)) from exc
    if kind is not None and kind not in ("collection", "transfer", "fee"):
        raise ApiError(422, "invalid_request", "kind must be collection, transfer or fee")
    try:
        position = decode_cursor(cursor) if cursor else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, "invalid_cursor", "that cursor is not one this API gave") from exc
    where = HistoryFilter(
        provider=name,
        since=_bound(q.since, tz, 0),
        until=_bound(q.until, tz, 1),
        stream=stream_key,
        status=q.status,
        kind=kind,
    )
    with svc.uows(read_only=True) as uow:
        rows = uow.history.page(where, limit + 1, position)
    page = rows[:limit]
    items = [
        {
            "id": r.reference,
            "kind": r.kind,
            "trigger": r.trigger,
            "stream": r.stream,
            "amount": metrics_service.amount(Money(r.amount_minor, r.currency)),
            "currency": r.currency,
            "status": r.status,
            "msisdn": masked(r.msisdn),
            "provider_reference": r.provider_reference,
            "reason": r.reason,
            "created_at": r.created_at.isoformat(),
        }
        for r in page
    ]
    return {"items": items, "next_cursor": encode_cursor(page[-1]) if len(rows) > limit else None}


def _bound(day: date | None, tz: ZoneInfo, side: int) -> datetime | None:
    """The first (0) or last (1) instant of ``day``; ``None`` — no bound — when there is
    no day or its edge lies outside the calendar (``from=0001-01-01`` in Nairobi starts
    before year 1 in UTC; ``to=9999-12-31`` ends after year 9999): nothing is beyond it."""
    if day is None:
        return None
    try:
        return day_bounds(day, tz)[side]
    except OverflowError:
        return None


@router.get(
    "/metrics",
    response_model=Metrics,
    responses=documented(401, 403),
    summary="today's figures per provider and combined",
)
def metrics(_: ReadDep, svc: ServicesDep) -> Any:
    return metrics_service.metrics(svc)


__all__ = ["StreamKey", "router"]
