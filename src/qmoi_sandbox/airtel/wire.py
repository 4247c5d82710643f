"""Airtel's wire format: response envelopes, code tables and request-field validation.

Every product answer is ``{"data": …, "status": {code, message, result_code,
response_code, success}}``, where ``status.code`` is a *string* that may differ
from the HTTP status, and the ``DP…`` / ``ESB…`` codes decide what happened. Gateway and
OAuth failures have flat shapes of their own (``status_code``/``status_message``;
``error``/``error_description``). This module builds those shapes and turns a bad
request into :class:`Reject`, which carries the exact answer Airtel would give, so no
malformed input ever reaches the engine or produces a 500.

What the emulator answers to malformed input:

===============================  =====  ===========  =========  ======================
problem                          HTTP   status.code  result     response_code
===============================  =====  ===========  =========  ======================
body is not JSON / not object     400   "400"        ESB000008  product "refused"
missing field                     200   "400"        ESB000008  product "refused"
field of the wrong type           200   "400"        ESB000008  product "refused"
MSISDN wrong length               200   "400"        ESB000033  product "refused"
                                                     (521002 on disbursements, as recorded)
MSISDN bad digits / leading 0     200   "400"        ESB000036  "refused" (DP00900001012)
amount <= 0 / too many decimals   200   "400"        ESB000008  DP00800001004 / DP00900001004
body country / currency differs   200   "400"        ESB000034 / ESB000035
===============================  =====  ===========  =========  ======================

The product "refused" codes are DP00800001008 (collections), DP00900001013
(disbursements), DP02100000000 (balance), DP02200000000 (KYC), DP02010001000 (keys).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from starlette.responses import JSONResponse

from qmoi_sandbox.airtel.state import CountryRules, exponent


class Product(Enum):
    COLLECTION = "collection"
    DISBURSEMENT = "disbursement"
    BALANCE = "balance"
    KYC = "kyc"
    KEYS = "keys"


REFUSED: dict[Product, str] = {
    Product.COLLECTION: "DP00800001008",
    Product.DISBURSEMENT: "DP00900001013",
    Product.BALANCE: "DP02100000000",
    Product.KYC: "DP02200000000",
    Product.KEYS: "DP02010001000",
}
# What a 5xx says: "ambiguous" for the money-moving products, "failed" for the others.
AMBIGUOUS: dict[Product, str] = REFUSED | {
    Product.COLLECTION: "DP00800001000",
    Product.DISBURSEMENT: "DP00900001000",
}
INVALID_AMOUNT: dict[Product, str] = {
    Product.COLLECTION: "DP00800001004",
    Product.DISBURSEMENT: "DP00900001004",
}
LIMIT_REACHED: dict[Product, str] = {
    Product.COLLECTION: "DP00800001003",
    Product.DISBURSEMENT: "DP00900001003",
}
NOT_FOUND: dict[Product, str] = {
    Product.COLLECTION: "DP00800001025",
    Product.DISBURSEMENT: "DP00900001015",
}
FORBIDDEN: dict[Product, str] = {
    Product.COLLECTION: "DP00800001026",
    Product.DISBURSEMENT: "DP00900001016",
}
DUPLICATE: dict[Product, str] = {
    # Collections have no DP008 duplicate code: ESB000041 carries the meaning.
    Product.COLLECTION: "DP00800001008",
    Product.DISBURSEMENT: "DP00900001017",
}

OK = "ESB000010"
FAILED = "ESB000011"
VALIDATION = "ESB000008"
SOMETHING_WRONG = "ESB000001"
MSISDN_LENGTH = "ESB000033"
COUNTRY_INVALID = "ESB000034"
CURRENCY_INVALID = "ESB000035"
MSISDN_FORMAT = "ESB000036"
DUPLICATE_ID = "ESB000041"
NO_TRANSACTION = "ESB000045"

MAX_AMOUNT_MINOR = 10**15  # far above any wallet; keeps absurd numbers out of int()

INVALID_TOKEN = {
    "error": "invalid_token",
    "error_description": "The access token is invalid or has expired",
}


def status_block(
    *, code: str, message: str, result_code: str, response_code: str, success: bool
) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "result_code": result_code,
        "response_code": response_code,
        "success": success,
    }


def envelope(status: dict[str, Any], data: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = data
    body["status"] = status
    return body


def ok(data: dict[str, Any], response_code: str, message: str = "SUCCESS") -> JSONResponse:
    status = status_block(
        code="200", message=message, result_code=OK, response_code=response_code, success=True
    )
    return JSONResponse(envelope(status, data))


class Reject(Exception):
    """A request Airtel refuses, with the exact answer it gives."""

    def __init__(self, http_status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.http_status = http_status
        self.body = body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.http_status)

    @classmethod
    def envelope(
        cls,
        product: Product,
        message: str,
        *,
        result_code: str = VALIDATION,
        response_code: str | None = None,
        code: str = "400",
        http_status: int = 200,
        data: dict[str, Any] | None = None,
    ) -> Reject:
        status = status_block(
            code=code,
            message=message,
            result_code=result_code,
            response_code=response_code or REFUSED[product],
            success=False,
        )
        return cls(http_status, envelope(status, data))

    @classmethod
    def flat(cls, http_status: int, status_code: str, message: str) -> Reject:
        return cls(http_status, {"status_code": status_code, "status_message": message})

    @classmethod
    def oauth(cls, http_status: int, error: str, description: str) -> Reject:
        return cls(http_status, {"error": error, "error_description": description})


# --- request bodies ------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """JSON with decimals kept exact (never floats: amounts are money).

    Raises ``ValueError`` for anything that is not JSON, including absurd nesting.
    """
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def json_object(raw: bytes, product: Product) -> dict[str, Any]:
    try:
        body = parse_json(raw)
    except ValueError:
        raise Reject.envelope(product, "Malformed JSON request body", http_status=400) from None
    if not isinstance(body, dict):
        raise Reject.envelope(product, "Request body must be a JSON object", http_status=400)
    return body


_MISSING = object()


def _lookup(body: dict[str, Any], path: str, product: Product) -> Any:
    node: Any = body
    walked: list[str] = []
    for part in path.split("."):
        if node is not _MISSING and not isinstance(node, dict):
            raise Reject.envelope(
                product, f"Field validation error: {'.'.join(walked)} must be an object"
            )
        node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
        walked.append(part)
        if node is _MISSING or node is None:
            return _MISSING
    return node


def string_field(
    body: dict[str, Any],
    path: str,
    product: Product,
    *,
    required: bool = True,
    max_length: int | None = None,
) -> str | None:
    value = _lookup(body, path, product)
    if value is _MISSING:
        if required:
            raise Reject.envelope(product, f"Missing header/body params: {path}")
        return None
    if not isinstance(value, str):
        raise Reject.envelope(product, f"Field validation error: {path} must be a string")
    if required and not value.strip():
        raise Reject.envelope(product, f"Missing header/body params: {path}")
    if max_length is not None and len(value) > max_length:
        raise Reject.envelope(
            product, f"Field validation error: {path} must be at most {max_length} characters"
        )
    return value


def required_string(
    body: dict[str, Any], path: str, product: Product, *, max_length: int | None = None
) -> str:
    value = string_field(body, path, product, max_length=max_length)
    if value is None:  # not reached: a required field is present or refused above
        raise Reject.envelope(product, f"Missing header/body params: {path}")
    return value


def amount_minor(body: dict[str, Any], path: str, product: Product, currency: str) -> int:
    """A JSON number > 0 with no more decimals than the currency has → integer minor units."""
    value = _lookup(body, path, product)
    if value is _MISSING:
        raise Reject.envelope(product, f"Missing header/body params: {path}")
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise Reject.envelope(product, f"Field validation error: {path} must be a number")
    invalid = Reject.envelope(
        product,
        "Invalid Amount: The amount must not be null or blank, should contain only numeric "
        "characters, be greater than zero, and have a limited number of decimal places",
        response_code=INVALID_AMOUNT[product],
    )
    try:
        minor = Decimal(value).scaleb(exponent(currency))
        if (
            not minor.is_finite()
            or minor <= 0
            or minor > MAX_AMOUNT_MINOR
            or minor != minor.to_integral_value()
        ):
            raise invalid
        return int(minor)
    except InvalidOperation:
        raise invalid from None


def check_msisdn(msisdn: str, rules: CountryRules, product: Product) -> None:
    """National number, digits only, no country code, no leading 0."""
    disbursement = product is Product.DISBURSEMENT
    if len(msisdn) != rules.national_length:
        raise Reject.envelope(
            product,
            f"Invalid Msisdn Length. Msisdn Length should be {rules.national_length}",
            result_code="521002" if disbursement else MSISDN_LENGTH,
        )
    leading_ok = msisdn[0] in rules.leading_digits if rules.leading_digits else msisdn[0] != "0"
    if not msisdn.isascii() or not msisdn.isdigit() or not leading_ok:
        raise Reject.envelope(
            product,
            "Invalid mobile number" if disbursement else "Invalid MSISDN",
            result_code=MSISDN_FORMAT,
            response_code="DP00900001012" if disbursement else None,
        )
