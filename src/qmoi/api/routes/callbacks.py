"""Provider callback routes. Each stores the raw callback (through the callbacks service)
and answers at once; booking happens when the inbox is processed.

Airtel posts collection and disbursement callbacks to one URL per account,
``/api/airtel/callback/{account}`` (the original ``/api/airtel/callback`` is the default
Airtel account's); the transaction id tells them apart (transfers carry ``QMOI-…``
references, collections ``QC-…``). M-Pesa's are mounted twice: under the original
design's ``/api/mpesa/{token}/…`` and under ``/hooks/{token}/…``, the prefix QMOI
registers with Daraja (Daraja refuses callback URLs containing "mpesa"); each M-Pesa
account has its own token, which is how a callback names its account.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from qmoi.api.deps import ServicesDep
from qmoi.api.errors import ApiError
from qmoi.providers.base import CallbackKind
from qmoi.services.callbacks import receive
from qmoi.services.context import Services
from qmoi.services.intake import Intake

router = APIRouter(tags=["callbacks"])

MAX_BODY = 64 * 1024


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ApiError(413, "payload_too_large", f"callbacks are at most {MAX_BODY} bytes")
    return body


def _airtel_kind(body: bytes) -> CallbackKind:
    try:
        data: Any = json.loads(body)
        transaction_id = str(data["transaction"]["id"])
    except (ValueError, KeyError, TypeError):
        return CallbackKind.COLLECTION  # the parser will say what is wrong with it
    return (
        CallbackKind.DISBURSEMENT if transaction_id.startswith("QMOI-") else CallbackKind.COLLECTION
    )


@router.post("/api/airtel/callback", summary="Airtel callbacks of the default Airtel account")
async def airtel_callback(request: Request, svc: ServicesDep) -> JSONResponse:
    account = svc.policy.default_account("airtel")
    if account is None:
        raise ApiError(
            404, "provider_not_enabled", "airtel is not enabled on this QMOI; nothing stored"
        )
    return await _airtel(request, svc, account)


@router.post(
    "/api/airtel/callback/{account}", summary="Airtel collection and disbursement callbacks"
)
async def airtel_account_callback(account: str, request: Request, svc: ServicesDep) -> JSONResponse:
    rules = svc.policy.providers.get(account)
    if rules is None or rules.provider != "airtel":
        raise ApiError(
            404, "account_not_found", f"there is no Airtel account {account!r}; nothing stored"
        )
    return await _airtel(request, svc, account)


async def _airtel(request: Request, svc: Services, account: str) -> JSONResponse:
    body = await _body(request)
    receipt = await receive(
        svc, _intake(request), account, _airtel_kind(body), dict(request.headers), body
    )
    return JSONResponse(receipt.body, status_code=receipt.status_code)


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def _mpesa(request: Request, svc: Services, token: str, sub: str) -> JSONResponse:
    accounts = svc.policy.accounts_of("mpesa")
    if not accounts:
        raise ApiError(
            404, "provider_not_enabled", "mpesa is not enabled on this QMOI; nothing stored"
        )
    from qmoi.providers.mpesa.callbacks import route

    account = next((n for n in accounts if _token_opens(svc, n, token)), None)
    if account is None:
        raise ApiError(404, "not_found", "Not Found")  # do not confirm the route exists
    connector = svc.providers[account]
    source = request.client.host if request.client else None
    if not connector.callback_source_allowed(source):  # type: ignore[attr-defined]
        raise ApiError(403, "forbidden_source", "callbacks are not accepted from this address")
    found = route(sub)
    if found is None:
        raise ApiError(404, "not_found", "Not Found")
    kind, tag = found
    body = await _body(request)
    receipt = await receive(
        svc, _intake(request), account, kind, dict(request.headers), body, reply_to=tag
    )
    return JSONResponse(receipt.body, status_code=receipt.status_code)


@router.post(
    "/api/mpesa/{token}/{sub:path}", summary="M-Pesa callbacks (the original design's path)"
)
async def mpesa_callback(token: str, sub: str, request: Request, svc: ServicesDep) -> JSONResponse:
    return await _mpesa(request, svc, token, sub)


@router.post("/hooks/{token}/{sub:path}", summary="M-Pesa callbacks (path registered with Daraja)")
async def hooks_callback(token: str, sub: str, request: Request, svc: ServicesDep) -> JSONResponse:
    return await _mpesa(request, svc, token, sub)


def _token_opens(svc: Services, account: str, token: str) -> bool:
    """Whether ``token`` is the M-Pesa ``account``'s callback path token."""
    connector = svc.providers.get(account)
    return connector is not None and bool(connector.callback_token_valid(token))  # type: ignore[attr-defined]
