"""Airtel's token, account balance, KYC user enquiry and encryption-keys paths."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qmoi_sandbox.airtel.checks import authorise, route_headers
from qmoi_sandbox.airtel.engine import AirtelEngine
from qmoi_sandbox.airtel.state import format_minor
from qmoi_sandbox.airtel.wire import Product, Reject, check_msisdn, ok, parse_json


async def token(request: Request, engine: AirtelEngine) -> Response:
    """The token: JSON body with client_id, client_secret, grant_type=client_credentials."""
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


async def balance(request: Request, engine: AirtelEngine) -> Response:
    """Balance: the wallet balance as a decimal *string*."""
    authorise(request, engine)
    wallet = route_headers(request, engine, Product.BALANCE).wallet
    data = {
        "balance": format_minor(wallet.balance_minor, wallet.currency),
        "currency": wallet.currency,
        "account_status": "Active",
    }
    return ok(data, "DP02100000001")


async def user_enquiry(request: Request, engine: AirtelEngine) -> Response:
    """User enquiry: KYC of a subscriber, by national MSISDN."""
    product = Product.KYC
    authorise(request, engine)
    market = route_headers(request, engine, product)
    msisdn = request.path_params["msisdn"]
    check_msisdn(msisdn, market.rules, product)
    customer = market.customers.get(msisdn)
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
    """Encryption keys: the emulator's RSA public key, base64 DER SubjectPublicKeyInfo."""
    authorise(request, engine)
    route_headers(request, engine, Product.KEYS)
    keys = engine.keys
    data = {
        "key_id": keys.key_id,
        "key": keys.public_der_b64(),
        "valid_upto": keys.valid_upto_text(),
    }
    return ok(data, "DP02010001001", message="Success")
