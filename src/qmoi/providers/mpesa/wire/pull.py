"""Pull Transactions: the shortcode's statement, page by page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qmoi.providers.mpesa.wire.constants import PULL_PAGE
from qmoi.providers.mpesa.wire.fields import (
    WireError,
    code_text,
    list_of_objects,
    required_id,
    scalar,
    text,
    value_of,
)

# --------------------------------------------------------------------------------------
# Pull Transactions — UNCONFIRMED: our provider notes do not describe this API; the shape
# follows Safaricom's public description of it. Both functions here and PULL_PATH are
# the only places to change when it is confirmed.
# --------------------------------------------------------------------------------------


def pull_query_payload(*, shortcode: str, start: str, end: str, offset: int) -> dict[str, Any]:
    """``StartDate`` / ``EndDate`` as ``YYYY-MM-DD HH:MM:SS`` in Nairobi time."""
    return {"ShortCode": shortcode, "StartDate": start, "EndDate": end, "OffSetValue": str(offset)}


@dataclass(frozen=True, slots=True)
class PulledPayment:
    """One completed customer payment to the shortcode, as the statement lists it."""

    transaction_id: str
    trx_date: str
    msisdn: str | None
    amount: str | int | Decimal
    bill_reference: str | None


def read_pull_page(data: Mapping[str, Any]) -> list[PulledPayment]:
    """``{"ResponseCode": "1000", "Response": [[{transactionId, trxDate, msisdn, amount,
    billreference, …}]]}``; any other ``ResponseCode`` is refused."""
    code = code_text(value_of(data, "ResponseCode", required=True), "ResponseCode")
    if code != "1000":
        raise WireError("not_success", f"ResponseCode {code}: {text(data, 'ResponseMessage')}")
    outer = data.get("Response") or []
    if not isinstance(outer, list):
        raise WireError("wrong_type", "Response is not a list")
    payments: list[PulledPayment] = []
    for page in outer:
        for line in list_of_objects(page, "Response[]", limit=PULL_PAGE):
            amount = scalar(value_of(line, "amount", required=True), "amount")
            if amount is None:  # pragma: no cover - value_of(required=True) never returns None
                raise WireError("missing_field", "amount is missing")
            number = scalar(line.get("msisdn"), "msisdn")
            payments.append(
                PulledPayment(
                    transaction_id=required_id(line, "transactionId"),
                    trx_date=text(line, "trxDate", required=True) or "",
                    msisdn=None if number is None else str(number),
                    amount=amount,
                    bill_reference=text(line, "billreference"),
                )
            )
    return payments
