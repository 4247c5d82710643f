"""Daraja's synchronous wire rules: the error envelope and how request fields are read.

Every synchronous failure is answered with Daraja's error envelope
(``{"requestId", "errorCode", "errorMessage"}``) and the HTTP status that prefixes
its code (``400.002.02`` → 400, ``500.001.1001`` → 500). Field rules follow Daraja's:
numbers may arrive as JSON numbers or numeric strings, amounts are whole
shillings, a missing or malformed field is
``400.002.02 Bad Request - Invalid <Field>``, malformed JSON is ``400.002.05``, and a
request without a JSON content type has its body ignored, which yields the
misleading "Invalid BusinessShortCode"-style error the Daraja FAQ warns about.
Callback URLs obey Daraja's URL rules, including the forbidden words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

from qmoi_sandbox.mpesa.customers import is_msisdn
from qmoi_sandbox.mpesa.records import NAIROBI
from qmoi_sandbox.mpesa.state import MpesaState

#: Words Daraja refuses anywhere in a callback URL, in any case.
FORBIDDEN_URL_WORDS = ("mpesa", "m-pesa", "safaricom", "exe", "exec", "cmd", "sql", "query")

INVALID_TOKEN = "Invalid Access Token"  # noqa: S105 - an error message, not a secret
#: the ResponseDescription of every accepted asynchronous request
ACCEPTED = "Accept the service request successfully."


class DarajaError(Exception):
    """A synchronous Daraja error: becomes the error envelope with the code's HTTP status."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else http_status(code)

    def response(self, request_id: str) -> JSONResponse:
        return error_response(self.code, self.message, request_id, self.status)


def http_status(code: str) -> int:
    head = code.split(".", 1)[0]
    return int(head) if head.isdigit() and 400 <= int(head) <= 599 else 500


def error_response(
    code: str, message: str, request_id: str, status: int | None = None
) -> JSONResponse:
    return JSONResponse(
        {"requestId": request_id, "errorCode": code, "errorMessage": message},
        status_code=status if status is not None else http_status(code),
    )


def invalid(field: str) -> DarajaError:
    return DarajaError("400.002.02", f"Bad Request - Invalid {field}")


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON object in the body; ``{}`` when the content type is not JSON."""
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type.lower():
        return {}
    raw = await request.body()
    try:
        body = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise DarajaError("400.002.05", "Invalid request payload") from exc
    if not isinstance(body, dict):
        raise DarajaError("400.002.05", "Invalid request payload")
    return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def url_is_acceptable(url: str, *, enforce_rules: bool) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    lowered = url.lower()
    return not (enforce_rules and any(word in lowered for word in FORBIDDEN_URL_WORDS))


class Fields:
    """Reads one request body field by field, raising Daraja's error for the first bad one."""

    def __init__(self, body: dict[str, Any], *, enforce_url_rules: bool = True) -> None:
        self._body = body
        self._enforce_url_rules = enforce_url_rules

    def raw(self, name: str) -> Any:
        return self._body.get(name)

    def present(self, name: str) -> bool:
        value = self._body.get(name)
        return value is not None and value != ""

    def digits(self, name: str, min_len: int = 1, max_len: int = 20) -> str:
        """A number sent as a JSON integer or a numeric string, returned as its digits."""
        value = _as_digits(self._body.get(name))
        if value is None or not min_len <= len(value) <= max_len:
            raise invalid(name)
        return value

    def msisdn(self, name: str) -> str:
        value = _as_digits(self._body.get(name))
        if value is None or not is_msisdn(value):
            raise invalid(name)
        return value

    def amount(self, name: str, *, max_minor: int | None = None) -> int:
        """Whole shillings, at least 1 (decimals are refused), returned in minor units."""
        minor = parse_whole_amount(self._body.get(name))
        if minor is None or (max_minor is not None and minor > max_minor):
            raise invalid(name)
        return minor

    def text(self, name: str, *, max_len: int, min_len: int = 1, optional: bool = False) -> str:
        value = self._body.get(name)
        if value is None and optional:
            return ""
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise invalid(name)
        if optional and value == "":
            return ""
        if not min_len <= len(value) <= max_len:
            raise invalid(name)
        return value

    def choice(self, name: str, options: Iterable[str]) -> str:
        value = self._body.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or value not in set(options):
            raise invalid(name)
        return value

    def url(self, name: str) -> str:
        value = self._body.get(name)
        if not isinstance(value, str) or len(value) > 2048:
            raise invalid(name)
        if not url_is_acceptable(value, enforce_rules=self._enforce_url_rules):
            raise invalid(name)
        return value

    def timestamp(self, name: str) -> str:
        value = _as_digits(self._body.get(name))
        if value is None or not re.fullmatch(r"\d{14}", value):
            raise invalid(name)
        try:
            datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
        except ValueError as exc:
            raise invalid(name) from exc
        return value


def _as_digits(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, Decimal):
        if not value.is_finite() or value.adjusted() > 20:
            return None
        if value != value.to_integral_value() or value < 0:
            return None
        return str(int(value))
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    return None


#: No M-Pesa amount comes near this; anything above is refused as a malformed amount.
_AMOUNT_SANITY_LIMIT = 10**10


def parse_whole_amount(value: Any) -> int | None:
    """Whole shillings ≥ 1 as a JSON number or numeric string → minor units, else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    if not number.is_finite() or number != number.to_integral_value():
        return None
    if not 1 <= number <= _AMOUNT_SANITY_LIMIT:
        return None
    return int(number) * 100


def request_fields(state: MpesaState, body: dict[str, object]) -> Fields:
    """A request body's fields, read under the emulator's callback URL rules."""
    return Fields(body, enforce_url_rules=state.config.enforce_url_rules)
