"""The checks every Airtel provider request goes through, in Airtel's order (bearer token,
routing headers, message signature, shared field rules), and the enquiry answer that
collections and disbursements share."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qmoi_sandbox.airtel import faults as airtel_faults
from qmoi_sandbox.airtel.engine import AirtelEngine, Market, Refused
from qmoi_sandbox.airtel.state import AirtelStatus, Transaction, valid_country_code
from qmoi_sandbox.airtel.wire import (
    COUNTRY_INVALID,
    CURRENCY_INVALID,
    FAILED,
    FORBIDDEN,
    INVALID_TOKEN,
    LIMIT_REACHED,
    Product,
    Reject,
    ok,
    required_string,
    string_field,
)

_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


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


def route_headers(request: Request, engine: AirtelEngine, product: Product) -> Market:
    """The served country the request is for; a country not served is an unknown
    partner (Airtel routes by country first), a currency not that country's is invalid."""
    config = engine.config
    country = request.headers.get("x-country", "").strip()
    if not country:
        raise Reject.flat(400, "ROUTER110", f"Partner {config.client_id} not found")
    if not valid_country_code(country):
        raise Reject.envelope(
            product, "Invalid Country Code", result_code=COUNTRY_INVALID, http_status=400
        )
    if country not in engine.markets:
        raise Reject.flat(400, "ROUTER110", f"Partner {config.client_id} not found")
    market = engine.market(country)
    currency = request.headers.get("x-currency")
    if currency is None:
        raise Reject.envelope(
            product, "Missing request header 'X-Currency' for method parameter of type String"
        )
    if currency.strip() != market.currency:
        raise Reject.envelope(product, "Invalid/Missing Currency", result_code=CURRENCY_INVALID)
    return market


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


def same_as(
    body: dict[str, Any], path: str, expected: str, product: Product, result: str, what: str
) -> None:
    value = string_field(body, path, product, required=False)
    if value is not None and value != expected:
        raise Reject.envelope(product, f"Invalid {what}: {path}", result_code=result)


def transaction_id(body: dict[str, Any], product: Product) -> str:
    txn_id = required_string(body, "transaction.id", product)
    if not _ID_RE.match(txn_id):
        raise Reject.envelope(
            product,
            "Field validation error: transaction.id must be 1-64 characters of "
            "letters, digits, '.', '_' or '-'",
        )
    return txn_id


def within_limit(engine: AirtelEngine, amount: int, product: Product) -> None:
    limit = engine.config.max_transaction_minor
    if limit is not None and amount > limit:
        raise Reject.envelope(
            product,
            f"Maximum transaction limit reached: at most {engine.money(limit)}",
            result_code=FAILED,
            response_code=LIMIT_REACHED[product],
        )


def refusal(product: Product, refused: Refused) -> Reject:
    return Reject.envelope(
        product,
        refused.message,
        result_code=refused.result_code,
        response_code=refused.response_code,
        code=refused.code,
    )


_ENQUIRY_TEXT: dict[AirtelStatus, str] = {
    "TS": "success",
    "TIP": "Transaction in progress",
    "TA": "Transaction is ambiguous, please enquire again later",
    "TF": "failed",
}


def enquiry_answer(
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
