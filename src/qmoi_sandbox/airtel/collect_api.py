"""Airtel collections: the USSD push (v1/v2), its enquiry, and refunds."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from qmoi_sandbox.airtel.checks import (
    authorise,
    check_signature,
    enquiry_answer,
    refusal,
    route_headers,
    same_as,
    transaction_id,
    within_limit,
)
from qmoi_sandbox.airtel.engine import AirtelEngine, Refused
from qmoi_sandbox.airtel.state import AirtelStatus
from qmoi_sandbox.airtel.wire import (
    COUNTRY_INVALID,
    CURRENCY_INVALID,
    NO_TRANSACTION,
    NOT_FOUND,
    Product,
    Reject,
    amount_minor,
    check_msisdn,
    json_object,
    ok,
    required_string,
)


async def ussd_push(request: Request, engine: AirtelEngine, *, version: int) -> Response:
    """USSD push: accept the prompt; the subscriber answers later (callback / enquiry)."""
    product = Product.COLLECTION
    authorise(request, engine)
    market = route_headers(request, engine, product)
    raw = await request.body()
    required = version == 2 and engine.config.signing_required
    check_signature(request, engine, raw, product, required=required)
    body = json_object(raw, product)
    reference = required_string(body, "reference", product, max_length=64)
    msisdn = required_string(body, "subscriber.msisdn", product)
    check_msisdn(msisdn, market.rules, product)
    for scope in ("subscriber", "transaction"):
        same_as(body, f"{scope}.country", market.country, product, COUNTRY_INVALID, "Country Name")
        same_as(body, f"{scope}.currency", market.currency, product, CURRENCY_INVALID, "Currency")
    amount = amount_minor(body, "transaction.amount", product, market.currency)
    txn_id = transaction_id(body, product)
    within_limit(engine, amount, product)
    try:
        engine.start_collection(
            txn_id=txn_id,
            msisdn=msisdn,
            amount_minor=amount,
            reference=reference,
            country=market.country,
        )
    except Refused as refused:
        raise refusal(product, refused) from None
    return ok({"transaction": {"id": txn_id, "status": "SUCCESS"}}, "DP00800001006")


_COLLECTION_ENQUIRY_CODES: dict[AirtelStatus, str] = {
    "TS": "DP00800001001",
    "TIP": "DP00800001006",
    "TA": "DP00800001000",
}


async def collection_enquiry(request: Request, engine: AirtelEngine) -> Response:
    """Collection enquiry: the verdict is ``data.transaction.status`` (TS / TF / TA / TIP)."""
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
    return enquiry_answer(engine, txn, _COLLECTION_ENQUIRY_CODES)


async def refund(request: Request, engine: AirtelEngine) -> Response:
    """Refund: the whole of a successful collection, by its airtel_money_id."""
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
        raise refusal(product, refused) from None
    return ok(
        {"transaction": {"airtel_money_id": txn.provider_id, "status": "SUCCESS"}}, "DP00800001006"
    )
