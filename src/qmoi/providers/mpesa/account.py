"""M-Pesa account reads: Account Balance (§10), the subscriber lookup Daraja lacks, and
a ping. None moves money; the balance answers by callback (:mod:`.initiator`).
"""

from __future__ import annotations

from typing import Any

from qmoi.domain.msisdn import normalise_msisdn
from qmoi.providers.base import (
    AuthenticationFailed,
    Balance,
    CallbackKind,
    OutcomeUnknown,
    Rejected,
    Subscriber,
)
from qmoi.providers.mpesa import results, routes, translate, wire
from qmoi.providers.mpesa.initiator import send_and_wait
from qmoi.providers.mpesa.session import PROVIDER, MpesaSession
from qmoi.providers.mpesa.translate import mask_msisdn


class Account:
    """Balance of our shortcode, the (missing) KYC lookup and the credentials check."""

    def __init__(self, session: MpesaSession, balance_account: str | None) -> None:
        self._session = session
        self._balance_account = balance_account

    async def ping(self) -> None:
        await self._session.retrying(self._session.fetch_token)

    async def balance(self) -> Balance:
        """Account Balance of our shortcode; ``available`` is the first amount of the
        Utility account (paybill) or Merchant account (till), else the Working account.
        :class:`OutcomeUnknown` when no result arrives in time."""
        session = self._session
        operation = "account_balance"
        shortcode = session.shortcode()

        def build(name: str, credential: str, result_url: str, timeout_url: str) -> dict[str, Any]:
            return wire.balance_payload(
                initiator_name=name,
                security_credential=credential,
                party_a=shortcode,
                remarks="balance",
                result_url=result_url,
                timeout_url=timeout_url,
            )

        delivered = await send_and_wait(
            session, operation, wire.BALANCE_PATH, build,
            (routes.BALANCE_RESULT_PATH, routes.BALANCE_TIMEOUT_PATH), safe=True,
        )  # fmt: skip
        if delivered is None:
            raise OutcomeUnknown(
                PROVIDER, operation, f"no balance result within {session.result_timeout_s:g} s"
            )
        kind, data = delivered
        if kind is CallbackKind.DISBURSEMENT_TIMEOUT:
            raise OutcomeUnknown(PROVIDER, operation, "balance query timed out in M-Pesa's queue")
        try:
            result = wire.read_result(data)
            code = result.result_code or ""
            if code != wire.ACCEPTED:
                error = (
                    AuthenticationFailed
                    if code in translate.QUERY_CREDENTIAL_FAILURES
                    else Rejected
                )
                raise error(PROVIDER, operation, result.result_desc, provider_code=code)
            accounts = results.balances_of(result)
        except (wire.WireError, translate.AmountError) as exc:
            raise OutcomeUnknown(PROVIDER, operation, f"unreadable balance: {exc}") from None
        if not accounts:
            raise OutcomeUnknown(PROVIDER, operation, "the balance result lists no KES account")
        chosen = self._pick_account(accounts)
        raw = {
            "account": chosen.name,
            "accounts": [
                {"name": a.name, "amounts": [str(m.to_decimal()) for m in a.amounts]}
                for a in accounts
            ],
            "completed_at": str(result.parameters.get("BOCompletedTime") or ""),
        }
        return Balance(chosen.available, raw)

    def _pick_account(self, accounts: list[results.AccountBalance]) -> results.AccountBalance:
        preferred = [self._balance_account] if self._balance_account else []
        till = self._session.settings.shortcode_type == "till"
        preferred += ["Merchant Account"] if till else ["Utility Account"]
        preferred.append("Working Account")
        by_name = {a.name.strip().lower(): a for a in accounts}
        for name in preferred:
            if name and name.strip().lower() in by_name:
                return by_name[name.strip().lower()]
        return accounts[0]

    async def user_enquiry(self, msisdn: str) -> Subscriber:
        """Daraja has no subscriber (KYC) lookup, so this always raises :class:`Rejected`:
        "not a valid Safaricom number" when the number is not one, otherwise "no lookup
        exists" — registration and names cannot be known before a payment."""
        # strict: a KYC answer is about the number's own range, ports aside
        normalised, problem = normalise_msisdn(msisdn, "KE", "Safaricom", strict=True)
        if problem is not None:
            raise Rejected(
                PROVIDER, "user_enquiry", f"{mask_msisdn(msisdn.strip())} is not a valid "
                f"Safaricom number: {problem}",
            )  # fmt: skip
        raise Rejected(
            PROVIDER, "user_enquiry", f"{mask_msisdn(normalised)} is a valid Safaricom number, "
            "but Daraja offers no subscriber lookup: registration and names cannot be checked",
        )  # fmt: skip
