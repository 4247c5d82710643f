"""The Safaricom Daraja (M-Pesa) emulator as one ASGI app: ``create_app(config)``.

It serves Daraja's real paths with the behaviour Safaricom documents (what QMOI relies
on is in ``docs/providers/mpesa.md``) — OAuth, STK push and query, C2B URL registration,
validation and confirmation, B2C, account balance, transaction status and reversal,
with their synchronous error envelopes and asynchronous result callbacks — plus the
sandbox control and inspection API of ``docs/sandbox.md`` under ``/sandbox/``.
Simulated customers answer STK prompts on a simulated clock (``speed`` × wall
clock), so a test at high speed sees a customer answer within milliseconds.

It exists so that QMOI's M-Pesa connector can be exercised end to end, faults
included, without Safaricom: it is written from the same documentation as the
connector but shares no code with it, so a misreading on one side shows up as a failure.

Defaults (all overridable through :class:`MpesaSandboxConfig`, the command line or
``QMOI_SANDBOX_MPESA_*`` variables; see ``python -m qmoi_sandbox.mpesa --help``):

====================  ==============================================================
consumer key/secret   ``qmoi-sandbox`` / ``qmoi-sandbox-secret``
shortcode             ``174379`` (paybill; also accepted as the till unless
                      ``till_number`` is set)
passkey               ``bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919``
                      — Safaricom's published sandbox passkey for 174379
initiator             ``qmoi_initiator``, password ``Sandbox#1234``; the
                      SecurityCredential is that password RSA/PKCS#1 v1.5-encrypted
                      with the certificate served at ``GET /sandbox/certificate``
                      (a fresh key pair per process)
opening float         1,000,000.00 KES (``opening_balance_minor=100_000_000``)
token lifetime        3599 s (``expires_in: "3599"``)
customer delay        uniform 5–30 simulated s; an unanswered prompt ends after 60 s
initiator results     after 1–5 simulated s
B2C charge            22.40 KES per successful payout; limits 10–250,000 KES
test numbers          254708000100 approves, …101 cancels (1032), …102 never answers
                      (1037), …103 lacks funds (1), …104 wrong PIN (2001); other
                      Safaricom numbers approve with probability 0.9
C2B validation        off (as on Daraja); the Validation URL gets 8 real seconds
callback deliveries   one attempt (the portal: failed deliveries are not retried)
URL rules             on: callback URLs containing mpesa, safaricom, exec, sql, query…
                      are refused like Daraja does
====================  ==============================================================

The state object is ``app.state.mpesa`` (a :class:`MpesaState`); the lifespan starts
the callback sender and, on shutdown, cancels customers still thinking and callbacks
still waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from qmoi_sandbox.mpesa import api, control
from qmoi_sandbox.mpesa.config import SANDBOX_PASSKEY, MpesaSandboxConfig
from qmoi_sandbox.mpesa.state import MpesaState

__all__ = ["SANDBOX_PASSKEY", "MpesaSandboxConfig", "MpesaState", "create_app"]


def create_app(config: MpesaSandboxConfig | None = None) -> FastAPI:
    """A new, independent emulator; nothing starts until the ASGI lifespan does."""
    state = MpesaState(config or MpesaSandboxConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(
        title="QMOI Daraja emulator",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.mpesa = state
    app.include_router(control.router)
    app.router.add_route("/{path:path}", api.gateway, methods=api.METHODS)
    return app
