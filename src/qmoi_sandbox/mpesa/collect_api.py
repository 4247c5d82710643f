"""Daraja's customer-payment paths: STK push and its query, C2B URL registration and
simulation, and Pull Transactions; each checks its request and answers at once, the
money moving later (:mod:`.collect`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qmoi_sandbox.mpesa.collect import plan_stk, run_stk, start_c2b
from qmoi_sandbox.mpesa.crypto import check_stk_password
from qmoi_sandbox.mpesa.records import NAIROBI, C2BRegistration, Transaction
from qmoi_sandbox.mpesa.results import still_processing
from qmoi_sandbox.mpesa.state import MpesaState
from qmoi_sandbox.mpesa.wire import (
    ACCEPTED,
    DarajaError,
    Fields,
    invalid,
    read_json,
    request_fields,
)

STK_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")


def _check_stk_credentials(state: MpesaState, shortcode: str, password: str, stamp: str) -> None:
    if shortcode != state.config.shortcode:
        raise DarajaError("500.001.1001", "Merchant does not exist")
    if not check_stk_password(password, shortcode, state.config.passkey, stamp):
        raise DarajaError("500.001.1001", "Wrong credentials")


async def stk_push(state: MpesaState, request: Request) -> Response:
    f = request_fields(state, await read_json(request))
    shortcode = f.digits("BusinessShortCode", 5, 7)
    password = f.text("Password", max_len=512)
    stamp = f.timestamp("Timestamp")
    transaction_type = f.choice("TransactionType", STK_TYPES)
    amount_minor = f.amount("Amount", max_minor=state.config.stk_max_minor)
    f.msisdn("PartyA")
    party_b = f.digits("PartyB", 5, 7)
    phone = f.msisdn("PhoneNumber")
    callback_url = f.url("CallBackURL")
    account_reference = f.text("AccountReference", max_len=12)
    f.text("TransactionDesc", max_len=13, optional=True)
    _check_stk_credentials(state, shortcode, password, stamp)
    if state.config.lock_subscriber and state.pending_prompt_for(phone) is not None:
        raise DarajaError(
            "500.001.1001",
            "Unable to lock subscriber, a transaction is already in process for the "
            "current subscriber",
        )
    if transaction_type == "CustomerPayBillOnline":
        party_b_ok = party_b == shortcode
    else:
        party_b_ok = party_b == (state.config.till_number or state.config.shortcode)
    plan = plan_stk(
        state,
        msisdn=phone,
        amount_minor=amount_minor,
        party_b_ok=party_b_ok,
        callback_url=callback_url,
    )
    tx = Transaction(
        id=state.checkout_request_id(),
        kind="collection",
        msisdn=phone,
        amount_minor=amount_minor,
        currency=state.config.currency,
        reference=account_reference,
        created_at=state.now(),
        originator_id=state.merchant_request_id(),
        command=transaction_type,
    )
    state.add(tx, tx.originator_id)
    state.spawn(run_stk(state, tx, plan), f"stk-{tx.id}")
    message = "Success. Request accepted for processing"
    return JSONResponse(
        {
            "MerchantRequestID": tx.originator_id,
            "CheckoutRequestID": tx.id,
            "ResponseCode": "0",
            "ResponseDescription": message,
            "CustomerMessage": message,
        }
    )


async def stk_query(state: MpesaState, request: Request) -> Response:
    f = request_fields(state, await read_json(request))
    shortcode = f.digits("BusinessShortCode", 5, 7)
    password = f.text("Password", max_len=512)
    stamp = f.timestamp("Timestamp")
    checkout_id = f.text("CheckoutRequestID", max_len=64)
    _check_stk_credentials(state, shortcode, password, stamp)
    tx = state.find(checkout_id)
    if tx is None or tx.kind != "collection" or tx.id != checkout_id:
        raise invalid("CheckoutRequestID")
    if still_processing(state, tx):
        raise DarajaError("500.001.1001", "The transaction is being processed")
    return JSONResponse(
        {
            "ResponseCode": "0",
            "ResponseDescription": "The service request has been accepted successfully",
            "MerchantRequestID": tx.originator_id,
            "CheckoutRequestID": tx.id,
            "ResultCode": tx.result_code,
            "ResultDesc": tx.result_text,
        }
    )


# -- C2B --------------------------------------------------------------------------------


async def c2b_register(state: MpesaState, request: Request) -> Response:
    f = request_fields(state, await read_json(request))
    shortcode = f.digits("ShortCode", 5, 7)
    response_type = f.choice("ResponseType", ("Completed", "Cancelled"))
    confirmation_url = f.url("ConfirmationURL")
    validation_url = f.url("ValidationURL")
    if shortcode not in state.config.shortcodes:
        raise invalid("ShortCode")
    if state.config.c2b_register_once and shortcode in state.c2b_urls:
        raise DarajaError("500.003.1001", "Urls are already registered")
    state.c2b_urls[shortcode] = C2BRegistration(
        shortcode, response_type, confirmation_url, validation_url
    )
    return JSONResponse(
        {
            "OriginatorCoversationID": state.merchant_request_id(),
            "ResponseCode": "0",
            "ResponseDescription": "success",
        }
    )


def is_till(state: MpesaState, shortcode: str) -> bool:
    till = state.config.till_number
    return till is not None and till != state.config.shortcode and shortcode == till


async def c2b_simulate(state: MpesaState, request: Request) -> Response:
    f = request_fields(state, await read_json(request))
    shortcode = f.digits("ShortCode", 5, 7)
    command = f.choice("CommandID", STK_TYPES)
    amount_minor = f.amount("Amount", max_minor=state.config.stk_max_minor)
    msisdn = f.msisdn("Msisdn")
    bill_ref = f.text("BillRefNumber", max_len=20, optional=True)
    if shortcode not in state.config.shortcodes:
        raise invalid("ShortCode")
    start_c2b(
        state,
        msisdn=msisdn,
        amount_minor=amount_minor,
        shortcode=shortcode,
        bill_ref_number=bill_ref,
        buy_goods=command == "CustomerBuyGoodsOnline",
    )
    return JSONResponse(
        {
            "OriginatorCoversationID": state.merchant_request_id(),
            "ResponseCode": "0",
            "ResponseDescription": ACCEPTED,
        }
    )


# -- Pull Transactions ------------------------------------------------------------------

#: the most lines one page holds (unconfirmed, like the whole API: see below)
PULL_PAGE = 1000


def _pull_time(f: Fields, name: str) -> datetime:
    text = f.text(name, max_len=32)
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=NAIROBI)
    except ValueError:
        raise invalid(name) from None


async def pull_transactions(state: MpesaState, request: Request) -> Response:
    """The shortcode's completed customer payments (STK and C2B) between two Nairobi
    times, ``PULL_PAGE`` a page from ``OffSetValue``: how a merchant finds a payment whose
    push answer and callback were both lost. (Unconfirmed: the shape follows Safaricom's
    public Pull Transactions API description, which also asks for a one-time
    registration this emulator does not require.)"""
    f = request_fields(state, await read_json(request))
    shortcode = f.digits("ShortCode", 5, 7)
    start, end = _pull_time(f, "StartDate"), _pull_time(f, "EndDate")
    offset = int(f.digits("OffSetValue", 1, 9))
    if shortcode not in state.config.shortcodes:
        raise invalid("ShortCode")
    if end < start:
        raise invalid("EndDate")
    paid = sorted(
        (
            tx
            for tx in state.transactions(status="succeeded")
            if tx.kind in ("collection", "c2b")
            and tx.completed_at is not None
            and start <= tx.completed_at <= end
        ),
        key=lambda tx: (tx.completed_at, tx.id),
    )
    lines = [
        {
            "transactionId": tx.provider_id,
            "trxDate": tx.completed_at.astimezone(NAIROBI).isoformat(timespec="seconds"),
            "msisdn": int(tx.msisdn),
            "sender": "UTILITY",
            "transactiontype": "c2b-pay-bill-debit",
            "billreference": tx.reference,
            "amount": str(Decimal(tx.amount_minor) / 100),
            "organizationname": state.config.organization_name,
        }
        for tx in paid[offset : offset + PULL_PAGE]
        if tx.completed_at is not None
    ]
    return JSONResponse(
        {
            "ResponseRefID": state.request_id(),
            "ResponseCode": "1000",
            "ResponseMessage": "Success",
            "Response": [lines],
        }
    )
