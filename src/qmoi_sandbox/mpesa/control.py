"""The sandbox-only control and inspection API under ``/sandbox/`` (docs/sandbox.md).

Paths and JSON shapes are shared with the Airtel emulator, so tests and ``qmoi`` can
drive either the same way; only ``POST /sandbox/c2b/pay`` and
``GET /sandbox/certificate`` are M-Pesa's own. The inspection side is the ground truth
for reliability checks: it reports what the emulator really did with the money,
whatever the callbacks said or failed to say. Nothing here is part of Daraja, and no
fault ever touches these routes.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from qmoi_sandbox.mpesa.collect import start_c2b
from qmoi_sandbox.mpesa.collect_api import is_till
from qmoi_sandbox.mpesa.customers import is_msisdn
from qmoi_sandbox.mpesa.records import format_minor
from qmoi_sandbox.mpesa.state import MpesaState
from qmoi_sandbox.mpesa.wire import parse_whole_amount

router = APIRouter(prefix="/sandbox", tags=["sandbox"])


def get_state(request: Request) -> MpesaState:
    return cast(MpesaState, request.app.state.mpesa)


StateDep = Annotated[MpesaState, Depends(get_state)]


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
    approve_rate: float | None = Field(None, ge=0, le=1)
    label: str = Field("", max_length=100)


class C2BPayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: str
    amount: int | str = Field(description="whole shillings, as Daraja's Amount")
    bill_ref_number: str = Field("", max_length=20)
    shortcode: str | None = None


def _wallet(state: MpesaState) -> dict[str, Any]:
    return {
        "balance_minor": state.balance_minor,
        "currency": state.config.currency,
        "balance": format_minor(state.balance_minor),
        "held_minor": state.held_minor,
    }


@router.get("/health")
async def health(state: StateDep) -> dict[str, Any]:
    return {"ok": True, "provider": "mpesa", "now": state.now().isoformat()}


@router.get("/clock")
async def clock(state: StateDep) -> dict[str, Any]:
    return {"now": state.now().isoformat(), "speed": state.clock.speed}


@router.get("/faults")
async def get_faults(state: StateDep) -> dict[str, Any]:
    return state.faults.faults.model_dump()


@router.put("/faults")
async def put_faults(state: StateDep, changes: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    try:
        faults = state.faults.update(changes)
    except ValidationError as exc:
        raise HTTPException(
            status_code=422, detail=exc.errors(include_url=False, include_context=False)
        ) from exc
    return faults.model_dump()


@router.delete("/faults")
async def delete_faults(state: StateDep) -> dict[str, Any]:
    state.faults.clear()
    return state.faults.faults.model_dump()


@router.get("/faults/injected")
async def injected(state: StateDep) -> dict[str, Any]:
    return {"counts": state.injected_counts()}


@router.get("/wallet")
async def get_wallet(state: StateDep) -> dict[str, Any]:
    return _wallet(state)


@router.put("/wallet")
async def put_wallet(state: StateDep, update: WalletUpdate) -> dict[str, Any]:
    if update.balance_minor is not None:
        state.balance_minor = update.balance_minor
    if update.held_minor is not None:
        state.held_minor = update.held_minor
    return _wallet(state)


@router.get("/transactions")
async def list_transactions(
    state: StateDep, kind: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    return [tx.as_json() for tx in state.transactions(kind=kind, status=status)]


@router.get("/transactions/{transaction_id}")
async def get_transaction(state: StateDep, transaction_id: str) -> dict[str, Any]:
    tx = state.find(transaction_id)
    if tx is None:
        raise HTTPException(status_code=404, detail=f"no transaction {transaction_id!r}")
    return tx.as_json()


@router.get("/callbacks")
async def callbacks(state: StateDep) -> list[dict[str, Any]]:
    return [delivery.as_json() for delivery in state.sender.log]


@router.post("/customers")
async def customers(state: StateDep, request: CustomersRequest) -> dict[str, Any]:
    rate = request.approve_rate
    if rate is None:
        rate = state.config.default_approve_rate
    return {"msisdns": state.customers.create(request.count, rate, request.label)}


@router.post("/reset")
async def reset(state: StateDep) -> dict[str, Any]:
    await state.reset()
    return {"ok": True}


@router.post("/c2b/pay")
async def c2b_pay(state: StateDep, request: C2BPayRequest) -> dict[str, Any]:
    """A customer pays the paybill (or the till) from the phone, unprompted."""
    if not is_msisdn(request.msisdn):
        raise HTTPException(status_code=422, detail="msisdn must look like 2547XXXXXXXX")
    amount_minor = parse_whole_amount(request.amount)
    if amount_minor is None or amount_minor > state.config.stk_max_minor:
        top = state.config.stk_max_minor // 100
        raise HTTPException(status_code=422, detail=f"amount must be whole shillings, 1-{top}")
    shortcode = request.shortcode or state.config.shortcode
    if shortcode not in state.config.shortcodes:
        raise HTTPException(status_code=422, detail=f"{shortcode} is not this emulator's")
    tx = start_c2b(
        state,
        msisdn=request.msisdn,
        amount_minor=amount_minor,
        shortcode=shortcode,
        bill_ref_number="" if is_till(state, shortcode) else request.bill_ref_number,
        buy_goods=is_till(state, shortcode),
    )
    return tx.as_json()


@router.get("/certificate", response_class=PlainTextResponse)
async def certificate(state: StateDep) -> PlainTextResponse:
    return PlainTextResponse(state.keys.certificate_pem, media_type="application/x-pem-file")
