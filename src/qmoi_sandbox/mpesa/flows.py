"""What happens after Daraja has said "accepted": outcomes and the callbacks that carry them.

Daraja's HTTP answers are only acknowledgements (doc §3); the money moves later and
the merchant learns of it from a POST:

* STK push (§5–§6): the simulated customer answers the prompt; the float is credited
  on success and the ``Body.stkCallback`` payload goes to the request's CallBackURL.
* C2B (§8): a customer pays the shortcode; when external validation is on, the
  registered ValidationURL is asked first (accept, reject with its code, or — no
  answer in time — the registration's ResponseType applies), then the float is
  credited and the confirmation goes to the ConfirmationURL.
* B2C (§9): the SecurityCredential is decrypted and checked, limits and the float are
  checked, the payout plus its charge is debited and the ``Result`` envelope with the
  eight documented parameters goes to ResultURL — or, under the ``queue_timeout``
  fault, a notice goes to QueueTimeOutURL instead; half of those payouts are executed
  anyway, so only a Transaction Status query tells which (the doc: "a queue timeout is
  not a failure").
* Account balance, Transaction Status and Reversal (§10–§11) answer through the same
  ``Result`` envelope.

Every random choice is drawn when the request arrives (see the ``plan_*`` helpers),
so a seeded run is repeatable whatever the interleaving of background tasks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import httpx

from qmoi_sandbox.mpesa.customers import STK_RESULTS, UNANSWERED, is_safaricom
from qmoi_sandbox.mpesa.state import (
    MpesaState,
    Status,
    Transaction,
    b2c_time,
    daraja_time,
    format_minor,
    wire_amount,
)

#: ReferenceData of every initiator result, as in the doc's samples.
REFERENCE_DATA = {
    "ReferenceItem": {
        "Key": "QueueTimeoutURL",
        "Value": "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit",
    }
}

SUCCESS_DESC = "The service request is processed successfully."

#: Initiator-API result codes and texts (doc §12.2–§12.3, §11).
RESULT_TEXTS: dict[str, str] = {
    "0": SUCCESS_DESC,
    "1": "The balance is insufficient for the transaction.",
    "2": "Declined due to limit rule: less than the minimum transaction amount.",
    "3": "Declined due to limit rule: greater than the maximum transaction amount.",
    "21": "The initiator is not allowed to initiate this request.",
    "25": "Invalid request parameters.",
    "2001": "The initiator information is invalid.",
    "8006": "The security credential is locked.",
    "SFC_IC0003": "The receiving party is not a registered M-Pesa customer.",
    "R000001": "The transaction has already been reversed.",
    "R000002": "The OriginalTransactionID is invalid.",
    "100000001": "The system is overloaded: the request timed out waiting in the queue.",
}

QUEUE_TIMEOUT_CODE = 100000001


def _code_value(code: str) -> int | str:
    """Result codes go out as integers when numeric, as strings otherwise (R000002…)."""
    return int(code) if code.isdigit() else code


def result_body(
    *,
    code: int | str,
    desc: str,
    originator_id: str,
    conversation_id: str,
    transaction_id: str,
    parameters: list[tuple[str, Any]] | None = None,
) -> dict[str, Any]:
    """The async ``Result`` envelope of doc §3; a parameter whose value is None has no Value."""
    result: dict[str, Any] = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": desc,
        "OriginatorConversationID": originator_id,
        "ConversationID": conversation_id,
        "TransactionID": transaction_id,
    }
    if parameters is not None:
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": key} if value is None else {"Key": key, "Value": value}
                for key, value in parameters
            ]
        }
    result["ReferenceData"] = REFERENCE_DATA
    return {"Result": result}


def _placeholder_transaction_id(receipt: str) -> str:
    """Failed results carry a placeholder id like ``NLJ0000000`` (doc §3)."""
    return receipt[:3] + "0000000"


def org_party(state: MpesaState) -> str:
    return f"{state.config.shortcode} - {state.config.organization_name}"


def customer_party(state: MpesaState, msisdn: str) -> str:
    return f"{msisdn} - {state.customers.get(msisdn).display_name}"


# -- STK push ---------------------------------------------------------------------------


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


# -- initiator APIs ---------------------------------------------------------------------


@dataclass(frozen=True)
class InitiatorCall:
    """What every initiator API request carries, plus the ids Daraja gave it."""

    initiator: str
    credential: str
    party_a: str
    result_url: str
    timeout_url: str
    originator_id: str
    conversation_id: str
    delay_s: float
    receipt: str


def _send_result(
    state: MpesaState, call: InitiatorCall, code: str, *, parameters: list[tuple[str, Any]] | None
) -> None:
    ok = code == "0"
    body = result_body(
        code=_code_value(code),
        desc=RESULT_TEXTS.get(code, SUCCESS_DESC if ok else "Request failed."),
        originator_id=call.originator_id,
        conversation_id=call.conversation_id,
        transaction_id=call.receipt if ok else _placeholder_transaction_id(call.receipt),
        parameters=parameters if ok else None,
    )
    state.sender.send(call.result_url, body, transaction_id=call.conversation_id)


def _check_initiator(state: MpesaState, call: InitiatorCall, party: str) -> str | None:
    code = state.check_initiator(call.initiator, call.credential)
    if code is not None:
        return str(code)
    if party not in state.config.shortcodes:
        return "21"
    return None


@dataclass(frozen=True)
class B2CPlan:
    call: InitiatorCall
    party_b: str
    queue_timeout: bool
    executes: bool


async def run_b2c(state: MpesaState, tx: Transaction, plan: B2CPlan) -> None:
    call = plan.call
    await state.clock.sleep(call.delay_s)
    if plan.queue_timeout and not plan.executes:
        state.finish(tx, "expired", str(QUEUE_TIMEOUT_CODE), RESULT_TEXTS["100000001"])
        _send_queue_timeout(state, call)
        return
    code = _check_initiator(state, call, call.party_a)
    cfg = state.config
    if code is None and tx.amount_minor < cfg.b2c_min_minor:
        code = "2"
    if code is None and tx.amount_minor > cfg.b2c_max_minor:
        code = "3"
    if code is None and not is_safaricom(plan.party_b):
        code = "SFC_IC0003"
    if code is None and not state.debit(tx.amount_minor, cfg.b2c_fee_minor):
        code = "1"
    parameters: list[tuple[str, Any]] | None = None
    if code is None:
        code = "0"
        tx.fee_minor = cfg.b2c_fee_minor
        state.finish(tx, "succeeded", code, SUCCESS_DESC, receipt=call.receipt)
        assert tx.completed_at is not None  # noqa: S101 - set by finish()
        parameters = [
            ("TransactionAmount", tx.amount_minor // 100),
            ("TransactionReceipt", call.receipt),
            ("ReceiverPartyPublicName", customer_party(state, plan.party_b)),
            ("TransactionCompletedDateTime", b2c_time(tx.completed_at)),
            ("B2CUtilityAccountAvailableFunds", wire_amount(state.balance_minor)),
            ("B2CWorkingAccountAvailableFunds", wire_amount(0)),
            ("B2CRecipientIsRegisteredCustomer", "Y"),
            ("B2CChargesPaidAccountAvailableFunds", wire_amount(state.charges_paid_minor)),
        ]
    else:
        state.finish(tx, "failed", code, RESULT_TEXTS.get(code, "Request failed."))
    if plan.queue_timeout:
        _send_queue_timeout(state, call)
    else:
        _send_result(state, call, code, parameters=parameters)


def _send_queue_timeout(state: MpesaState, call: InitiatorCall) -> None:
    """The QueueTimeOutURL notice: a ``Result`` envelope without parameters (doc §9)."""
    body = result_body(
        code=QUEUE_TIMEOUT_CODE,
        desc=RESULT_TEXTS[str(QUEUE_TIMEOUT_CODE)],
        originator_id=call.originator_id,
        conversation_id=call.conversation_id,
        transaction_id=_placeholder_transaction_id(call.receipt),
    )
    state.sender.send(call.timeout_url, body, transaction_id=call.conversation_id)


def account_balance_string(state: MpesaState) -> str:
    """``name|currency|available|uncleared|reserved|…`` per account, ``&``-separated (doc §10)."""
    cur = state.config.currency
    zero = format_minor(0)

    def account(name: str, minor: int) -> str:
        amount = format_minor(minor)
        return f"{name}|{cur}|{amount}|{amount}|{zero}|{zero}"

    return "&".join(
        [
            account("Working Account", 0),
            account("Utility Account", state.balance_minor),
            account("Charges Paid Account", state.charges_paid_minor),
            account("Organization Settlement Account", 0),
        ]
    )


async def run_balance(state: MpesaState, call: InitiatorCall) -> None:
    await state.clock.sleep(call.delay_s)
    code = _check_initiator(state, call, call.party_a)
    if code is not None:
        _send_result(state, call, code, parameters=None)
        return
    parameters: list[tuple[str, Any]] = [
        ("AccountBalance", account_balance_string(state)),
        ("BOCompletedTime", int(daraja_time(state.now()))),
    ]
    body = result_body(
        code="0",  # the doc's balance sample writes ResultCode as a string
        desc=SUCCESS_DESC,
        originator_id=call.originator_id,
        conversation_id=call.conversation_id,
        transaction_id=call.receipt,
        parameters=parameters,
    )
    state.sender.send(call.result_url, body, transaction_id=call.conversation_id)


_REASON_TYPES = {
    "CustomerPayBillOnline": "Pay Bill Online",
    "CustomerBuyGoodsOnline": "Buy Goods Online",
    "Pay Bill": "Pay Bill",
    "Buy Goods": "Buy Goods",
    "BusinessPayment": "Business Payment to Customer via API",
    "SalaryPayment": "Salary Payment via API",
    "PromotionPayment": "Promotion Payment via API",
    "TransactionReversal": "Reversal",
}


def still_processing(state: MpesaState, tx: Transaction) -> bool:
    """Pending, or made to look pending by the enquiry faults."""
    if tx.status == "pending":
        return True
    hold = state.faults.faults.enquiry_pending_s
    if hold and tx.completed_at is not None:
        age = (state.now() - tx.completed_at).total_seconds()
        if age < hold:
            state.count_injected("enquiry_pending")
            return True
    return state.faults.roll("ambiguous_enquiry")


def status_parameters(state: MpesaState, tx: Transaction) -> list[tuple[str, Any]]:
    """Transaction Status result parameters (doc §11.1); no Value where nothing is known."""
    pending = still_processing(state, tx)
    incoming = tx.kind in ("collection", "c2b")
    org, customer = org_party(state), customer_party(state, tx.msisdn)
    if pending:
        shown = "Pending"
    else:
        shown = "Completed" if tx.status == "succeeded" else "Failed"
    fee = (
        f"Fee For B2C Payment|{tx.currency}|{format_minor(tx.fee_minor)}"
        if tx.kind == "disbursement" and tx.fee_minor and not pending
        else ""
    )
    finalised = None if pending or tx.completed_at is None else int(daraja_time(tx.completed_at))
    return [
        ("DebitPartyName", customer if incoming else org),
        ("CreditPartyName", org if incoming else customer),
        ("OriginatorConversationID", tx.originator_id),
        ("InitiatedTime", int(daraja_time(tx.created_at))),
        ("DebitAccountType", "MMF Account For Customer" if incoming else "Utility Account"),
        ("DebitPartyCharges", fee),
        ("TransactionReason", ""),
        ("ReasonType", _REASON_TYPES.get(tx.command, tx.command)),
        ("TransactionStatus", shown),
        ("FinalisedTime", finalised),
        ("Amount", wire_amount(tx.amount_minor)),
        ("ConversationID", tx.id if tx.kind in ("disbursement", "reversal") else ""),
        ("ReceiptNo", None if pending else tx.provider_id),
    ]


async def run_status(
    state: MpesaState, call: InitiatorCall, *, transaction_id: str, original_id: str
) -> None:
    await state.clock.sleep(call.delay_s)
    code = _check_initiator(state, call, call.party_a)
    if code is not None:
        _send_result(state, call, code, parameters=None)
        return
    tx = state.find(transaction_id) if transaction_id else None
    if tx is None and original_id:
        tx = state.find(original_id)
    if tx is None:
        _send_result(state, call, "25", parameters=None)
        return
    _send_result(state, call, "0", parameters=status_parameters(state, tx))


@dataclass(frozen=True)
class ReversalPlan:
    call: InitiatorCall
    original_receipt: str
    receiver_party: str


async def run_reversal(state: MpesaState, tx: Transaction, plan: ReversalPlan) -> None:
    call = plan.call
    await state.clock.sleep(call.delay_s)
    code = _check_initiator(state, call, plan.receiver_party)
    original = state.find(plan.original_receipt)
    if code is None and (
        original is None
        or original.kind not in ("collection", "c2b")
        or original.status != "succeeded"
        or original.provider_id != plan.original_receipt
    ):
        code = "R000002"
    if code is None and original is not None and original.reversed:
        code = "R000001"
    if code is None and original is not None and original.amount_minor != tx.amount_minor:
        code = "25"
    if code is None and not state.debit(tx.amount_minor):
        code = "1"
    if code is not None or original is None:
        code = code or "R000002"
        state.finish(tx, "failed", code, RESULT_TEXTS.get(code, "Request failed."))
        _send_result(state, call, code, parameters=None)
        return
    original.reversed = True
    state.finish(tx, "succeeded", "0", SUCCESS_DESC, receipt=call.receipt)
    assert tx.completed_at is not None  # noqa: S101 - set by finish()
    cur = state.config.currency
    available = format_minor(state.balance_minor)
    zero = format_minor(0)
    parameters: list[tuple[str, Any]] = [
        ("DebitAccountBalance", f"Utility Account|{cur}|{available}|{available}|{zero}|{zero}"),
        ("Amount", wire_amount(tx.amount_minor)),
        ("TransCompletedTime", int(daraja_time(tx.completed_at))),
        ("OriginalTransactionID", plan.original_receipt),
        ("Charge", wire_amount(0)),
        ("CreditPartyPublicName", customer_party(state, original.msisdn)),
        ("DebitPartyPublicName", org_party(state)),
    ]
    _send_result(state, call, "0", parameters=parameters)
