"""Money coming in after Daraja has said "accepted": STK push and C2B.

* STK push: the simulated customer answers the prompt; the float is credited on
  success and the ``Body.stkCallback`` payload goes to the request's CallBackURL.
* C2B: a customer pays the shortcode; when external validation is on, the registered
  ValidationURL is asked first (accept, reject with its code, or — no answer in time —
  the registration's ResponseType applies), then the float is credited and the
  confirmation goes to the ConfirmationURL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import httpx

from qmoi_sandbox.mpesa.customers import STK_RESULTS, UNANSWERED
from qmoi_sandbox.mpesa.records import Status, Transaction, daraja_time, format_minor, wire_amount
from qmoi_sandbox.mpesa.state import MpesaState


@dataclass(frozen=True)
class StkPlan:
    code: int
    delay_s: float
    receipt: str
    balance_item: bool
    callback_url: str


def plan_stk(
    state: MpesaState, *, msisdn: str, amount_minor: int, party_b_ok: bool, callback_url: str
) -> StkPlan:
    """Decide the outcome of a push as it arrives (before it is recorded)."""
    quick = state.uniform((1.0, 3.0))
    if not party_b_ok:
        code, delay = 2028, quick
    elif state.recent_same_amount(msisdn, amount_minor):
        code, delay = 17, quick
    else:
        answer = state.customers.answer(msisdn)
        code, delay = answer.code, answer.delay_s
    receipt = state.receipt() if code == 0 else ""
    return StkPlan(code, delay, receipt, state.rng.random() < 0.5, callback_url)


async def run_stk(state: MpesaState, tx: Transaction, plan: StkPlan) -> None:
    await state.clock.sleep(plan.delay_s)
    desc = STK_RESULTS[plan.code]
    if plan.code == 0:
        state.credit(tx.amount_minor)
        state.finish(tx, "succeeded", "0", desc, receipt=plan.receipt)
    else:
        status: Status = "expired" if plan.code in UNANSWERED else "failed"
        state.finish(tx, status, str(plan.code), desc)
    state.sender.send(plan.callback_url, stk_callback(state, tx, plan), transaction_id=tx.id)


def stk_callback(state: MpesaState, tx: Transaction, plan: StkPlan) -> dict[str, Any]:
    callback: dict[str, Any] = {
        "MerchantRequestID": tx.originator_id,
        "CheckoutRequestID": tx.id,
        "ResultCode": plan.code,
        "ResultDesc": STK_RESULTS[plan.code],
    }
    if plan.code == 0 and tx.completed_at is not None:
        items: list[dict[str, Any]] = [
            {"Name": "Amount", "Value": wire_amount(tx.amount_minor)},
            {"Name": "MpesaReceiptNumber", "Value": plan.receipt},
        ]
        if plan.balance_item:
            items.append({"Name": "Balance"})
        items += [
            {"Name": "TransactionDate", "Value": int(daraja_time(tx.completed_at))},
            {"Name": "PhoneNumber", "Value": int(tx.msisdn)},
        ]
        callback["CallbackMetadata"] = {"Item": items}
    return {"Body": {"stkCallback": callback}}


# -- C2B --------------------------------------------------------------------------------


@dataclass(frozen=True)
class C2BPayment:
    shortcode: str
    transaction_type: str  # "Pay Bill" | "Buy Goods"
    bill_ref_number: str


def start_c2b(
    state: MpesaState,
    *,
    msisdn: str,
    amount_minor: int,
    shortcode: str,
    bill_ref_number: str,
    buy_goods: bool,
) -> Transaction:
    """A customer pays the shortcode (or till) from their phone."""
    payment = C2BPayment(shortcode, "Buy Goods" if buy_goods else "Pay Bill", bill_ref_number)
    tx = Transaction(
        id=state.receipt(),
        kind="c2b",
        msisdn=msisdn,
        amount_minor=amount_minor,
        currency=state.config.currency,
        reference=bill_ref_number,
        created_at=state.now(),
        originator_id=state.merchant_request_id(),
        command=payment.transaction_type,
    )
    state.add(tx)
    state.spawn(run_c2b(state, tx, payment), f"c2b-{tx.id}")
    return tx


def shown_msisdn(state: MpesaState, msisdn: str) -> str:
    """C2B callbacks never carry the real number: masked (docs) or hashed (2025)."""
    if state.config.c2b_msisdn_style == "hashed":
        return hashlib.sha256(msisdn.encode()).hexdigest()
    return f"{msisdn[:4]} ***** {msisdn[-3:]}"


def c2b_body(
    state: MpesaState,
    tx: Transaction,
    payment: C2BPayment,
    *,
    org_balance: str,
    third_party_id: str = "",
) -> dict[str, Any]:
    first, middle, last = state.customers.get(tx.msisdn).names
    return {
        "TransactionType": payment.transaction_type,
        "TransID": tx.id,
        "TransTime": daraja_time(tx.created_at),
        "TransAmount": format_minor(tx.amount_minor),
        "BusinessShortCode": payment.shortcode,
        "BillRefNumber": payment.bill_ref_number,
        "InvoiceNumber": "",
        "OrgAccountBalance": org_balance,
        "ThirdPartyTransID": third_party_id,
        "MSISDN": shown_msisdn(state, tx.msisdn),
        "FirstName": first,
        "MiddleName": middle,
        "LastName": last,
    }


def read_validation_answer(answer: httpx.Response | None) -> tuple[str, str, str] | None:
    """(ResultCode, ResultDesc, ThirdPartyTransID) answered by the merchant, or None."""
    if answer is None or not 200 <= answer.status_code < 300:
        return None
    try:
        body = answer.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or "ResultCode" not in body:
        return None
    code = body["ResultCode"]
    if isinstance(code, bool) or not isinstance(code, int | str):
        return None
    desc = body.get("ResultDesc")
    third = body.get("ThirdPartyTransID")
    return (
        str(code),
        desc if isinstance(desc, str) else "",
        third if isinstance(third, str) else "",
    )


async def run_c2b(state: MpesaState, tx: Transaction, payment: C2BPayment) -> None:
    registration = state.c2b_urls.get(payment.shortcode)
    third_party_id = ""
    if registration is not None and state.config.c2b_validation:
        request = c2b_body(state, tx, payment, org_balance="")
        _, answer = await state.sender.exchange(
            registration.validation_url,
            request,
            transaction_id=tx.id,
            timeout_s=state.config.c2b_validation_timeout_s,
        )
        verdict = read_validation_answer(answer)
        if verdict is None:
            if registration.response_type == "Cancelled":
                state.finish(
                    tx,
                    "failed",
                    "C2B00016",
                    "Validation URL did not answer; ResponseType Cancelled applied",
                )
                return
        elif verdict[0] != "0":
            state.finish(tx, "failed", verdict[0], verdict[1] or "Rejected by validation")
            return
        else:
            third_party_id = verdict[2]
    state.credit(tx.amount_minor)
    state.finish(tx, "succeeded", "0", "Success", receipt=tx.id)
    if registration is not None:
        confirmation = c2b_body(
            state,
            tx,
            payment,
            org_balance=format_minor(state.balance_minor),
            third_party_id=third_party_id,
        )
        state.sender.send(registration.confirmation_url, confirmation, transaction_id=tx.id)
