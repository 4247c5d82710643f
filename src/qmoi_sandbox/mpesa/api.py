"""Daraja's HTTP surface: the real paths, their checks and their synchronous answers.

One gateway function serves every non-``/sandbox/`` path, as Safaricom's API gateway
does: it applies the injected faults (latency, 5xx before anything happens, answer
withheld after the request was executed), answers unknown paths and wrong methods
with Daraja's codes, checks the bearer token with the code each API page documents,
turns every :class:`~qmoi_sandbox.mpesa.wire.DarajaError` into Daraja's error
envelope and never lets a traceback out (an unexpected error is a ``500.003.1001``).

Served (handlers in :mod:`.collect_api` and :mod:`.initiator_api`):

* ``GET  /oauth/v1/generate?grant_type=client_credentials``
* ``POST /mpesa/stkpush/v1/processrequest``, ``/mpesa/stkpushquery/v1/query``
* ``POST /mpesa/c2b/v1|v2/registerurl``, ``/mpesa/c2b/v1|v2/simulate``
* ``POST /pulltransactions/v1/query``
* ``POST /mpesa/b2c/v1|v3/paymentrequest`` (v3 is current, v1 kept)
* ``POST /mpesa/accountbalance/v1/query``
* ``POST /mpesa/transactionstatus/v1/query``, ``/mpesa/reversal/v1/request``
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import cast

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from qmoi_sandbox.mpesa.collect_api import (
    c2b_register,
    c2b_simulate,
    pull_transactions,
    stk_push,
    stk_query,
)
from qmoi_sandbox.mpesa.initiator_api import (
    account_balance,
    b2c_payment,
    reversal,
    transaction_status,
)
from qmoi_sandbox.mpesa.state import MpesaState
from qmoi_sandbox.mpesa.wire import INVALID_TOKEN, DarajaError, error_response

logger = logging.getLogger("qmoi_sandbox.mpesa")

Handler = Callable[[MpesaState, Request], Awaitable[Response]]


def _state(request: Request) -> MpesaState:
    return cast(MpesaState, request.app.state.mpesa)


# -- OAuth ------------------------------------------------------------------------------


async def oauth_generate(state: MpesaState, request: Request) -> Response:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise DarajaError("400.008.01", "Invalid Authentication passed")
    if request.query_params.get("grant_type") != "client_credentials":
        raise DarajaError("400.008.02", "Invalid grant type passed")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise DarajaError("400.008.01", "Invalid Authentication passed") from exc
    key, _, secret = decoded.partition(":")
    good = hmac.compare_digest(key.encode(), state.config.consumer_key.encode())
    good &= hmac.compare_digest(secret.encode(), state.config.consumer_secret.encode())
    if not good:
        # Daraja's exact body for wrong credentials is unconfirmed: the
        # documented envelope with the authentication code is the safest guess.
        raise DarajaError("400.008.01", "Invalid Authentication passed")
    token = state.issue_token()
    return JSONResponse({"access_token": token.value, "expires_in": str(state.config.token_ttl_s)})


# -- the gateway ------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    handler: Handler
    #: errorCode for a bad bearer token on this API; None for OAuth itself
    token_error: str | None
    #: moves money (a push, a payout, a reversal): the ``timeout_after_accept`` fault
    #: applies, as it does to the Airtel emulator's writes; queries answer faithfully
    moves_money: bool = False


ROUTES: dict[str, Route] = {
    "/oauth/v1/generate": Route("GET", oauth_generate, None),
    "/mpesa/stkpush/v1/processrequest": Route("POST", stk_push, "404.001.03", True),
    "/mpesa/stkpushquery/v1/query": Route("POST", stk_query, "404.001.03"),
    "/pulltransactions/v1/query": Route("POST", pull_transactions, "404.001.03"),
    "/mpesa/c2b/v1/registerurl": Route("POST", c2b_register, "400.003.01"),
    "/mpesa/c2b/v2/registerurl": Route("POST", c2b_register, "400.003.01"),
    "/mpesa/c2b/v1/simulate": Route("POST", c2b_simulate, "400.003.01", True),
    "/mpesa/c2b/v2/simulate": Route("POST", c2b_simulate, "400.003.01", True),
    "/mpesa/b2c/v1/paymentrequest": Route(
        "POST", partial(b2c_payment, version=1), "404.001.03", True
    ),
    "/mpesa/b2c/v3/paymentrequest": Route(
        "POST", partial(b2c_payment, version=3), "404.001.03", True
    ),
    "/mpesa/accountbalance/v1/query": Route("POST", account_balance, "401.002.01"),
    "/mpesa/transactionstatus/v1/query": Route("POST", transaction_status, "400.003.01"),
    "/mpesa/reversal/v1/request": Route("POST", reversal, "404.001.03", True),
}

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _authorize(state: MpesaState, request: Request, token_error: str) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DarajaError("404.001.04", "Invalid Authentication Header")
    if not state.token_valid(token.strip()):
        raise DarajaError(token_error, INVALID_TOKEN)


def _sandbox_fallback(request: Request) -> Response:
    """Unmatched ``/sandbox/…`` requests: FastAPI's own 404 / 405 shapes."""
    for route in request.app.router.routes:
        if getattr(route, "endpoint", None) is gateway:
            continue
        match, _ = route.matches(request.scope)
        if match == Match.PARTIAL:
            return JSONResponse({"detail": "Method Not Allowed"}, status_code=405)
    return JSONResponse({"detail": "Not Found"}, status_code=404)


async def gateway(request: Request) -> Response:
    path = request.url.path
    if path == "/sandbox" or path.startswith("/sandbox/"):
        return _sandbox_fallback(request)
    state = _state(request)
    faults = state.faults.faults
    if faults.latency_ms:
        state.count_injected("latency")
        await asyncio.sleep(faults.latency_ms / 1000)
    route = ROUTES.get(path.rstrip("/") or "/")
    if route is None:
        return DarajaError("404.001.01", "Resource not found").response(state.request_id())
    if request.method != route.method:
        if route.method == "POST" and request.method == "GET":
            error = DarajaError("404.001.04", "Invalid Authentication Header")
        else:
            error = DarajaError("405.001", "Method Not Allowed")
        return error.response(state.request_id())
    if state.faults.roll("error"):
        if state.rng.random() < 0.5:
            error = DarajaError("500.003.02", "Spike Arrest Violation")
        else:
            error = DarajaError("500.003.1001", "Internal Server Error")
        return error.response(state.request_id())
    try:
        if route.token_error is not None:
            _authorize(state, request, route.token_error)
        response = await route.handler(state, request)
    except DarajaError as exc:
        response = exc.response(state.request_id())
    except ClientDisconnect:
        # the caller hung up (or was killed) before sending its whole body: nothing done
        logger.info("client went away during %s %s", request.method, path)
        return Response(status_code=499)
    except Exception:
        logger.exception("unexpected error answering %s %s", request.method, path)
        response = error_response("500.003.1001", "Internal Server Error", state.request_id())
    if route.moves_money and state.faults.roll("timeout_after_accept"):
        # The request has been executed; the caller never learns how it went.
        await asyncio.sleep(state.faults.faults.timeout_hold_s)
        return error_response("500.003.1001", "Gateway Timeout", state.request_id(), 504)
    return response
