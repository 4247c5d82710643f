"""Daraja's initiator paths: B2C payment, account balance, Transaction Status and
Reversal; each checks its request and acknowledges it, the result following later
(:mod:`.initiator`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qmoi_sandbox.mpesa.initiator import (
    B2CPlan,
    ReversalPlan,
    run_b2c,
    run_balance,
    run_reversal,
    run_status,
)
from qmoi_sandbox.mpesa.records import Transaction
from qmoi_sandbox.mpesa.results import InitiatorCall
from qmoi_sandbox.mpesa.state import MpesaState
from qmoi_sandbox.mpesa.wire import (
    ACCEPTED,
    DarajaError,
    Fields,
    invalid,
    read_json,
    request_fields,
)

B2C_COMMANDS = ("BusinessPayment", "SalaryPayment", "PromotionPayment")
IDENTIFIER_TYPES = ("1", "2", "4")


def _acknowledge(call: InitiatorCall) -> JSONResponse:
    return JSONResponse(
        {
            "OriginatorConversationID": call.originator_id,
            "ConversationID": call.conversation_id,
            "ResponseCode": "0",
            "ResponseDescription": ACCEPTED,
        }
    )


def _call(
    state: MpesaState,
    *,
    initiator: str,
    credential: str,
    party_a: str,
    result_url: str,
    timeout_url: str,
    originator_id: str | None = None,
) -> InitiatorCall:
    return InitiatorCall(
        initiator=initiator,
        credential=credential,
        party_a=party_a,
        result_url=result_url,
        timeout_url=timeout_url,
        originator_id=originator_id or state.merchant_request_id(),
        conversation_id=state.conversation_id(),
        delay_s=state.uniform(state.config.result_delay_s),
        receipt=state.receipt(),
    )


async def b2c_payment(state: MpesaState, request: Request, *, version: int) -> Response:
    f = request_fields(state, await read_json(request))
    originator_id = f.text("OriginatorConversationID", max_len=100) if version >= 3 else None
    initiator = f.text("InitiatorName", max_len=100)
    credential = f.text("SecurityCredential", max_len=8192)
    command = f.choice("CommandID", B2C_COMMANDS)
    amount_minor = f.amount("Amount")
    party_a = f.digits("PartyA", 5, 7)
    party_b = f.msisdn("PartyB")
    f.text("Remarks", min_len=2, max_len=100)
    timeout_url = f.url("QueueTimeOutURL")
    result_url = f.url("ResultURL")
    f.text("Occassion", max_len=100, optional=True)
    if originator_id is not None and not state.claim_originator_id(originator_id):
        raise DarajaError("500.002.1001", "Duplicate OriginatorConversationID")
    call = _call(
        state,
        initiator=initiator,
        credential=credential,
        party_a=party_a,
        result_url=result_url,
        timeout_url=timeout_url,
        originator_id=originator_id,
    )
    queue_timeout = state.faults.roll("queue_timeout")
    executes = not queue_timeout or state.rng.random() < 0.5
    plan = B2CPlan(call, party_b, queue_timeout, executes)
    tx = Transaction(
        id=call.conversation_id,
        kind="disbursement",
        msisdn=party_b,
        amount_minor=amount_minor,
        currency=state.config.currency,
        reference=call.originator_id,
        created_at=state.now(),
        originator_id=call.originator_id,
        command=command,
    )
    state.add(tx, call.originator_id)
    state.spawn(run_b2c(state, tx, plan), f"b2c-{tx.id}")
    return _acknowledge(call)


def _initiator_fields(f: Fields, *, name_field: str, command: str) -> tuple[str, str]:
    initiator = f.text(name_field, max_len=100)
    credential = f.text("SecurityCredential", max_len=8192)
    f.choice("CommandID", (command,))
    return initiator, credential


async def account_balance(state: MpesaState, request: Request) -> Response:
    f = request_fields(state, await read_json(request))
    initiator, credential = _initiator_fields(f, name_field="Initiator", command="AccountBalance")
    party_a = f.digits("PartyA", 5, 12)
    f.choice("IdentifierType", IDENTIFIER_TYPES)
    f.text("Remarks", max_len=100)
    timeout_url = f.url("QueueTimeOutURL")
    result_url = f.url("ResultURL")
    call = _call(
        state,
        initiator=initiator,
        credential=credential,
        party_a=party_a,
        result_url=result_url,
        timeout_url=timeout_url,
    )
    state.spawn(run_balance(state, call), f"balance-{call.conversation_id}")
    return _acknowledge(call)


async def transaction_status(state: MpesaState, request: Request) -> Response:
    f = request_fields(state, await read_json(request))
    initiator, credential = _initiator_fields(
        f, name_field="Initiator", command="TransactionStatusQuery"
    )
    transaction_id = f.text("TransactionID", max_len=64, optional=True)
    original_id = f.text("OriginalConversationID", max_len=100, optional=True)
    if not transaction_id and not original_id:
        raise invalid("TransactionID")
    party_a = f.digits("PartyA", 5, 12)
    f.choice("IdentifierType", IDENTIFIER_TYPES)
    result_url = f.url("ResultURL")
    timeout_url = f.url("QueueTimeOutURL")
    f.text("Remarks", max_len=100)
    f.text("Occasion", max_len=100, optional=True)
    call = _call(
        state,
        initiator=initiator,
        credential=credential,
        party_a=party_a,
        result_url=result_url,
        timeout_url=timeout_url,
    )
    state.spawn(
        run_status(state, call, transaction_id=transaction_id, original_id=original_id),
        f"status-{call.conversation_id}",
    )
    return _acknowledge(call)


async def reversal(state: MpesaState, request: Request) -> Response:
    f = request_fields(state, await read_json(request))
    initiator, credential = _initiator_fields(
        f, name_field="Initiator", command="TransactionReversal"
    )
    original_receipt = f.text("TransactionID", max_len=64)
    amount_minor = f.amount("Amount")
    receiver_party = f.digits("ReceiverParty", 5, 12)
    f.digits("RecieverIdentifierType", 1, 2)
    result_url = f.url("ResultURL")
    timeout_url = f.url("QueueTimeOutURL")
    f.text("Remarks", max_len=100)
    f.text("Occasion", max_len=100, optional=True)
    call = _call(
        state,
        initiator=initiator,
        credential=credential,
        party_a=receiver_party,
        result_url=result_url,
        timeout_url=timeout_url,
    )
    original = state.find(original_receipt)
    tx = Transaction(
        id=call.conversation_id,
        kind="reversal",
        msisdn=original.msisdn if original is not None else "",
        amount_minor=amount_minor,
        currency=state.config.currency,
        reference=original_receipt,
        created_at=state.now(),
        originator_id=call.originator_id,
        command="TransactionReversal",
        reverses=original_receipt,
    )
    state.add(tx, call.originator_id)
    plan = ReversalPlan(call, original_receipt, receiver_party)
    state.spawn(run_reversal(state, tx, plan), f"reversal-{tx.id}")
    return _acknowledge(call)
