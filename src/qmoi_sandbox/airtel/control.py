"""The sandbox-only control and inspection API under ``/sandbox/`` (docs/sandbox.md).

Paths and JSON shapes are identical in both emulators, so QMOI's tests and ``qmoi
start`` drive either one the same way. What it reports is the emulator's ground truth —
the wallet, every transaction with its real outcome, every callback attempt, every
injected fault — which reliability checks compare with what QMOI believes. It is never
subject to fault injection.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator
from starlette.responses import JSONResponse, Response

from qmoi_sandbox.airtel.customers import fixed_numbers
from qmoi_sandbox.airtel.engine import AirtelEngine, Market

PROVIDER = "airtel"

# Fault names as counted by FaultInjector (a ``*_rate`` field minus its suffix), plus
# the two the Airtel emulator counts itself.
FAULT_NAMES = (
    "error",
    "timeout_after_accept",
    "lost_callback",
    "duplicate_callback",
    "late_callback",
    "early_token_expiry",
    "ambiguous_enquiry",
    "enquiry_pending",
    "out_of_order_callback",
    "latency",
)


class WalletUpdate(BaseModel):
    """Set the float, and/or hold part of it back from payouts (``held_minor``)."""

    model_config = ConfigDict(extra="forbid")

    balance_minor: StrictInt | None = Field(None, ge=0)
    held_minor: StrictInt | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _something(self) -> WalletUpdate:
        if self.balance_minor is None and self.held_minor is None:
            raise ValueError("give balance_minor, held_minor or both")
        return self


class CustomersRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: StrictInt = Field(1, ge=1, le=10_000)
    approve_rate: float = Field(0.9, ge=0, le=1)
    label: str = ""
    country: str = ""  # a served country; "" the home one


def _engine(request: Request) -> AirtelEngine:
    engine: AirtelEngine = request.app.state.sandbox
    return engine


def _market(request: Request, country: str) -> Market:
    try:
        return _engine(request).market(country)
    except KeyError:
        raise HTTPException(404, f"country {country!r} is not served") from None


def control_router() -> APIRouter:
    router = APIRouter(prefix="/sandbox")

    @router.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        engine = _engine(request)
        return {"ok": True, "provider": PROVIDER, "now": engine.clock.now().isoformat()}

    @router.get("/clock")
    async def clock(request: Request) -> dict[str, Any]:
        engine = _engine(request)
        return {"now": engine.clock.now().isoformat(), "speed": engine.clock.speed}

    @router.get("/faults")
    async def get_faults(request: Request) -> dict[str, Any]:
        return _engine(request).faults.faults.model_dump()

    @router.put("/faults", response_model=None)
    async def put_faults(
        request: Request, changes: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any] | JSONResponse:
        try:
            faults = _engine(request).faults.update(changes)
        except ValidationError as exc:
            return JSONResponse({"detail": json.loads(exc.json())}, status_code=422)
        return faults.model_dump()

    @router.delete("/faults")
    async def clear_faults(request: Request) -> dict[str, Any]:
        injector = _engine(request).faults
        injector.clear()
        return injector.faults.model_dump()

    @router.get("/faults/injected")
    async def injected(request: Request) -> dict[str, Any]:
        counts = dict.fromkeys(FAULT_NAMES, 0) | dict(_engine(request).faults.injected)
        return {"counts": counts}

    @router.get("/wallet")
    async def wallet(request: Request, country: str = "") -> dict[str, Any]:
        return _market(request, country).wallet.as_json()

    @router.put("/wallet")
    async def set_wallet(
        request: Request, update: WalletUpdate, country: str = ""
    ) -> dict[str, Any]:
        wallet = _market(request, country).wallet
        if update.balance_minor is not None:
            wallet.set_balance(update.balance_minor)
        if update.held_minor is not None:
            wallet.hold(update.held_minor)
        return wallet.as_json()

    @router.get("/countries")
    async def countries(request: Request) -> dict[str, Any]:
        """Every served country: its currency, wallet and fixed-outcome test numbers."""
        return {
            market.country: {
                "currency": market.currency,
                "wallet": market.wallet.as_json(),
                "test_numbers": {
                    market.rules.to_international(number): outcome.value
                    for number, outcome in fixed_numbers(market.country).items()
                },
            }
            for market in _engine(request).markets.values()
        }

    @router.get("/transactions")
    async def transactions(
        request: Request, kind: str = "", status: str = ""
    ) -> list[dict[str, Any]]:
        selected = _engine(request).state.select(kind or None, status or None)
        return [txn.as_json() for txn in selected]

    @router.get("/transactions/{txn_id}")
    async def transaction(request: Request, txn_id: str) -> dict[str, Any]:
        txn = _engine(request).state.lookup(txn_id)
        if txn is None:
            raise HTTPException(404, f"no transaction {txn_id!r}")
        return txn.as_json()

    @router.get("/callbacks")
    async def callbacks(request: Request) -> list[dict[str, Any]]:
        sender = _engine(request).sender
        return [delivery.as_json() for delivery in sender.log] if sender else []

    @router.post("/customers")
    async def customers(request: Request, spec: CustomersRequest) -> dict[str, Any]:
        book = _market(request, spec.country).customers
        created = book.create(spec.count, spec.approve_rate, spec.label)
        return {"msisdns": [book.international(c) for c in created]}

    @router.post("/reset")
    async def reset(request: Request) -> dict[str, Any]:
        await _engine(request).reset()
        return {"ok": True}

    @router.get("/public-key")
    async def public_key(request: Request) -> Response:
        pem = _engine(request).keys.public_pem()
        return Response(pem, media_type="application/x-pem-file")

    return router
