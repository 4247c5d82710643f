"""The settings QMOI runs with: one frozen model per section, parsed and checked before
anything uses them (:func:`qmoi.config.build.build_settings` makes them)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, SecretStr

from qmoi.domain.money import Money
from qmoi.domain.rates import Rate
from qmoi.domain.streams import StreamKey


class Environment(StrEnum):
    SANDBOX = "sandbox"  # QMOI's built-in emulator; simulated money only
    STAGING = "staging"  # the provider's own test environment (Airtel UAT, Daraja sandbox)
    PRODUCTION = "production"

    @property
    def is_live(self) -> bool:
        return self is not Environment.SANDBOX


class TargetMode(StrEnum):
    FIXED = "fixed"
    GROWTH = "growth"


_FROZEN = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class AirtelSettings(BaseModel):
    """Airtel Open API access and the owner's Airtel wallet."""

    model_config = _FROZEN

    environment: Environment
    client_id: str | None
    client_secret: SecretStr | None
    phone_number: str  # E.164 digits (2547…, 2567…), a mobile number of ``country``
    country: str  # ISO 3166: one Airtel Money serves (qmoi.providers.airtel.countries)
    currency: str  # ISO 4217: that country's
    pin: SecretStr | None
    public_key: str | None  # PEM or base64 DER; fetched from Airtel when absent
    base_url: str | None  # overrides the environment's host
    account_reference: str
    transaction_desc: str
    callback_url: str | None
    message_signing: bool
    callback_auth: bool
    callback_secret: SecretStr | None
    debug: bool
    #: false: QMOI has no Airtel at all (the other fields are then unchecked defaults)
    enabled: bool = True


class MpesaSettings(BaseModel):
    """Daraja access, the shortcode customers pay into and the owner's M-Pesa number."""

    model_config = _FROZEN

    environment: Environment
    consumer_key: SecretStr | None
    consumer_secret: SecretStr | None
    shortcode: str | None
    shortcode_type: Literal["paybill", "till"]
    till_number: str | None  # buy-goods till (PartyB) when it differs from the shortcode
    passkey: SecretStr | None
    initiator_name: str | None
    initiator_password: SecretStr | None
    certificate: str | None  # PEM text or a path to the certificate file
    phone_number: str  # 2547…/2541…, a Safaricom number
    base_url: str | None
    account_reference: str
    transaction_desc: str
    callback_allowlist: tuple[str, ...]
    callback_token: SecretStr | None  # the secret path segment of our callback URLs
    c2b_rules: tuple[tuple[str, StreamKey], ...]  # (account-reference prefix, stream)
    c2b_default_stream: StreamKey
    #: false: QMOI has no M-Pesa at all (the other fields are then unchecked defaults)
    enabled: bool = True


class TargetSettings(BaseModel):
    model_config = _FROZEN

    daily_airtel: Money
    daily_mpesa: Money
    combined: Money
    minimum: Money
    growth_airtel: Decimal
    growth_mpesa: Decimal
    mode: TargetMode
    stream_targets: tuple[tuple[StreamKey, Money], ...]  # overrides of the proportional split


class TransferSettings(BaseModel):
    model_config = _FROZEN

    enabled: bool
    chunk_airtel: Money
    chunk_mpesa: Money
    fallback: bool


class ReportingSettings(BaseModel):
    """A currency the totals are also shown in, at the owner's dated rates (never one
    fetched or invented); no currency: each currency on its own."""

    model_config = _FROZEN

    currency: str | None = None
    rates: tuple[Rate, ...] = ()


class NotifySettings(BaseModel):
    """Where the owner's notifications go; each channel is on when its address is set."""

    model_config = _FROZEN

    webhook_url: str | None
    webhook_secret: SecretStr | None
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: SecretStr | None
    smtp_starttls: bool
    email_from: str | None
    email_to: tuple[str, ...]
    sms_url: str
    sms_username: str | None
    sms_api_key: SecretStr | None
    sms_to: tuple[str, ...]
    sms_from: str | None


ProviderKind = Literal["airtel", "mpesa"]
Section = AirtelSettings | MpesaSettings


class AccountSettings(BaseModel):
    """One merchant account at one provider: the unit QMOI collects, books, targets and
    pays out on. ``id`` names it everywhere (ledger accounts, routes, chunk ids); the
    legacy accounts made from the ``AIRTEL_*`` / ``MPESA_*`` variables are ``airtel`` and
    ``mpesa``, the names every row written before accounts already carries."""

    model_config = _FROZEN

    id: str
    provider: ProviderKind
    #: the provider's connection (credentials, country, currency, owner's wallet number)
    section: Section
    daily_target: Money
    chunk: Money  # the auto-transfer chunk
    growth_goal: Decimal
    minimum: Money
    target_mode: TargetMode
    stream_targets: tuple[tuple[StreamKey, Money], ...]
    #: the provider's account the original ``/api/qmoi/revenue/{provider}`` routes act on
    default: bool = False

    @property
    def currency(self) -> str:
        return self.section.currency if isinstance(self.section, AirtelSettings) else "KES"

    @property
    def country(self) -> str:
        return self.section.country if isinstance(self.section, AirtelSettings) else "KE"

    @property
    def environment(self) -> Environment:
        return self.section.environment

    @property
    def airtel(self) -> AirtelSettings:
        if not isinstance(self.section, AirtelSettings):
            raise TypeError(f"account {self.id} is not an Airtel account")
        return self.section

    @property
    def mpesa(self) -> MpesaSettings:
        if not isinstance(self.section, MpesaSettings):
            raise TypeError(f"account {self.id} is not an M-Pesa account")
        return self.section


class Settings(BaseModel):
    """Everything QMOI needs to run, parsed and checked. Build with :func:`load_settings`."""

    model_config = _FROZEN

    #: the provider sections the variables give: the legacy accounts ``airtel`` and
    #: ``mpesa`` when the config file has no ``accounts`` list, the defaults each listed
    #: account starts from when it has one
    airtel: AirtelSettings
    mpesa: MpesaSettings
    targets: TargetSettings
    transfers: TransferSettings
    notify: NotifySettings
    timezone_name: str
    master_key: SecretStr | None
    secret_key: SecretStr | None
    database_url: str
    public_url: str | None
    debug: bool
    var_dir: Path
    log_dir: Path
    signing_key_file: Path
    sandbox_stop_at_target: bool
    #: a number in another network's range is refused, not warned about (ports aside)
    strict_network: bool = False
    #: the config file's ``accounts`` (enabled ones only); None: the legacy two
    listed_accounts: tuple[AccountSettings, ...] | None = None
    reporting: ReportingSettings = ReportingSettings()

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone_name)

    @property
    def accounts(self) -> tuple[AccountSettings, ...]:
        """The enabled accounts, each provider's default first: the listed ones, or the
        legacy ``airtel`` and ``mpesa`` made from the provider sections."""
        if self.listed_accounts is not None:
            return self.listed_accounts
        t, x = self.targets, self.transfers
        legacy = (
            ("airtel", self.airtel, t.daily_airtel, x.chunk_airtel, t.growth_airtel),
            ("mpesa", self.mpesa, t.daily_mpesa, x.chunk_mpesa, t.growth_mpesa),
        )
        return tuple(
            AccountSettings(
                id=name,
                provider="airtel" if name == "airtel" else "mpesa",
                section=section,
                daily_target=daily,
                chunk=chunk,
                growth_goal=growth,
                minimum=t.minimum,
                target_mode=t.mode,
                stream_targets=t.stream_targets,
                default=True,
            )
            for name, section, daily, chunk, growth in legacy
            if section.enabled
        )

    def account(self, account_id: str) -> AccountSettings:
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise KeyError(account_id)

    def with_section(self, account_id: str, section: Section) -> Settings:
        """These settings with one account's section replaced (its credentials and URL
        filled in by the sandbox, say); a legacy account's is its provider's section."""
        if self.listed_accounts is None:
            provider = self.account(account_id).provider
            return self.model_copy(update={provider: section})
        listed = tuple(
            a.model_copy(update={"section": section}) if a.id == account_id else a
            for a in self.listed_accounts
        )
        return self.model_copy(update={"listed_accounts": listed})

    def for_account(self, account: AccountSettings) -> Settings:
        """These settings as one account sees them: its section as its provider's (what
        its connector is built from)."""
        return self.model_copy(update={account.provider: account.section})

    def default_account(self, provider: str) -> AccountSettings | None:
        """The account the original per-provider routes and metrics act on."""
        return next((a for a in self.accounts if a.provider == provider and a.default), None)

    @property
    def enabled_providers(self) -> tuple[ProviderKind, ...]:
        """The providers QMOI collects on; one without an account is absent everywhere."""
        kinds = {a.provider for a in self.accounts}
        return tuple(p for p in ("airtel", "mpesa") if p in kinds)

    @property
    def sandbox(self) -> bool:
        """True when the accounts are on QMOI's emulators (simulated money only; they are
        all sandbox or all live)."""
        return all(a.environment is Environment.SANDBOX for a in self.accounts)
