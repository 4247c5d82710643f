"""Daraja's HTTP surface: the real paths, their checks and their synchronous answers.

One gateway function serves every non-``/sandbox/`` path, as Safaricom's API gateway
does: it applies the injected faults (latency, 5xx before anything happens, answer
withheld after the request was executed), answers unknown paths and wrong methods
with Daraja's codes, checks the bearer token with the code each API page documents
(doc §2), turns every :class:`~qmoi_sandbox.mpesa.wire.DarajaError` into the §3
envelope and never lets a traceback out (an unexpected error is a ``500.003.1001``).

Served (doc section):

* ``GET  /oauth/v1/generate?grant_type=client_credentials`` (§2)
* ``POST /mpesa/stkpush/v1/processrequest``, ``/mpesa/stkpushquery/v1/query`` (§5, §7)
* ``POST /mpesa/c2b/v1|v2/registerurl``, ``/mpesa/c2b/v1|v2/simulate`` (§8)
* ``POST /mpesa/b2c/v1|v3/paymentrequest`` (§9; v3 is current, v1 kept)
* ``POST /mpesa/accountbalance/v1/query`` (§10)
* ``POST /mpesa/transactionstatus/v1/query``, ``/mpesa/reversal/v1/request`` (§11)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import cast

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from qmoi_sandbox.mpesa import flows
from qmoi_sandbox.mpesa.crypto import check_stk_password
from qmoi_sandbox.mpesa.state import NAIROBI, C2BRegistration, MpesaState, Transaction
from qmoi_sandbox.mpesa.wire import (
    INVALID_TOKEN,
    DarajaError,
    Fields,
    error_response,
    invalid,
    read_json,
)

logger = logging.getLogger("qmoi_sandbox.mpesa")

Handler = Callable[[MpesaState, Request], Awaitable[Response]]

STK_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
B2C_COMMANDS = ("BusinessPayment", "SalaryPayment", "PromotionPayment")
IDENTIFIER_TYPES = ("1", "2", "4")
ACCEPTED = "Accept the service request successfully."


def _state(request: Request) -> MpesaState:
    return cast(MpesaState, request.app.state.mpesa)


def _fields(state: MpesaState, body: dict[str, object]) -> Fields:
    return Fields(body, enforce_url_rules=state.config.enforce_url_rules)


# -- OAuth ------------------------------------------------------------------------------


async def oauth_generate(state: MpesaState, request: Request) -> Response:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise DarajaError("400.008.01", "Invalid Authentication passed")
    if request.query_params.get("grant_type") != "client_credentials":
        raise DarajaError("400.008.02", "Invalid grant type passed")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise DarajaError("400.008.01", "Invalid Authentication passed") from exc
    key, _, secret = decoded.partition(":")
    good = hmac.compare_digest(key.encode(), state.config.consumer_key.encode())
    good &= hmac.compare_digest(secret.encode(), state.config.consumer_secret.encode())
    if not good:
        # Daraja's exact body for wrong credentials is unconfirmed (doc §2): the
        # documented envelope with the authentication code is the safest guess.
        raise DarajaError("400.008.01", "Invalid Authentication passed")
    token = state.issue_token()
    return JSONResponse({"access_token": token.value, "expires_in": str(state.config.token_ttl_s)})


# -- STK push and query -----------------------------------------------------------------


def _check_stk_credentials(state: MpesaState, shortcode: str, password: str, stamp: str) -> None:
    if shortcode != state.config.shortcode:
        raise DarajaError("500.001.1001", "Merchant does not exist")
    if not check_stk_password(password, shortcode, state.config.passkey, stamp):
        raise DarajaError("500.001.1001", "Wrong credentials")


async def stk_push(state: MpesaState, request: Request) -> Response:
    f = _fields(state, await read_json(request))
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
    plan = flows.plan_stk(
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
    state.spawn(flows.run_stk(state, tx, plan), f"stk-{tx.id}")
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
    f = _fields(state, await read_json(request))
    shortcode = f.digits("BusinessShortCode", 5, 7)
    password = f.text("Password", max_len=512)
    stamp = f.timestamp("Timestamp")
    checkout_id = f.text("CheckoutRequestID", max_len=64)
    _check_stk_credentials(state, shortcode, password, stamp)
    tx = state.find(checkout_id)
    if tx is None or tx.kind != "collection" or tx.id != checkout_id:
        raise invalid("CheckoutRequestID")
    if flows.still_processing(state, tx):
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
    f = _fields(state, await read_json(request))
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
    f = _fields(state, await read_json(request))
    shortcode = f.digits("ShortCode", 5, 7)
    command = f.choice("CommandID", STK_TYPES)
    amount_minor = f.amount("Amount", max_minor=state.config.stk_max_minor)
    msisdn = f.msisdn("Msisdn")
    bill_ref = f.text("BillRefNumber", max_len=20, optional=True)
    if shortcode not in state.config.shortcodes:
        raise invalid("ShortCode")
    flows.start_c2b(
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
    push answer and callback were both lost. (Unconfirmed: not in our provider notes;
    the shape follows Safaricom's public Pull Transactions API description, which also
    asks for a one-time registration this emulator does not require.)"""
    f = _fields(state, await read_json(request))
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


# -- initiator APIs ---------------------------------------------------------------------


def _acknowledge(call: flows.InitiatorCall) -> JSONResponse:
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
) -> flows.InitiatorCall:
    return flows.InitiatorCall(
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
    f = _fields(state, await read_json(request))
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
    plan = flows.B2CPlan(call, party_b, queue_timeout, executes)
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
    state.spawn(flows.run_b2c(state, tx, plan), f"b2c-{tx.id}")
    return _acknowledge(call)


def _initiator_fields(f: Fields, *, name_field: str, command: str) -> tuple[str, str]:
    initiator = f.text(name_field, max_len=100)
    credential = f.text("SecurityCredential", max_len=8192)
    f.choice("CommandID", (command,))
    return initiator, credential


async def account_balance(state: MpesaState, request: Request) -> Response:
    f = _fields(state, await read_json(request))
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
    state.spawn(flows.run_balance(state, call), f"balance-{call.conversation_id}")
    return _acknowledge(call)


async def transaction_status(state: MpesaState, request: Request) -> Response:
    f = _fields(state, await read_json(request))
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
        flows.run_status(state, call, transaction_id=transaction_id, original_id=original_id),
        f"status-{call.conversation_id}",
    )
    return _acknowledge(call)


async def reversal(state: MpesaState, request: Request) -> Response:
    f = _fields(state, await read_json(request))
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
    plan = flows.ReversalPlan(call, original_receipt, receiver_party)
    state.spawn(flows.run_reversal(state, tx, plan), f"reversal-{tx.id}")
    return _acknowledge(call)


# -- the gateway ------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    handler: Handler
    #: errorCode for a bad bearer token on this API (doc §2); None for OAuth itself
    token_error: str | None
    #: moves money (a push, a payout, a reversal): the ``timeout_after_accept`` fault
    #: applies, as it does to the Airtel emulator's writes; queries answer faithfully
    moves_money: bool = False


ROUTES: dict[str, Route] = {
    "/oauth/v1/generate": Route("GET", oauth_generate, None),
    "/mpesa/stkpush/v1/processrequest": Route("POST", stk_push, "404.001.03", True),
    "/mpesa/stkpushquery/v1/query": Route("POST", stk_query, "404.001.03"),
    "/pulltransactions/v1/query": Route("POST", pull_transactions, "404.001.03"),
    "/mpesa/c2b/v1/registerurl": Route("POST", c2b_register, "400.003.01"),
    "/mpesa/c2b/v2/registerurl": Route("POST", c2b_register, "400.003.01"),
    "/mpesa/c2b/v1/simulate": Route("POST", c2b_simulate, "400.003.01", True),
    "/mpesa/c2b/v2/simulate": Route("POST", c2b_simulate, "400.003.01", True),
    "/mpesa/b2c/v1/paymentrequest": Route(
        "POST", partial(b2c_payment, version=1), "404.001.03", True
    ),
    "/mpesa/b2c/v3/paymentrequest": Route(
        "POST", partial(b2c_payment, version=3), "404.001.03", True
    ),
    "/mpesa/accountbalance/v1/query": Route("POST", account_balance, "401.002.01"),
    "/mpesa/transactionstatus/v1/query": Route("POST", transaction_status, "400.003.01"),
    "/mpesa/reversal/v1/request": Route("POST", reversal, "404.001.03", True),
}

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _authorize(state: MpesaState, request: Request, token_error: str) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DarajaError("404.001.04", "Invalid Authentication Header")
    if not state.token_valid(token.strip()):
        raise DarajaError(token_error, INVALID_TOKEN)


def _sandbox_fallback(request: Request) -> Response:
    """Unmatched ``/sandbox/…`` requests: FastAPI's own 404 / 405 shapes."""
    for route in request.app.router.routes:
        if getattr(route, "endpoint", None) is gateway:
            continue
        match, _ = route.matches(request.scope)
        if match == Match.PARTIAL:
            return JSONResponse({"detail": "Method Not Allowed"}, status_code=405)
    return JSONResponse({"detail": "Not Found"}, status_code=404)


async def gateway(request: Request) -> Response:
    path = request.url.path
    if path == "/sandbox" or path.startswith("/sandbox/"):
        return _sandbox_fallback(request)
    state = _state(request)
    faults = state.faults.faults
    if faults.latency_ms:
        state.count_injected("latency")
        await asyncio.sleep(faults.latency_ms / 1000)
    route = ROUTES.get(path.rstrip("/") or "/")
    if route is None:
        return DarajaError("404.001.01", "Resource not found").response(state.request_id())
    if request.method != route.method:
        if route.method == "POST" and request.method == "GET":
            error = DarajaError("404.001.04", "Invalid Authentication Header")
        else:
            error = DarajaError("405.001", "Method Not Allowed")
        return error.response(state.request_id())
    if state.faults.roll("error"):
        if state.rng.random() < 0.5:
            error = DarajaError("500.003.02", "Spike Arrest Violation")
        else:
            error = DarajaError("500.003.1001", "Internal Server Error")
        return error.response(state.request_id())
    try:
        if route.token_error is not None:
            _authorize(state, request, route.token_error)
        response = await route.handler(state, request)
    except DarajaError as exc:
        response = exc.response(state.request_id())
    except ClientDisconnect:
        # the caller hung up (or was killed) before sending its whole body: nothing done
        logger.info("client went away during %s %s", request.method, path)
        return Response(status_code=499)
    except Exception:
        logger.exception("unexpected error answering %s %s", request.method, path)
        response = error_response("500.003.1001", "Internal Server Error", state.request_id())
    if route.moves_money and state.faults.roll("timeout_after_accept"):
        # The request has been executed; the caller never learns how it went.
        await asyncio.sleep(state.faults.faults.timeout_hold_s)
        return error_response("500.003.1001", "Gateway Timeout", state.request_id(), 504)
    return response
