"""How the shared fault settings show up in Airtel's protocol.

``common.faults.FaultInjector`` decides *whether* a fault fires (seeded rates, counts);
this module decides *what Airtel would then look like*:

* ``latency_ms`` — every provider answer waits that many real milliseconds first (real,
  not simulated: it exists to exercise the client's HTTP timeouts);
* ``error_rate`` — before anything is done (no token check, no state change): HTTP 500
  with an ``ESB000001`` "Something went wrong" envelope whose ``response_code`` is the
  product's "ambiguous" code, as a real 5xx gives no verdict;
* ``timeout_after_accept_rate`` — on writes only (USSD push, disbursement, refund): the
  request *is* executed, then the answer is held ``timeout_hold_s`` real seconds and
  replaced by HTTP 504 with the gateway's ``ROUTER117`` "request timeout — do an
  enquiry" shape. A client with a shorter timeout sees a read timeout (the hold ends
  early once it has hung up, so a shutdown is not kept waiting);
* ``early_token_expiry_rate`` — a valid token is refused as expired (403
  ``invalid_token``) and revoked, as if its lifetime had run out early;
* ``enquiry_pending_s`` — enquiries keep answering ``TIP`` that long after the
  transaction became final; ``ambiguous_enquiry_rate`` — an enquiry answers ``TA``.

Callback faults (lost, duplicated, late) are applied by ``common.delivery``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse

from qmoi_sandbox.airtel.state import AirtelStatus, Transaction
from qmoi_sandbox.airtel.wire import AMBIGUOUS, SOMETHING_WRONG, Product, envelope, status_block
from qmoi_sandbox.common.faults import FaultInjector


async def add_latency(injector: FaultInjector) -> None:
    latency_ms = injector.faults.latency_ms
    if latency_ms > 0:
        injector.injected["latency"] += 1
        await asyncio.sleep(latency_ms / 1000)


def server_error(injector: FaultInjector, product: Product | None) -> JSONResponse | None:
    """The 5xx answer when ``error_rate`` fires, else ``None``. ``None`` product: the token call."""
    if not injector.roll("error"):
        return None
    if product is None:
        body = {"error": "server_error", "error_description": "Something went wrong"}
        return JSONResponse(body, status_code=500)
    status = status_block(
        code="500",
        message="Something went wrong",
        result_code=SOMETHING_WRONG,
        response_code=AMBIGUOUS[product],
        success=False,
    )
    return JSONResponse(envelope(status), status_code=500)


def token_expires_early(injector: FaultInjector) -> bool:
    return injector.roll("early_token_expiry")


async def withhold_answer(injector: FaultInjector, request: Request) -> JSONResponse | None:
    """After a write was executed: hold the answer and time out, when the fault fires."""
    if not injector.roll("timeout_after_accept"):
        return None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + injector.faults.timeout_hold_s
    while (remaining := deadline - loop.time()) > 0:
        if await request.is_disconnected():
            break
        await asyncio.sleep(min(0.05, remaining))
    body = {
        "status_code": "ROUTER117",
        "status_message": "Request timeout. Kindly do a transaction enquiry",
    }
    return JSONResponse(body, status_code=504)


def enquiry_status(injector: FaultInjector, txn: Transaction, now: datetime) -> AirtelStatus:
    """The status an enquiry reports for ``txn`` once the enquiry faults are applied."""
    if injector.roll("ambiguous_enquiry"):
        return "TA"
    hold_s = injector.faults.enquiry_pending_s
    if (
        hold_s > 0
        and txn.completed_at is not None
        and now < txn.completed_at + timedelta(seconds=hold_s)
    ):
        injector.injected["enquiry_pending"] += 1
        return "TIP"
    return txn.airtel_status
