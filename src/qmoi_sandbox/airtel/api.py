"""Airtel Open API paths as the emulator serves them (doc §2–§9), on one loopback port.

Every provider request goes through the same steps, in Airtel's order:

1. fault preamble: added latency, then an injected 5xx *before anything is done*;
2. bearer token (401 ``invalid_token`` when missing, 403 when unknown or expired);
3. routing headers: ``X-Country`` (missing or not the app's country → HTTP 400
   ``ROUTER110`` flat shape; malformed → HTTP 400 envelope "Invalid Country Code") and
   ``X-Currency`` (missing → HTTP 200 ``ESB000008``; empty or wrong → HTTP 200
   "Invalid/Missing Currency");
4. message signature when ``x-signature``/``x-key`` are sent (always verified) or
   required (v2 writes with signing switched on) → HTTP 403 ``DP00800001026`` /
   ``DP00900001016`` on mismatch;
5. body and field validation (see ``wire``), PIN decryption for disbursements;
6. the engine acts; on writes the ``timeout_after_accept`` fault may then withhold the
   answer.

Business refusals come back as HTTP 200 with ``status.code`` "400" and
``success: false`` — the normal Airtel pattern — so clients must read the body.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qmoi_sandbox.airtel import faults as airtel_faults
from qmoi_sandbox.airtel.engine import AirtelEngine, Refused
from qmoi_sandbox.airtel.state import AirtelStatus, Transaction, format_minor, valid_country_code
from qmoi_sandbox.airtel.wire import (
    COUNTRY_INVALID,
    CURRENCY_INVALID,
    FAILED,
    FORBIDDEN,
    INVALID_TOKEN,
    LIMIT_REACHED,
    NO_TRANSACTION,
    NOT_FOUND,
    VALIDATION,
    Product,
    Reject,
    amount_minor,
    check_msisdn,
    envelope,
    json_object,
    ok,
    parse_json,
    required_string,
    status_block,
    string_field,
)

Handler = Callable[[Request, AirtelEngine], Awaitable[Response]]

_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
WALLET_TYPES = ("NORMAL", "SALARY")
TRANSACTION_TYPES = ("B2C", "B2B")


def engine_of(request: Request) -> AirtelEngine:
    engine: AirtelEngine = request.app.state.sandbox
    return engine


def _endpoint(
    handler: Handler, product: Product | None, *, write: bool
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        engine = engine_of(request)
        await airtel_faults.add_latency(engine.faults)
        failure = airtel_faults.server_error(engine.faults, product)
        if failure is not None:
            return failure
        try:
            response = await handler(request, engine)
        except Reject as reject:
            return reject.response()
        if write:
            withheld = await airtel_faults.withhold_answer(engine.faults, request)
            if withheld is not None:
                return withheld
        return response

    return endpoint


# --- common checks ---------------------------------------------------------------------


def authorise(request: Request, engine: AirtelEngine) -> None:
    header = request.headers.get("authorization", "")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise Reject(401, dict(INVALID_TOKEN))
    token = parts[1]
    if not engine.state.token_valid(token, engine.clock.now()):
        raise Reject(403, dict(INVALID_TOKEN))
    if airtel_faults.token_expires_early(engine.faults):
        engine.state.revoke_token(token)
        raise Reject(403, dict(INVALID_TOKEN))


def route_headers(request: Request, engine: AirtelEngine, product: Product) -> None:
    config = engine.config
    country = request.headers.get("x-country", "").strip()
    if not country:
        raise Reject.flat(400, "ROUTER110", f"Partner {config.client_id} not found")
    if not valid_country_code(country):
        raise Reject.envelope(
            product, "Invalid Country Code", result_code=COUNTRY_INVALID, http_status=400
        )
    if country != config.country:
        raise Reject.flat(400, "ROUTER110", f"Partner {config.client_id} not found")
    currency = request.headers.get("x-currency")
    if currency is None:
        raise Reject.envelope(
            product, "Missing request header 'X-Currency' for method parameter of type String"
        )
    if currency.strip() != config.currency:
        raise Reject.envelope(product, "Invalid/Missing Currency", result_code=CURRENCY_INVALID)


def check_signature(
    request: Request, engine: AirtelEngine, raw: bytes, product: Product, *, required: bool
) -> None:
    signature = request.headers.get("x-signature")
    key = request.headers.get("x-key")
    if signature is None and key is None and not required:
        return
    if signature is None or key is None:
        message = "Forbidden: x-signature and x-key headers are required"
    elif engine.keys.signature_matches(raw, signature, key):
        return
    else:
        message = "Forbidden: X-signature and payload did not match."
    raise Reject.envelope(
        product,
        message,
        result_code=FAILED,
        response_code=FORBIDDEN[product],
        code="403",
        http_status=403,
    )


def _same(
    body: dict[str, Any], path: str, expected: str, product: Product, result: str, what: str
) -> None:
    value = string_field(body, path, product, required=False)
    if value is not None and value != expected:
        raise Reject.envelope(product, f"Invalid {what}: {path}", result_code=result)


def _transaction_id(body: dict[str, Any], product: Product) -> str:
    txn_id = required_string(body, "transaction.id", product)
    if not _ID_RE.match(txn_id):
        raise Reject.envelope(
            product,
            "Field validation error: transaction.id must be 1-64 characters of "
            "letters, digits, '.', '_' or '-'",
        )
    return txn_id


def _within_limit(engine: AirtelEngine, amount: int, product: Product) -> None:
    limit = engine.config.max_transaction_minor
    if limit is not None and amount > limit:
        raise Reject.envelope(
            product,
            f"Maximum transaction limit reached: at most {engine.money(limit)}",
            result_code=FAILED,
            response_code=LIMIT_REACHED[product],
        )


def _refused(product: Product, refused: Refused) -> Reject:
    return Reject.envelope(
        product,
        refused.message,
        result_code=refused.result_code,
        response_code=refused.response_code,
        code=refused.code,
    )


# --- token ------------------------------------------------------------------------------


async def token(request: Request, engine: AirtelEngine) -> Response:
    """Doc §2: JSON body with client_id, client_secret, grant_type=client_credentials."""
    try:
        body = parse_json(await request.body())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Reject.oauth(400, "invalid_request", "The request body must be a JSON object")
    client_id, secret = body.get("client_id"), body.get("client_secret")
    config = engine.config
    if not (
        isinstance(client_id, str)
        and isinstance(secret, str)
        and hmac.compare_digest(client_id.encode(), config.client_id.encode())
        and hmac.compare_digest(secret.encode(), config.client_secret.encode())
    ):
        raise Reject.oauth(400, "invalid_client", "Invalid client authentication")
    if body.get("grant_type") != "client_credentials":
        raise Reject.oauth(400, "unsupported_grant_type", "grant_type must be client_credentials")
    access_token = engine.state.issue_token(engine.clock.now())
    return JSONResponse(
        {
            "access_token": access_token,
            "expires_in": str(config.token_ttl_s),
            "token_type": "bearer",
        }
    )


# --- collections ------------------------------------------------------------------------


async def ussd_push(request: Request, engine: AirtelEngine, *, version: int) -> Response:
    """Doc §5.1: accept the prompt; the subscriber answers later (callback / enquiry)."""
    product = Product.COLLECTION
    authorise(request, engine)
    route_headers(request, engine, product)
    raw = await request.body()
    required = version == 2 and engine.config.signing_required
    check_signature(request, engine, raw, product, required=required)
    body = json_object(raw, product)
    config = engine.config
    reference = required_string(body, "reference", product, max_length=64)
    msisdn = required_string(body, "subscriber.msisdn", product)
    check_msisdn(msisdn, config.rules, product)
    for scope in ("subscriber", "transaction"):
        _same(body, f"{scope}.country", config.country, product, COUNTRY_INVALID, "Country Name")
        _same(body, f"{scope}.currency", config.currency, product, CURRENCY_INVALID, "Currency")
    amount = amount_minor(body, "transaction.amount", product, config.currency)
    txn_id = _transaction_id(body, product)
    _within_limit(engine, amount, product)
    try:
        engine.start_collection(
            txn_id=txn_id, msisdn=msisdn, amount_minor=amount, reference=reference
        )
    except Refused as refused:
        raise _refused(product, refused) from None
    return ok({"transaction": {"id": txn_id, "status": "SUCCESS"}}, "DP00800001006")


_ENQUIRY_TEXT: dict[AirtelStatus, str] = {
    "TS": "success",
    "TIP": "Transaction in progress",
    "TA": "Transaction is ambiguous, please enquire again later",
    "TF": "failed",
}


def _enquiry_answer(
    engine: AirtelEngine, txn: Transaction, codes: dict[AirtelStatus, str]
) -> Response:
    shown = airtel_faults.enquiry_status(engine.faults, txn, engine.clock.now())
    transaction: dict[str, Any] = {}
    if shown == "TS" and txn.provider_id:
        transaction["airtel_money_id"] = txn.provider_id
    transaction["id"] = txn.id
    transaction["message"] = txn.message if shown == "TF" else _ENQUIRY_TEXT[shown]
    transaction["status"] = shown
    response_code = txn.result_code if shown == "TF" else codes[shown]
    return ok({"transaction": transaction}, response_code)


_COLLECTION_ENQUIRY_CODES: dict[AirtelStatus, str] = {
    "TS": "DP00800001001",
    "TIP": "DP00800001006",
    "TA": "DP00800001000",
}


async def collection_enquiry(request: Request, engine: AirtelEngine) -> Response:
    """Doc §5.2: the verdict is ``data.transaction.status`` (TS / TF / TA / TIP)."""
    product = Product.COLLECTION
    authorise(request, engine)
    route_headers(request, engine, product)
    txn = engine.state.get("collection", request.path_params["transaction_id"])
    if txn is None:
        raise Reject.envelope(
            product,
            "Transaction Not Found",
            result_code=NO_TRANSACTION,
            response_code=NOT_FOUND[product],
            code="404",
        )
    return _enquiry_answer(engine, txn, _COLLECTION_ENQUIRY_CODES)


async def refund(request: Request, engine: AirtelEngine) -> Response:
    """Doc §5.3: full refund of a successful collection, by its airtel_money_id."""
    product = Product.COLLECTION
    authorise(request, engine)
    route_headers(request, engine, product)
    raw = await request.body()
    check_signature(request, engine, raw, product, required=False)
    body = json_object(raw, product)
    money_id = required_string(body, "transaction.airtel_money_id", product)
    try:
        txn = engine.refund(money_id)
    except Refused as refused:
        raise _refused(product, refused) from None
    return ok(
        {"transaction": {"airtel_money_id": txn.provider_id, "status": "SUCCESS"}}, "DP00800001006"
    )


# --- disbursements ----------------------------------------------------------------------


async def disbursement(request: Request, engine: AirtelEngine, *, version: int) -> Response:
    """Doc §7: PIN checked by decryption; executed at once; final TS or TF."""
    product = Product.DISBURSEMENT
    config = engine.config
    authorise(request, engine)
    route_headers(request, engine, product)
    raw = await request.body()
    required = version == 2 and config.signing_required
    check_signature(request, engine, raw, product, required=required)
    body = json_object(raw, product)
    msisdn = required_string(body, "payee.msisdn", product)
    check_msisdn(msisdn, config.rules, product)
    reference = required_string(body, "reference", product, max_length=64)
    pin = required_string(body, "pin", product)
    amount = amount_minor(body, "transaction.amount", product, config.currency)
    txn_id = _transaction_id(body, product)
    payee_name: str | None = None
    if version == 2:
        _same(body, "payee.currency", config.currency, product, CURRENCY_INVALID, "Currency")
        payee_name = string_field(body, "payee.name", product, required=False)
        wallet_type = string_field(body, "payee.wallet_type", product, required=False)
        if wallet_type is not None and wallet_type not in WALLET_TYPES:
            raise Reject.envelope(product, f"Invalid wallet type: {wallet_type}")
        txn_type = string_field(body, "transaction.type", product, required=False)
        if txn_type is not None and txn_type not in TRANSACTION_TYPES:
            raise Reject.envelope(product, f"Invalid transaction type: {txn_type}")
        if txn_type == "B2B":
            raise Reject.envelope(
                product,
                "Refused: B2B needs a merchant wallet; the payee is a subscriber (use B2C)",
                result_code=FAILED,
            )
    if not engine.keys.pin_matches(pin, config.pin):
        raise Reject.envelope(product, "Incorrect Encrypted Pin", result_code=FAILED)
    _within_limit(engine, amount, product)
    try:
        txn = engine.disburse(
            txn_id=txn_id,
            msisdn=msisdn,
            amount_minor=amount,
            reference=reference,
            payee_name=payee_name,
        )
    except Refused as refused:
        raise _refused(product, refused) from None
    if txn.status != "succeeded":
        status = status_block(
            code="400",
            message=txn.message,
            result_code=FAILED,
            response_code=txn.result_code,
            success=False,
        )
        return JSONResponse(envelope(status, {"transaction": {"id": txn.id, "status": "TF"}}))
    data = {
        "transaction": {
            "reference_id": txn.reference_id,
            "airtel_money_id": txn.provider_id,
            "id": txn.id,
            "status": "TS",
        }
    }
    return ok(data, "DP00900001001", message=txn.message)


_DISBURSEMENT_ENQUIRY_CODES: dict[AirtelStatus, str] = {
    "TS": "DP00900001001",
    "TIP": "DP00900001006",
    "TA": "DP00900001000",
}


async def disbursement_enquiry(request: Request, engine: AirtelEngine) -> Response:
    """Doc §7: ``{id, airtel_money_id, message, status}``; v2 takes ``transactionType``."""
    product = Product.DISBURSEMENT
    authorise(request, engine)
    route_headers(request, engine, product)
    txn_type = request.query_params.get("transactionType")
    if txn_type is not None and txn_type not in TRANSACTION_TYPES:
        raise Reject.envelope(
            product, f"Invalid transactionType: {txn_type}", result_code=VALIDATION
        )
    txn = engine.state.get("disbursement", request.path_params["transaction_id"])
    if txn is None:
        raise Reject.envelope(
            product,
            "Transaction Not Found",
            result_code=NO_TRANSACTION,
            response_code=NOT_FOUND[product],
            code="404",
        )
    return _enquiry_answer(engine, txn, _DISBURSEMENT_ENQUIRY_CODES)


# --- account, KYC, keys -----------------------------------------------------------------


async def balance(request: Request, engine: AirtelEngine) -> Response:
    """Doc §8: the wallet balance as a decimal *string*."""
    authorise(request, engine)
    route_headers(request, engine, Product.BALANCE)
    state = engine.state
    data = {
        "balance": format_minor(state.balance_minor, state.currency),
        "currency": state.currency,
        "account_status": "Active",
    }
    return ok(data, "DP02100000001")


async def user_enquiry(request: Request, engine: AirtelEngine) -> Response:
    """Doc §9: KYC of a subscriber, by national MSISDN."""
    product = Product.KYC
    authorise(request, engine)
    route_headers(request, engine, product)
    msisdn = request.path_params["msisdn"]
    check_msisdn(msisdn, engine.config.rules, product)
    customer = engine.customers.get(msisdn)
    data = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "msisdn": customer.msisdn,
        "grade": "SUBS",
        "is_barred": False,
        "is_pin_set": True,
        "registration": {"id": customer.registered_id, "status": "SUBS"},
        "reg_status": "SUBS",
        "registered_id": customer.registered_id,
    }
    return ok(data, "DP02200000001")


async def encryption_keys(request: Request, engine: AirtelEngine) -> Response:
    """Doc §4.1: the emulator's RSA public key, base64 DER SubjectPublicKeyInfo."""
    authorise(request, engine)
    route_headers(request, engine, Product.KEYS)
    keys = engine.keys
    data = {
        "key_id": keys.key_id,
        "key": keys.public_der_b64(),
        "valid_upto": keys.valid_upto_text(),
    }
    return ok(data, "DP02010001001", message="Success")


# --- routing table ----------------------------------------------------------------------


def provider_router() -> APIRouter:
    router = APIRouter()

    def add(
        paths: tuple[str, ...],
        method: str,
        handler: Handler,
        product: Product | None,
        *,
        write: bool = False,
    ) -> None:
        endpoint = _endpoint(handler, product, write=write)
        for path in paths:
            router.add_api_route(
                path,
                endpoint,
                methods=[method],
                response_model=None,
                include_in_schema=False,
            )

    def both(path: str) -> tuple[str, str]:
        # Every sample has the trailing slash; accept it both ways (doc §5.1).
        return (path, path.rstrip("/")) if path.endswith("/") else (path, path + "/")

    collection, disburse = Product.COLLECTION, Product.DISBURSEMENT
    add(both("/auth/oauth2/token"), "POST", token, None)
    add(both("/v1/rsa/encryption-keys"), "GET", encryption_keys, Product.KEYS)
    add(
        both("/merchant/v1/payments/"),
        "POST",
        partial(ussd_push, version=1),
        collection,
        write=True,
    )
    add(
        both("/merchant/v2/payments/"),
        "POST",
        partial(ussd_push, version=2),
        collection,
        write=True,
    )
    add(both("/standard/v1/payments/refund"), "POST", refund, collection, write=True)
    add(("/standard/v1/payments/{transaction_id}",), "GET", collection_enquiry, collection)
    add(
        both("/standard/v1/disbursements/"),
        "POST",
        partial(disbursement, version=1),
        disburse,
        write=True,
    )
    add(
        both("/standard/v2/disbursements/"),
        "POST",
        partial(disbursement, version=2),
        disburse,
        write=True,
    )
    for version in ("v1", "v2"):
        add(
            (f"/standard/{version}/disbursements/{{transaction_id}}",),
            "GET",
            disbursement_enquiry,
            disburse,
        )
        add(both(f"/standard/{version}/users/balance"), "GET", balance, Product.BALANCE)
    add(("/standard/v1/users/{msisdn}",), "GET", user_enquiry, Product.KYC)
    return router
