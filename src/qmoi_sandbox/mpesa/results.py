"""What Daraja's asynchronous answers share: the ``Result`` envelope and its texts, the
parties as results name them, the initiator call every initiator API carries, and
whether an enquiry still sees a transaction as in progress.

Every random choice is drawn when the request arrives (the ``plan_*`` helpers of
:mod:`.collect` and the plans of :mod:`.initiator`), so a seeded run is repeatable
whatever the interleaving of background tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qmoi_sandbox.mpesa.records import Transaction
from qmoi_sandbox.mpesa.state import MpesaState

#: ReferenceData of every initiator result, as in Daraja's samples.
REFERENCE_DATA = {
    "ReferenceItem": {
        "Key": "QueueTimeoutURL",
        "Value": "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit",
    }
}

SUCCESS_DESC = "The service request is processed successfully."

#: Initiator-API result codes and texts (B2C, balance, status and reversal).
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
    """The asynchronous ``Result`` envelope; a parameter whose value is None has no Value."""
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
    """Failed results carry a placeholder id like ``NLJ0000000``."""
    return receipt[:3] + "0000000"


def org_party(state: MpesaState) -> str:
    return f"{state.config.shortcode} - {state.config.organization_name}"


def customer_party(state: MpesaState, msisdn: str) -> str:
    return f"{msisdn} - {state.customers.get(msisdn).display_name}"


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


def send_result(
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


def check_initiator(state: MpesaState, call: InitiatorCall, party: str) -> str | None:
    code = state.check_initiator(call.initiator, call.credential)
    if code is not None:
        return str(code)
    if party not in state.config.shortcodes:
        return "21"
    return None


def send_queue_timeout(state: MpesaState, call: InitiatorCall) -> None:
    """The QueueTimeOutURL notice: a ``Result`` envelope without parameters."""
    body = result_body(
        code=QUEUE_TIMEOUT_CODE,
        desc=RESULT_TEXTS[str(QUEUE_TIMEOUT_CODE)],
        originator_id=call.originator_id,
        conversation_id=call.conversation_id,
        transaction_id=_placeholder_transaction_id(call.receipt),
    )
    state.sender.send(call.timeout_url, body, transaction_id=call.conversation_id)


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
