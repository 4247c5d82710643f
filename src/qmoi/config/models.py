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


class Settings(BaseModel):
    """Everything QMOI needs to run, parsed and checked. Build with :func:`load_settings`."""

    model_config = _FROZEN

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

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone_name)

    @property
    def enabled_providers(self) -> tuple[Literal["airtel", "mpesa"], ...]:
        """The providers QMOI collects on; a disabled one is absent everywhere."""
        names: list[Literal["airtel", "mpesa"]] = []
        if self.airtel.enabled:
            names.append("airtel")
        if self.mpesa.enabled:
            names.append("mpesa")
        return tuple(names)

    @property
    def sandbox(self) -> bool:
        """True when the enabled providers are QMOI's emulators (simulated money only;
        they are all sandbox or all live)."""
        sections = [s for s in (self.airtel, self.mpesa) if s.enabled]
        return all(s.environment is Environment.SANDBOX for s in sections)
