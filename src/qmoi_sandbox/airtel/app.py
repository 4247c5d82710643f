"""The Airtel Money Open API emulator as one ASGI app: ``create_app(config)``.

It serves, on one loopback port and whatever the host name, the Airtel Africa Open API
paths QMOI's connector uses (``docs/providers/airtel.md``: token, USSD push v1/v2,
collection enquiry, refund, disbursement v1/v2 and its enquiries, balance, KYC user
enquiry, encryption keys) with Airtel's headers, payloads and codes, plus the shared
``/sandbox/`` control and inspection API (``docs/sandbox.md``). Money is simulated:
every inspection record says ``"sandbox": true``.

Defaults (every one overridable through :class:`AirtelSandboxConfig`, the command line
``python -m qmoi_sandbox.airtel`` or ``QMOI_SANDBOX_AIRTEL_*`` variables):

=========================  ==============================================================
client id / secret         ``qmoi-sandbox`` / ``qmoi-sandbox-secret``
disbursement PIN           ``1234`` (sent RSA-encrypted with the emulator's public key)
country / currency         ``KE`` / ``KES`` (``X-Country`` / ``X-Currency``); ``countries``
                           adds further ones, each with its wallet in its own currency
token lifetime             180 simulated seconds (``expires_in: "180"``, a string)
wallet                     1,000,000.00 KES (``opening_balance_minor=100_000_000``)
subscriber answers after   5-30 simulated seconds (uniform); a silent phone: 60 s
approve rate               0.9 for any valid number; test numbers fixed (KE 254733000100-104,
                           other countries in ``customers.TEST_PREFIXES``)
disbursement fee           0 (Airtel documents no fee; the answer says ``Com KES 0``)
callback URL               none (set it: Airtel has no per-request callback URL)
callback ``hash``          off; key ``qmoi-sandbox-callback-key``, scope ``outer``
message signing            verified whenever sent; required on v2 writes only if switched on
RSA key                    1024-bit, generated at start-up (as in every Airtel sample)
clock                      ``speed`` 1.0 from now (UTC); ``seed`` None (not reproducible)
=========================  ==============================================================

The app's lifespan starts and stops the background work (subscribers answering,
callback deliveries). ``app.state.sandbox`` is the :class:`AirtelEngine` holding all
state (``.state`` wallet and transactions, ``.clock``, ``.keys``, ``.faults``,
``.customers``, ``.sender``) for tests.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse

from qmoi_sandbox.airtel.api import provider_router
from qmoi_sandbox.airtel.control import control_router
from qmoi_sandbox.airtel.engine import AirtelEngine
from qmoi_sandbox.airtel.state import AirtelSandboxConfig
from qmoi_sandbox.airtel.wire import SOMETHING_WRONG, envelope, status_block

__all__ = ["AirtelSandboxConfig", "create_app"]

log = logging.getLogger(__name__)


def create_app(config: AirtelSandboxConfig | None = None) -> FastAPI:
    """Build the emulator (keys are generated here); serve it with uvicorn."""
    engine = AirtelEngine(config or AirtelSandboxConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    app = FastAPI(
        title="QMOI Airtel Money sandbox",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.sandbox = engine
    app.include_router(control_router())
    app.include_router(provider_router())
    app.add_exception_handler(Exception, _internal_error)
    return app


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug of ours still answers in Airtel's shape (and an unknown outcome for writes)."""
    log.exception("airtel sandbox failed on %s %s", request.method, request.url.path)
    status = status_block(
        code="500",
        message="Something went wrong",
        result_code=SOMETHING_WRONG,
        response_code="",
        success=False,
    )
    return JSONResponse(envelope(status), status_code=500)
