"""Request payloads QMOI sends to Daraja, field names (and misspellings) as Daraja
spells them."""

from __future__ import annotations

from typing import Any

from qmoi.providers.mpesa.wire.constants import (
    COMMAND_B2C,
    COMMAND_BALANCE,
    COMMAND_REVERSAL,
    COMMAND_STATUS,
    IDENTIFIER_ORGANISATION,
    REVERSAL_RECEIVER_IDENTIFIER,
)

# --------------------------------------------------------------------------------------
# request payloads
# --------------------------------------------------------------------------------------


def stk_push_payload(
    *,
    shortcode: str,
    password: str,
    timestamp: str,
    transaction_type: str,
    amount: int,
    msisdn: str,
    party_b: str,
    callback_url: str,
    account_reference: str,
    transaction_desc: str,
) -> dict[str, Any]:
    """M-Pesa Express request (§5); numbers as JSON numbers, as the doc sample sends them."""
    return {
        "BusinessShortCode": int(shortcode),
        "Password": password,
        "Timestamp": timestamp,
        "TransactionType": transaction_type,
        "Amount": amount,
        "PartyA": int(msisdn),
        "PartyB": int(party_b),
        "PhoneNumber": int(msisdn),
        "CallBackURL": callback_url,
        "AccountReference": account_reference,
        "TransactionDesc": transaction_desc,
    }


def stk_query_payload(
    *, shortcode: str, password: str, timestamp: str, checkout_request_id: str
) -> dict[str, Any]:
    return {
        "BusinessShortCode": shortcode,
        "Password": password,
        "Timestamp": timestamp,
        "CheckoutRequestID": checkout_request_id,
    }


def c2b_register_payload(
    *, shortcode: str, response_type: str, confirmation_url: str, validation_url: str
) -> dict[str, Any]:
    return {
        "ShortCode": shortcode,
        "ResponseType": response_type,
        "ConfirmationURL": confirmation_url,
        "ValidationURL": validation_url,
    }


def b2c_payload(
    *,
    originator_conversation_id: str,
    initiator_name: str,
    security_credential: str,
    amount: int,
    party_a: str,
    msisdn: str,
    remarks: str,
    result_url: str,
    timeout_url: str,
    occasion: str = "",
    command_id: str = COMMAND_B2C,
) -> dict[str, Any]:
    """B2C v3 (§9): ``OriginatorConversationID`` is ours and stable across retries."""
    return {
        "OriginatorConversationID": originator_conversation_id,
        "InitiatorName": initiator_name,
        "SecurityCredential": security_credential,
        "CommandID": command_id,
        "Amount": amount,
        "PartyA": int(party_a),
        "PartyB": int(msisdn),
        "Remarks": remarks,
        "QueueTimeOutURL": timeout_url,
        "ResultURL": result_url,
        "Occassion": occasion,  # sic: Daraja's spelling
    }


def balance_payload(
    *,
    initiator_name: str,
    security_credential: str,
    party_a: str,
    remarks: str,
    result_url: str,
    timeout_url: str,
) -> dict[str, Any]:
    return {
        "Initiator": initiator_name,
        "SecurityCredential": security_credential,
        "CommandID": COMMAND_BALANCE,
        "PartyA": int(party_a),
        "IdentifierType": IDENTIFIER_ORGANISATION,
        "Remarks": remarks,
        "QueueTimeOutURL": timeout_url,
        "ResultURL": result_url,
    }


def status_payload(
    *,
    initiator_name: str,
    security_credential: str,
    party_a: str,
    transaction_id: str | None,
    original_conversation_id: str | None,
    remarks: str,
    result_url: str,
    timeout_url: str,
) -> dict[str, Any]:
    """Transaction Status (§11.1): by receipt or by the original OriginatorConversationID;
    uses the correct spelling ``Occasion``."""
    payload: dict[str, Any] = {
        "Initiator": initiator_name,
        "SecurityCredential": security_credential,
        "CommandID": COMMAND_STATUS,
        "PartyA": int(party_a),
        "IdentifierType": IDENTIFIER_ORGANISATION,
        "ResultURL": result_url,
        "QueueTimeOutURL": timeout_url,
        "Remarks": remarks,
        "Occasion": "",
    }
    if transaction_id is not None:
        payload["TransactionID"] = transaction_id
    if original_conversation_id is not None:
        payload["OriginalConversationID"] = original_conversation_id
    return payload


def reversal_payload(
    *,
    initiator_name: str,
    security_credential: str,
    transaction_id: str,
    amount: int,
    receiver_party: str,
    remarks: str,
    result_url: str,
    timeout_url: str,
) -> dict[str, Any]:
    return {
        "Initiator": initiator_name,
        "SecurityCredential": security_credential,
        "CommandID": COMMAND_REVERSAL,
        "TransactionID": transaction_id,
        "Amount": amount,
        "ReceiverParty": int(receiver_party),
        "RecieverIdentifierType": REVERSAL_RECEIVER_IDENTIFIER,  # sic: Daraja's spelling
        "ResultURL": result_url,
        "QueueTimeOutURL": timeout_url,
        "Remarks": remarks,
    }
