"""Daraja's wire format: paths, field names, request payloads and readers of its answers.

Follows ``docs/providers/mpesa.md`` (Daraja 3.0): OAuth ``/oauth/v1/generate``, M-Pesa
Express ``stkpush/v1`` and ``stkpushquery/v1``, C2B ``registerurl`` v1/v2, B2C ``v3``
(merchant ``OriginatorConversationID``), Account Balance, Transaction Status and
Reversal ``v1``. This is the only package that spells Daraja's field names, including
the misspellings that are part of the wire format (``Occassion``,
``RecieverIdentifierType``, ``OriginatorCoversationID``; §3).

:mod:`.constants` holds paths and fixed values, :mod:`.fields` decoding and field
readers, :mod:`.answers` the synchronous answers, :mod:`.bodies` the callback bodies,
:mod:`.payloads` our requests and :mod:`.pull` the statement; every name is re-exported
here, so callers say ``wire.X``.

Nothing here may log, hold secrets beyond the payload it builds, or decide what a code
means — that is :mod:`..translate`'s job.
"""

from __future__ import annotations

from qmoi.providers.mpesa.wire.answers import (
    ErrorEnvelope,
    InitiatorAck,
    RegisterAck,
    StkPushAck,
    StkQueryAnswer,
    TokenAnswer,
    read_error,
    read_initiator_ack,
    read_register_ack,
    read_stk_push_ack,
    read_stk_query,
    read_token,
)
from qmoi.providers.mpesa.wire.bodies import (
    BalanceLine,
    C2BNotification,
    ResultEnvelope,
    StkCallback,
    read_account_balance,
    read_c2b,
    read_result,
    read_stk_callback,
)
from qmoi.providers.mpesa.wire.constants import (
    ACCEPTED,
    B2C_PATH,
    BALANCE_PATH,
    C2B_REGISTER_PATHS,
    C2B_RESPONSE_TYPES,
    COMMAND_B2C,
    COMMAND_BALANCE,
    COMMAND_REVERSAL,
    COMMAND_STATUS,
    IDENTIFIER_ORGANISATION,
    MAX_BODY_BYTES,
    MAX_ID_LENGTH,
    MAX_TEXT_LENGTH,
    OAUTH_PATH,
    PULL_ANSWER_BYTES,
    PULL_PAGE,
    PULL_PATH,
    REVERSAL_PATH,
    REVERSAL_RECEIVER_IDENTIFIER,
    STATUS_PATH,
    STK_PUSH_PATH,
    STK_QUERY_PATH,
    TRANSACTION_TYPE_PAYBILL,
    TRANSACTION_TYPE_TILL,
)
from qmoi.providers.mpesa.wire.fields import (
    WireError,
    code_text,
    decode_json,
    digits,
    list_of_objects,
    named_values,
    object_of,
    optional_id,
    required_id,
    scalar,
    text,
    value_of,
)
from qmoi.providers.mpesa.wire.payloads import (
    b2c_payload,
    balance_payload,
    c2b_register_payload,
    reversal_payload,
    status_payload,
    stk_push_payload,
    stk_query_payload,
)
from qmoi.providers.mpesa.wire.pull import (
    PulledPayment,
    pull_query_payload,
    read_pull_page,
)

__all__ = [
    "ACCEPTED",
    "B2C_PATH",
    "BALANCE_PATH",
    "C2B_REGISTER_PATHS",
    "C2B_RESPONSE_TYPES",
    "COMMAND_B2C",
    "COMMAND_BALANCE",
    "COMMAND_REVERSAL",
    "COMMAND_STATUS",
    "IDENTIFIER_ORGANISATION",
    "MAX_BODY_BYTES",
    "MAX_ID_LENGTH",
    "MAX_TEXT_LENGTH",
    "OAUTH_PATH",
    "PULL_ANSWER_BYTES",
    "PULL_PAGE",
    "PULL_PATH",
    "REVERSAL_PATH",
    "REVERSAL_RECEIVER_IDENTIFIER",
    "STATUS_PATH",
    "STK_PUSH_PATH",
    "STK_QUERY_PATH",
    "TRANSACTION_TYPE_PAYBILL",
    "TRANSACTION_TYPE_TILL",
    "BalanceLine",
    "C2BNotification",
    "ErrorEnvelope",
    "InitiatorAck",
    "PulledPayment",
    "RegisterAck",
    "ResultEnvelope",
    "StkCallback",
    "StkPushAck",
    "StkQueryAnswer",
    "TokenAnswer",
    "WireError",
    "b2c_payload",
    "balance_payload",
    "c2b_register_payload",
    "code_text",
    "decode_json",
    "digits",
    "list_of_objects",
    "named_values",
    "object_of",
    "optional_id",
    "pull_query_payload",
    "read_account_balance",
    "read_c2b",
    "read_error",
    "read_initiator_ack",
    "read_pull_page",
    "read_register_ack",
    "read_result",
    "read_stk_callback",
    "read_stk_push_ack",
    "read_stk_query",
    "read_token",
    "required_id",
    "reversal_payload",
    "scalar",
    "status_payload",
    "stk_push_payload",
    "stk_query_payload",
    "text",
    "value_of",
]
