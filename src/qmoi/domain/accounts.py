"""The chart of accounts: names, kinds, and which balances may never go below zero.

Sign convention: a posting's amount is positive for a debit and negative for a credit,
so every entry sums to zero and so does the whole ledger. Asset and expense accounts
normally carry positive (debit) balances; income, liability and equity accounts carry
negative (credit) ones.
"""

from __future__ import annotations

from enum import StrEnum

from qmoi.domain.streams import StreamKey


class AccountKind(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"


_KIND_BY_PREFIX = {
    "assets": AccountKind.ASSET,
    "liabilities": AccountKind.LIABILITY,
    "equity": AccountKind.EQUITY,
    "income": AccountKind.INCOME,
    "expenses": AccountKind.EXPENSE,
}

OWNER_DRAWINGS = "equity:owner_drawings"
SUSPENSE = "liabilities:suspense"


def wallet(provider: str) -> str:
    """Money in the provider wallet/shortcode that is free to transfer."""
    return f"assets:{provider}:wallet"


def in_transit(provider: str) -> str:
    """Money reserved for a transfer that has not settled or failed yet."""
    return f"assets:{provider}:in_transit"


def income(stream: StreamKey) -> str:
    return f"income:{stream.value}"


def fees(provider: str) -> str:
    return f"expenses:{provider}:fees"


def fees_payable(provider: str) -> str:
    """Fees a provider took from float our books did not hold."""
    return f"liabilities:{provider}:fees_payable"


def kind_of(account: str) -> AccountKind:
    prefix = account.split(":", 1)[0]
    try:
        return _KIND_BY_PREFIX[prefix]
    except KeyError:
        raise ValueError(f"{account!r} does not start with a known account kind") from None


def must_stay_non_negative(account: str) -> bool:
    """Wallet and in-transit balances are real money: they can never be below zero."""
    parts = account.split(":")
    return len(parts) == 3 and parts[0] == "assets" and parts[2] in ("wallet", "in_transit")
