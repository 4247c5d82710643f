"""Airtel disbursements (v1/v2, the PIN checked by decryption) and their enquiries."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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
    CURRENCY_INVALID,
    FAILED,
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
    required_string,
    status_block,
    string_field,
)

WALLET_TYPES = ("NORMAL", "SALARY")
TRANSACTION_TYPES = ("B2C", "B2B")


async def disbursement(request: Request, engine: AirtelEngine, *, version: int) -> Response:
    """A disbursement: PIN checked by decryption; executed at once; final TS or TF."""
    product = Product.DISBURSEMENT
    config = engine.config
    authorise(request, engine)
    market = route_headers(request, engine, product)
    raw = await request.body()
    required = version == 2 and config.signing_required
    check_signature(request, engine, raw, product, required=required)
    body = json_object(raw, product)
    msisdn = required_string(body, "payee.msisdn", product)
    check_msisdn(msisdn, market.rules, product)
    reference = required_string(body, "reference", product, max_length=64)
    pin = required_string(body, "pin", product)
    amount = amount_minor(body, "transaction.amount", product, market.currency)
    txn_id = transaction_id(body, product)
    payee_name: str | None = None
    if version == 2:
        same_as(body, "payee.currency", market.currency, product, CURRENCY_INVALID, "Currency")
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
    within_limit(engine, amount, product)
    try:
        txn = engine.disburse(
            txn_id=txn_id,
            msisdn=msisdn,
            amount_minor=amount,
            reference=reference,
            payee_name=payee_name,
            country=market.country,
        )
    except Refused as refused:
        raise refusal(product, refused) from None
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
    """Its enquiry: ``{id, airtel_money_id, message, status}``; v2 takes ``transactionType``."""
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
    return enquiry_answer(engine, txn, _DISBURSEMENT_ENQUIRY_CODES)
