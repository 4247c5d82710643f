"""The rules the services apply, as plain data built from the settings by the bootstrap:
targets, chunks, owner numbers, time zone. Services never read settings themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from qmoi.domain.clock import business_day
from qmoi.domain.money import Money
from qmoi.domain.rates import Rate
from qmoi.domain.streams import StreamKey


@dataclass(frozen=True)
class ProviderPolicy:
    """One account's rules (the legacy accounts are named after their providers)."""

    name: str  # the account id: airtel, mpesa, airtel-ug…
    label: str  # the name people know it by ("Airtel Money"), as its connector says
    network: str  # the phonenumbers carrier name: Airtel | Safaricom
    currency: str
    owner_msisdn: str
    daily_target: Money
    chunk: Money
    growth_goal: Decimal
    #: a collection re-sent with the same reference cannot charge twice (as the
    #: connector's ``Capabilities`` say; a push that is not is never re-sent blind)
    idempotent_collect: bool
    #: the payout's result carries no fee: ask the provider for it afterwards (as the
    #: connector's ``Capabilities`` say)
    fee_by_enquiry: bool = False
    c2b_rules: tuple[tuple[str, StreamKey], ...] = ()
    c2b_default_stream: StreamKey = StreamKey.DIGITAL_PAYMENTS
    #: ISO 3166 country whose numbers the provider's customers have (Airtel's is set)
    country: str = "KE"
    #: the provider the account is at (airtel | mpesa); empty: the name is the provider
    kind: str = ""
    #: the account's own minimum guarantee and target rules; None: the policy's
    minimum: Money | None = None
    growth_mode: bool | None = None
    stream_targets: dict[StreamKey, Money] | None = None
    #: the account the original per-provider routes and metrics act on
    default: bool = True

    @property
    def provider(self) -> str:
        return self.kind or self.name


@dataclass(frozen=True)
class Policy:
    #: the enabled providers only: a disabled one is absent from every service
    providers: dict[str, ProviderPolicy]
    combined_target: Money
    minimum: Money
    growth_mode: bool
    tz: ZoneInfo
    sandbox: bool
    auto_transfer: bool = True
    fallback: bool = False
    stop_at_target: bool = True
    stream_targets: dict[StreamKey, Money] = field(default_factory=dict)
    #: a number in another network's range is refused; otherwise accepted and logged
    strict_network: bool = False
    #: how long a prompt may stay pending, and an unknown outcome unresolved, before the
    #: collection is expired (a later confirmation still books it)
    pending_expiry_s: float = 3600.0
    #: after this long, "no such transaction" from the provider means the prompt failed
    prompt_window_s: float = 600.0
    unknown_expiry_s: float = 86400.0
    #: how long after an unclear send "no such transaction" is believed (then the transfer
    #: is sent again under the same reference)
    not_found_grace_s: float = 120.0
    #: pause before re-trying an auto-transfer chunk the provider refused
    transfer_retry_s: float = 900.0

    #: simulated seconds per real second (the sandbox clock; 1 in live mode)
    speed: float = 1.0
    #: the currency totals are also shown in, and the owner's dated rates into it
    reporting_currency: str | None = None
    rates: dict[str, Rate] = field(default_factory=dict)

    def window(self, simulated_s: float, real_floor_s: float) -> float:
        """A waiting window in the clock's seconds, never shorter than ``real_floor_s`` of
        real time: on an accelerated sandbox clock an hour can pass while a killed
        worker's lease runs out, and a prompt must not be given up for that."""
        return max(simulated_s, real_floor_s * max(1.0, self.speed))

    def lease(self, real_seconds: float) -> timedelta:
        """A lease long enough for ``real_seconds`` of work, in the clock's time: at
        --speed 3600 a 60-second provider call spans an hour of simulated time."""
        return timedelta(seconds=real_seconds * max(1.0, self.speed))

    def day(self, instant: datetime) -> date:
        return business_day(instant, self.tz)

    def minimum_in(self, currency: str) -> Money:
        """The minimum guarantee for figures in ``currency``: it is one amount in one
        currency, so a provider that collects in another has none (zero) rather than a
        comparison across currencies."""
        return self.minimum if self.minimum.currency == currency else Money(0, currency)

    def minimum_of(self, account: str) -> Money:
        """The account's minimum guarantee, in its currency."""
        rules = self.providers[account]
        return rules.minimum if rules.minimum is not None else self.minimum_in(rules.currency)

    def growth_mode_of(self, account: str) -> bool:
        rules = self.providers[account]
        return self.growth_mode if rules.growth_mode is None else rules.growth_mode

    def stream_targets_of(self, account: str) -> dict[StreamKey, Money]:
        rules = self.providers[account]
        targets = self.stream_targets if rules.stream_targets is None else rules.stream_targets
        return {k: v for k, v in targets.items() if v.currency == rules.currency}

    def provider(self, name: str) -> ProviderPolicy:
        return self.providers[name]

    @property
    def kinds(self) -> list[str]:
        """The providers the accounts are at, in the accounts' order, each once."""
        return list(dict.fromkeys(r.provider for r in self.providers.values()))

    def accounts_of(self, provider: str) -> list[str]:
        """The ids of ``provider``'s accounts."""
        return [n for n, r in self.providers.items() if r.provider == provider]

    def default_account(self, provider: str) -> str | None:
        """The account of ``provider`` the original per-provider routes act on."""
        return next(
            (n for n, r in self.providers.items() if r.provider == provider and r.default), None
        )
