"""Daraja's paths, fixed values and the limits QMOI reads its bodies within."""

from __future__ import annotations

# --------------------------------------------------------------------------------------
# paths (§2, §5, §7, §8.1, §9, §10, §11)
# --------------------------------------------------------------------------------------

OAUTH_PATH = "/oauth/v1/generate"
STK_PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"
C2B_REGISTER_PATHS = {"v1": "/mpesa/c2b/v1/registerurl", "v2": "/mpesa/c2b/v2/registerurl"}
B2C_PATH = "/mpesa/b2c/v3/paymentrequest"
BALANCE_PATH = "/mpesa/accountbalance/v1/query"
STATUS_PATH = "/mpesa/transactionstatus/v1/query"
REVERSAL_PATH = "/mpesa/reversal/v1/request"
#: Pull Transactions (unconfirmed: not in our provider notes; see :func:`read_pull_page`)
PULL_PATH = "/pulltransactions/v1/query"
PULL_PAGE = 1000
#: a full page of statement lines is far longer than any other answer
PULL_ANSWER_BYTES = 2 * 1024 * 1024

# --------------------------------------------------------------------------------------
# fixed values
# --------------------------------------------------------------------------------------

TRANSACTION_TYPE_PAYBILL = "CustomerPayBillOnline"
TRANSACTION_TYPE_TILL = "CustomerBuyGoodsOnline"
COMMAND_B2C = "BusinessPayment"
COMMAND_BALANCE = "AccountBalance"
COMMAND_STATUS = "TransactionStatusQuery"
COMMAND_REVERSAL = "TransactionReversal"
IDENTIFIER_ORGANISATION = "4"  # organisation shortcode (§10, §11.1)
REVERSAL_RECEIVER_IDENTIFIER = "11"  # §11.2, daraja-sdk-py default
ACCEPTED = "0"  # ResponseCode of an accepted request / ResultCode of success
C2B_RESPONSE_TYPES = ("Completed", "Cancelled")

#: Callback bodies larger than this are refused unread (Daraja's are a few hundred bytes).
MAX_BODY_BYTES = 64 * 1024
#: Identifiers (CheckoutRequestID, TransID, conversation ids…) longer than this are refused.
MAX_ID_LENGTH = 128
#: Free text (descriptions, names, parameter values) longer than this is refused.
MAX_TEXT_LENGTH = 1024
