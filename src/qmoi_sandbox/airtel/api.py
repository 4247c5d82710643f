"""Airtel Open API paths as the emulator serves them on one loopback port.

Every provider request goes through the same steps, in Airtel's order:

1. fault preamble: added latency, then an injected 5xx *before anything is done*;
2. bearer token (401 ``invalid_token`` when missing, 403 when unknown or expired);
3. routing headers: ``X-Country`` (missing or not a served country → HTTP 400
   ``ROUTER110`` flat shape; malformed → HTTP 400 envelope "Invalid Country Code") and
   ``X-Currency`` (missing → HTTP 200 ``ESB000008``; empty or wrong → HTTP 200
   "Invalid/Missing Currency");
4. message signature when ``x-signature``/``x-key`` are sent (always verified) or
   required (v2 writes with signing switched on) → HTTP 403 ``DP00800001026`` /
   ``DP00900001016`` on mismatch;
5. body and field validation (see ``wire``), PIN decryption for disbursements;
6. the engine acts; on writes the ``timeout_after_accept`` fault may then withhold the
   answer.

Business refusals come back as HTTP 200 with ``status.code`` "400" and
``success: false`` — the normal Airtel pattern — so clients must read the body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from qmoi_sandbox.airtel import faults as airtel_faults
from qmoi_sandbox.airtel.account_api import balance, encryption_keys, token, user_enquiry
from qmoi_sandbox.airtel.collect_api import collection_enquiry, refund, ussd_push
from qmoi_sandbox.airtel.disburse_api import disbursement, disbursement_enquiry
from qmoi_sandbox.airtel.engine import AirtelEngine
from qmoi_sandbox.airtel.wire import Product, Reject

Handler = Callable[[Request, AirtelEngine], Awaitable[Response]]


def engine_of(request: Request) -> AirtelEngine:
    engine: AirtelEngine = request.app.state.sandbox
    return engine


def _endpoint(
    handler: Handler, product: Product | None, *, write: bool
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        engine = engine_of(request)
        await airtel_faults.add_latency(engine.faults)
        failure = airtel_faults.server_error(engine.faults, product)
        if failure is not None:
            return failure
        try:
            response = await handler(request, engine)
        except Reject as reject:
            return reject.response()
        if write:
            withheld = await airtel_faults.withhold_answer(engine.faults, request)
            if withheld is not None:
                return withheld
        return response

    return endpoint


# --- routing table ----------------------------------------------------------------------


def provider_router() -> APIRouter:
    router = APIRouter()

    def add(
        paths: tuple[str, ...],
        method: str,
        handler: Handler,
        product: Product | None,
        *,
        write: bool = False,
    ) -> None:
        endpoint = _endpoint(handler, product, write=write)
        for path in paths:
            router.add_api_route(
                path,
                endpoint,
                methods=[method],
                response_model=None,
                include_in_schema=False,
            )

    def both(path: str) -> tuple[str, str]:
        # Every sample has the trailing slash; accept it both ways.
        return (path, path.rstrip("/")) if path.endswith("/") else (path, path + "/")

    collection, disburse = Product.COLLECTION, Product.DISBURSEMENT
    add(both("/auth/oauth2/token"), "POST", token, None)
    add(both("/v1/rsa/encryption-keys"), "GET", encryption_keys, Product.KEYS)
    add(
        both("/merchant/v1/payments/"),
        "POST",
        partial(ussd_push, version=1),
        collection,
        write=True,
    )
    add(
        both("/merchant/v2/payments/"),
        "POST",
        partial(ussd_push, version=2),
        collection,
        write=True,
    )
    add(both("/standard/v1/payments/refund"), "POST", refund, collection, write=True)
    add(("/standard/v1/payments/{transaction_id}",), "GET", collection_enquiry, collection)
    add(
        both("/standard/v1/disbursements/"),
        "POST",
        partial(disbursement, version=1),
        disburse,
        write=True,
    )
    add(
        both("/standard/v2/disbursements/"),
        "POST",
        partial(disbursement, version=2),
        disburse,
        write=True,
    )
    for version in ("v1", "v2"):
        add(
            (f"/standard/{version}/disbursements/{{transaction_id}}",),
            "GET",
            disbursement_enquiry,
            disburse,
        )
        add(both(f"/standard/{version}/users/balance"), "GET", balance, Product.BALANCE)
    add(("/standard/v1/users/{msisdn}",), "GET", user_enquiry, Product.KYC)
    return router
