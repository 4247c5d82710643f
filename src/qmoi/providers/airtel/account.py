"""Airtel account reads: the collection wallet's balance (§8), KYC (§9) and a ping.

All are safe to repeat and retried; none moves money.
"""

from __future__ import annotations

from qmoi.domain.errors import InvalidAmount
from qmoi.domain.money import Money
from qmoi.providers.airtel import checks, wire
from qmoi.providers.airtel.answers import account_envelope, read_data
from qmoi.providers.airtel.session import PROVIDER, AirtelSession
from qmoi.providers.base import Balance, ProviderError, Subscriber


class Account:
    """Balance, user enquiry and the credentials check."""

    def __init__(self, session: AirtelSession) -> None:
        self._session = session

    async def ping(self) -> None:
        await self._session.fetch_token()

    async def balance(self) -> Balance:
        """The collection wallet's balance (§8; the disbursement wallet has no API)."""
        session = self._session
        operation = "balance"

        async def once() -> Balance:
            answer = await session.exchange(operation, "GET", wire.BALANCE_PATH, write=False)
            envelope = account_envelope(answer, operation)
            data = read_data(wire.BalanceData, envelope.data, operation, envelope)
            currency = (data.currency or session.currency).strip().upper()
            try:
                available = Money.parse(data.balance.strip(), currency, allow_negative=True)
            except InvalidAmount as exc:
                raise ProviderError(
                    PROVIDER, operation, f"unreadable balance: {exc}",
                    provider_code=envelope.status.response_code,
                ) from None  # fmt: skip
            return Balance(available=available, raw=dict(envelope.data or {}))

        return await session.retrying(once)

    async def user_enquiry(self, msisdn: str) -> Subscriber:
        """KYC (§9): name, barred flag and registration of an Airtel Money number."""
        session = self._session
        operation = "user_enquiry"
        national = checks.national(msisdn, session.country, operation, None)
        path = wire.USER_ENQUIRY_PATH.format(msisdn=national)

        async def once() -> Subscriber:
            answer = await session.exchange(operation, "GET", path, write=False)
            envelope = account_envelope(answer, operation)
            data = read_data(wire.KycData, envelope.data, operation, envelope)
            registered = data.is_airtel_money_user
            if registered is None:
                status = data.reg_status or (
                    data.registration.status if data.registration else None
                )
                registered = not (status and "UNREG" in status.upper())
            first, last = data.first_name, data.last_name
            if first is None and last is None and data.user_name:
                first, _, rest = data.user_name.partition(" ")
                last = rest or None
            return Subscriber(
                msisdn=wire.to_international(national, session.country),
                first_name=first,
                last_name=last,
                registered=registered,
                barred=bool(data.is_barred),
            )

        return await session.retrying(once)
