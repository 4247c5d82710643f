"""The initiator APIs after Daraja has said "accepted": B2C, account balance,
Transaction Status and Reversal, each answered by a ``Result`` envelope.

A B2C payout's SecurityCredential is decrypted and checked, limits and the float are
checked, the payout plus its charge is debited and the ``Result`` with the eight
B2C parameters goes to ResultURL — or, under the ``queue_timeout`` fault, a notice goes
to QueueTimeOutURL instead; half of those payouts are executed anyway, so only a
Transaction Status query tells which (a queue timeout is not a failure).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qmoi_sandbox.mpesa.customers import is_safaricom
from qmoi_sandbox.mpesa.records import Transaction, b2c_time, daraja_time, format_minor, wire_amount
from qmoi_sandbox.mpesa.results import (
    QUEUE_TIMEOUT_CODE,
    RESULT_TEXTS,
    SUCCESS_DESC,
    InitiatorCall,
    check_initiator,
    customer_party,
    org_party,
    result_body,
    send_queue_timeout,
    send_result,
    still_processing,
)
from qmoi_sandbox.mpesa.state import MpesaState


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
        send_queue_timeout(state, call)
        return
    code = check_initiator(state, call, call.party_a)
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
        send_queue_timeout(state, call)
    else:
        send_result(state, call, code, parameters=parameters)


def account_balance_string(state: MpesaState) -> str:
    """``name|currency|available|uncleared|reserved|…`` per account, ``&``-separated."""
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
    code = check_initiator(state, call, call.party_a)
    if code is not None:
        send_result(state, call, code, parameters=None)
        return
    parameters: list[tuple[str, Any]] = [
        ("AccountBalance", account_balance_string(state)),
        ("BOCompletedTime", int(daraja_time(state.now()))),
    ]
    body = result_body(
        code="0",  # Daraja's balance sample writes ResultCode as a string
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


def status_parameters(state: MpesaState, tx: Transaction) -> list[tuple[str, Any]]:
    """Transaction Status result parameters; no Value where nothing is known."""
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
    code = check_initiator(state, call, call.party_a)
    if code is not None:
        send_result(state, call, code, parameters=None)
        return
    tx = state.find(transaction_id) if transaction_id else None
    if tx is None and original_id:
        tx = state.find(original_id)
    if tx is None:
        send_result(state, call, "25", parameters=None)
        return
    send_result(state, call, "0", parameters=status_parameters(state, tx))


@dataclass(frozen=True)
class ReversalPlan:
    call: InitiatorCall
    original_receipt: str
    receiver_party: str


async def run_reversal(state: MpesaState, tx: Transaction, plan: ReversalPlan) -> None:
    call = plan.call
    await state.clock.sleep(call.delay_s)
    code = check_initiator(state, call, plan.receiver_party)
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
        send_result(state, call, code, parameters=None)
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
    send_result(state, call, "0", parameters=parameters)
