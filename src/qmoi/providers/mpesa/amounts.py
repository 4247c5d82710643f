"""Money in Daraja's bodies: whole shillings out, exact amounts in, never rounded.

Daraja moves whole Kenya shillings only (§5, §13.9): an amount with cents is refused
rather than rounded, and inbound amounts are read from exact text or ``Decimal`` into
integer cents inside :class:`Money`.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from qmoi.domain.errors import CurrencyMismatch, InvalidAmount
from qmoi.domain.money import Money

CURRENCY = "KES"

#: STK push limits (§5): whole shillings, 1 to 250,000 per transaction.
MIN_SHILLINGS = 1
MAX_SHILLINGS = 250_000
#: Inbound amounts above this are refused as nonsense (far above any M-Pesa limit).
MAX_INBOUND_SHILLINGS = 1_000_000_000


def to_shillings(amount: Money) -> int:
    """A Daraja ``Amount``: whole shillings as an integer (§5, §13.9). Refuses other
    currencies, cents (never rounded) and amounts outside 1–250,000."""
    if amount.currency != CURRENCY:
        raise CurrencyMismatch(f"M-Pesa moves {CURRENCY} only, not {amount.currency}")
    if amount.minor % 100:
        raise InvalidAmount(
            f"{amount} has cents; M-Pesa moves whole shillings only, and QMOI never rounds"
        )
    shillings = amount.minor // 100
    if not MIN_SHILLINGS <= shillings <= MAX_SHILLINGS:
        raise InvalidAmount(
            f"{amount} is outside M-Pesa's per-transaction range of "
            f"{MIN_SHILLINGS}–{MAX_SHILLINGS:,} shillings"
        )
    return shillings


_AMOUNT_TEXT = re.compile(r"^-?\d{1,15}(\.\d{1,6})?$")


class AmountError(ValueError):
    """An amount in a Daraja body that cannot be money; ``reason`` as for callbacks."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _decimal(value: str | int | Decimal | None, name: str) -> Decimal:
    if value is None:
        raise AmountError("missing_field", f"{name} is missing")
    if isinstance(value, bool):
        raise AmountError("invalid_amount", f"{name} is a boolean")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        cleaned = value.strip().replace(",", "")
        if not _AMOUNT_TEXT.match(cleaned):
            raise AmountError("invalid_amount", f"{name} {value!r} is not an amount")
        try:
            number = Decimal(cleaned)
        except InvalidOperation as exc:  # pragma: no cover - the pattern excludes this
            raise AmountError("invalid_amount", f"{name} is not an amount") from exc
    else:
        raise AmountError("invalid_amount", f"{name} has type {type(value).__name__}")
    if not number.is_finite() or abs(number) > MAX_INBOUND_SHILLINGS:
        raise AmountError("invalid_amount", f"{name} is not a plausible amount")
    return number


def transaction_amount(value: str | int | Decimal | None, name: str = "Amount") -> Money:
    """A transaction amount Daraja reports: positive whole shillings (``150``,
    ``150.00``, ``"150.00"``). Fractional shillings are refused, not rounded: Daraja
    moves whole shillings only (§5, §8.2, §13.9)."""
    number = _decimal(value, name)
    if number <= 0:
        raise AmountError("invalid_amount", f"{name} is not positive")
    if number != number.to_integral_value():
        raise AmountError("fractional_amount", f"{name} has fractional shillings")
    return Money(int(number) * 100, CURRENCY)


def balance_amount(value: str | int | Decimal | None, name: str = "balance") -> Money:
    """An account balance: may be negative (``Charges Paid Account``) and carry cents;
    more than two decimals is refused (never rounded)."""
    number = _decimal(value, name)
    cents = number * 100
    if cents != cents.to_integral_value():
        raise AmountError("invalid_amount", f"{name} has more than two decimals")
    return Money(int(cents), CURRENCY)


def fee_from_charges(value: str | int | Decimal | None) -> Money | None:
    """``DebitPartyCharges`` of a status result, e.g. ``Fee For B2C Payment|KES|22.40``
    (§9, unconfirmed as a reliable fee source); None when absent or unreadable."""
    if value is None:
        return None
    parts = [p.strip() for p in str(value).split("|")]
    candidate = parts[2] if len(parts) >= 3 and parts[1].upper() == CURRENCY else None
    if candidate is None:
        return None
    try:
        fee = balance_amount(candidate, "DebitPartyCharges")
    except AmountError:
        return None
    return fee if fee.minor >= 0 else None
