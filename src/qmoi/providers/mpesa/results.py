"""Reading the results of our initiator queries: what a Transaction Status result says
of the transaction it asked about (§11.1), and the accounts of a balance result (§10).

A failed *query* says nothing about the transaction: it reads as UNKNOWN, never FAILED.
"""

from __future__ import annotations

from dataclasses import dataclass

from qmoi.domain.money import Money
from qmoi.providers.base import FailureReason, Outcome, ProviderStatus
from qmoi.providers.mpesa import translate, wire


def transaction_status_of(result: wire.ResultEnvelope) -> ProviderStatus:
    """The queried transaction's status from a Transaction Status result (§11.1).

    A non-zero ``ResultCode`` means the *query* failed, which says nothing about the
    transaction: UNKNOWN (reason ``authorization`` when our credentials were refused).
    """
    code = result.result_code or ""
    if code != wire.ACCEPTED:
        reason = (
            FailureReason.AUTHORIZATION if code in translate.QUERY_CREDENTIAL_FAILURES else None
        )
        return ProviderStatus(
            Outcome.UNKNOWN, code, result.result_desc or "status query failed", reason=reason
        )
    params = result.parameters
    state = params.get("TransactionStatus")
    state_text = state.strip() if isinstance(state, str) else ""
    meaning = translate.TRANSACTION_STATUSES.get(state_text.lower())
    if meaning is None:
        return ProviderStatus(
            Outcome.UNKNOWN, code, f"transaction status {state_text or 'missing'!r}"
        )
    if meaning.outcome is not Outcome.SUCCEEDED:
        return ProviderStatus(meaning.outcome, code, state_text, reason=meaning.reason)
    receipt = wire.optional_id(params, "ReceiptNo") or result.transaction_id
    return ProviderStatus(
        Outcome.SUCCEEDED,
        code,
        state_text,
        provider_reference=receipt,
        amount=translate.transaction_amount(params.get("Amount"), "Amount"),
        fee=translate.fee_from_charges(params.get("DebitPartyCharges")),
        completed_at=translate.any_time(params.get("FinalisedTime")),
    )


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """One account of a balance result, in money."""

    name: str
    available: Money
    amounts: tuple[Money, ...]


def balances_of(result: wire.ResultEnvelope) -> list[AccountBalance]:
    """The accounts of a successful Account Balance result (§10)."""
    value = result.parameters.get("AccountBalance")
    if not isinstance(value, str):
        raise wire.WireError("missing_field", "AccountBalance is missing")
    accounts = []
    for line in wire.read_account_balance(value):
        if line.currency != translate.CURRENCY:
            continue
        amounts = tuple(translate.balance_amount(a, line.name) for a in line.amounts if a)
        if amounts:
            accounts.append(AccountBalance(line.name, amounts[0], amounts))
    return accounts
