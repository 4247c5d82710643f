"""Airtel's answer and callback shapes as models: tolerant for answers (unknown fields
ignored, numbers accepted where text is documented, shapes vary by country and
version), strict for the callback, because it is untrusted input.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr, field_validator

# --------------------------------------------------------------------------------------
# answers from Airtel (tolerant)
# --------------------------------------------------------------------------------------

_TOLERANT = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class TokenAnswer(BaseModel):
    """§2 success: ``{"access_token", "expires_in": "180" | 180, "token_type"}``."""

    model_config = _TOLERANT

    access_token: str
    expires_in: int | None = None
    token_type: str | None = None

    @field_validator("expires_in", mode="before")
    @classmethod
    def _lifetime(cls, value: Any) -> int | None:
        if value is None or isinstance(value, bool):
            return None
        text = str(value).strip()
        if isinstance(value, Decimal):
            text = str(int(value)) if value == value.to_integral_value() else ""
        return int(text) if text.isdigit() and len(text) <= 9 else None


class OAuthError(BaseModel):
    """Gateway-style failure without a status block: ``{"error", "error_description"}``."""

    model_config = _TOLERANT

    error: str
    error_description: str | None = None


class RouterError(BaseModel):
    """Flat routing failure (§3 rule 4, §11.5): ``{"status_code": "ROUTER110", …}``."""

    model_config = _TOLERANT

    status_code: str
    status_message: str | None = None


class StatusBlock(BaseModel):
    """The ``status`` of every product answer (§3): decide on the codes, not ``success``."""

    model_config = _TOLERANT

    code: str | None = None
    message: str | None = None
    result_code: str | None = None
    response_code: str | None = None
    success: bool | None = None


class TransactionData(BaseModel):
    """``data.transaction`` of collection, refund, disbursement and enquiry answers."""

    model_config = _TOLERANT

    id: str | None = None
    status: str | None = None
    message: str | None = None
    airtel_money_id: str | None = None
    reference_id: str | None = None


class Envelope(BaseModel):
    """``{"data": …, "status": {…}}``; ``data`` kept loose, read per product."""

    model_config = _TOLERANT

    data: dict[str, Any] | None = None
    status: StatusBlock

    def transaction(self) -> TransactionData | None:
        raw = (self.data or {}).get("transaction")
        if not isinstance(raw, dict):
            return None
        return TransactionData.model_validate(raw)


class KeyData(BaseModel):
    """§4.1 ``data``: ``{"key_id", "key": base64 DER, "valid_upto": "DD-MM-YYYY HH:MM:SS"}``."""

    model_config = _TOLERANT

    key_id: str | None = None
    key: str
    valid_upto: str | None = None


class BalanceData(BaseModel):
    """§8 ``data``: ``{"balance": "230486.65", "currency", "account_status"}``."""

    model_config = _TOLERANT

    balance: str
    currency: str | None = None
    account_status: str | None = None


class Registration(BaseModel):
    model_config = _TOLERANT

    id: str | None = None
    status: str | None = None


class KycData(BaseModel):
    """§9 ``data``; both shapes seen: names/grade/registration, or
    user_name/is_airtel_money_user."""

    model_config = _TOLERANT

    msisdn: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    user_name: str | None = None
    grade: str | None = None
    is_barred: bool | None = None
    is_pin_set: bool | None = None
    is_airtel_money_user: bool | None = None
    registration: Registration | None = None
    reg_status: str | None = None

    @field_validator("is_barred", "is_pin_set", "is_airtel_money_user", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "y", "yes", "1"):
            return True
        if text in ("false", "n", "no", "0"):
            return False
        return None


# --------------------------------------------------------------------------------------
# the callback Airtel POSTs (strict: untrusted input)
# --------------------------------------------------------------------------------------

_STRICT = ConfigDict(extra="allow", frozen=True, strict=True)


class CallbackTransaction(BaseModel):
    """§6 ``transaction``: ``{id, message, status_code, airtel_money_id}``. Unknown fields
    are kept (``extra="allow"``) but never trusted; ``amount``/``msisdn`` are not part of
    the documented callback and are read separately if a variant carries them."""

    model_config = _STRICT

    id: StrictStr
    status_code: StrictStr
    message: StrictStr | None = None
    airtel_money_id: StrictStr | None = None


class CallbackBody(BaseModel):
    """§6 body: ``{"transaction": {…}}`` plus ``hash`` when callback auth is enabled."""

    model_config = _STRICT

    transaction: CallbackTransaction
    hash: StrictStr | None = None
