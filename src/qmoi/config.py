"""QMOI's settings: read, corrected where safe, checked, and grouped per provider.

Values come from (highest first) environment variables, a ``.env`` file, and an optional
JSON config file in MISSION.md's shape (``{"airtel": {"clientId": …}, "mpesa": {…}}``).
Every raw value is read as text by pydantic-settings, then each is parsed by its own
function so that a problem is reported as ``VARIABLE: what is wrong — how to fix it``.
Safe corrections (local phone formats, stray spaces, trailing slashes, driver names in
database URLs) are applied and reported; risky choices are warned about.

Secrets are ``SecretStr`` and are never part of a message.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import carrier
from pydantic import BaseModel, ConfigDict, SecretStr, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from qmoi.domain.errors import InvalidAmount
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey
from qmoi.errors import ConfigError


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
    phone_number: str  # 2547…, an Airtel Kenya number
    country: str
    currency: str
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

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone_name)

    @property
    def sandbox(self) -> bool:
        """True when both providers are QMOI's emulators (simulated money only)."""
        return self.airtel.environment is Environment.SANDBOX


# --------------------------------------------------------------------------------------
# raw values
# --------------------------------------------------------------------------------------

#: Every variable QMOI reads, with its default (None: unset) and a one-line meaning.
VARIABLES: dict[str, tuple[str | None, str]] = {
    "AIRTEL_ENVIRONMENT": (None, "sandbox (built-in emulator), staging (UAT) or production"),
    "AIRTEL_CLIENT_ID": (None, "client id of the Airtel Open API app"),
    "AIRTEL_CLIENT_SECRET": (None, "client secret of the Airtel Open API app (secret)"),
    "AIRTEL_PHONE_NUMBER": (None, "owner's Airtel Money number; auto-transfers go there"),
    "AIRTEL_COUNTRY": ("KE", "X-Country: ISO country of the merchant"),
    "AIRTEL_CURRENCY": ("KES", "X-Currency: ISO currency of the wallet"),
    "AIRTEL_PIN": (None, "4-digit disbursement PIN of the merchant wallet (secret)"),
    "AIRTEL_PUBLIC_KEY": (None, "Airtel's RSA public key (PEM, base64 DER, or a file path)"),
    "AIRTEL_BASE_URL": (None, "override the API host (country hosts, proxies)"),
    "AIRTEL_ACCOUNT_REFERENCE": ("QMOI_AIRTEL", "reference shown on collection prompts"),
    "AIRTEL_TRANSACTION_DESC": ("QMOI Airtel Revenue", "description of collections"),
    "AIRTEL_CALLBACK_URL": (None, "callback URL registered with Airtel (default: public URL)"),
    "AIRTEL_MESSAGE_SIGNING": ("false", "sign write calls with x-signature / x-key"),
    "AIRTEL_CALLBACK_AUTH": ("false", "require the HMAC hash on Airtel callbacks"),
    "AIRTEL_CALLBACK_SECRET": (None, "key of the Airtel callback hash (secret)"),
    "DEBUG_AIRTEL": ("false", "write Airtel debug detail to logs/airtel_debug.log"),
    "MPESA_ENVIRONMENT": (None, "sandbox (built-in emulator), staging (Daraja) or production"),
    "MPESA_CONSUMER_KEY": (None, "consumer key of the Daraja app (secret)"),
    "MPESA_CONSUMER_SECRET": (None, "consumer secret of the Daraja app (secret)"),
    "MPESA_SHORTCODE": (None, "paybill or till shortcode customers pay into"),
    "MPESA_SHORTCODE_TYPE": ("paybill", "paybill (CustomerPayBillOnline) or till (buy goods)"),
    "MPESA_TILL_NUMBER": (None, "buy-goods till number when it differs from the shortcode"),
    "MPESA_PASSKEY": (None, "Lipa na M-Pesa Online passkey (secret)"),
    "MPESA_INITIATOR_NAME": (None, "API operator (initiator) for B2C, status, balance"),
    "MPESA_INITIATOR_PASSWORD": (None, "initiator password (secret)"),
    "MPESA_CERTIFICATE": (None, "Safaricom certificate (PEM or file path) for the credential"),
    "MPESA_PHONE_NUMBER": (None, "owner's M-Pesa number; auto-transfers go there"),
    "MPESA_BASE_URL": (None, "override the Daraja host"),
    "MPESA_ACCOUNT_REFERENCE": ("QMOI_MPESA", "account reference on STK prompts (≤ 12 chars)"),
    "MPESA_TRANSACTION_DESC": ("QMOI Revenue", "description of STK collections (≤ 13 chars)"),
    "MPESA_CONFIRM_CALLBACKS": (None, "retired: every M-Pesa callback is confirmed by a query"),
    "MPESA_CALLBACK_ALLOWLIST": ("", "comma-separated source addresses/networks for callbacks"),
    "MPESA_CALLBACK_TOKEN": (None, "secret path segment of M-Pesa callback URLs"),
    "MPESA_C2B_RULES": (
        "AIR=airtime_sales,DATA=data_packages,BILL=utility_payments",
        "account-reference prefix → stream, comma-separated",
    ),
    "MPESA_C2B_DEFAULT_STREAM": ("digital_payments", "stream of C2B payments no rule matches"),
    "QMOI_DAILY_TARGET_AIRTEL": ("10000", "Airtel daily revenue target, KES"),
    "QMOI_DAILY_TARGET_MPESA": ("10000", "M-Pesa daily revenue target, KES"),
    "QMOI_COMBINED_TARGET": ("20000", "combined daily target, KES"),
    "QMOI_MINIMUM_GUARANTEE": ("8000", "per-provider floor; alert when forecast is below"),
    "QMOI_AIRTEL_GROWTH_TARGET": ("0.20", "Airtel day-over-day growth goal"),
    "QMOI_MPESA_GROWTH_TARGET": ("0.20", "M-Pesa day-over-day growth goal"),
    "QMOI_TARGET_MODE": ("fixed", "fixed, or growth (tomorrow = today × (1 + goal))"),
    "QMOI_STREAM_TARGETS": ("", "per-stream daily targets, e.g. airtime_sales=2500"),
    "QMOI_AUTO_TRANSFER": ("true", "transfer chunks to the owner automatically"),
    "QMOI_AUTO_TRANSFER_AIRTEL": ("2000", "Airtel auto-transfer chunk, KES"),
    "QMOI_AUTO_TRANSFER_MPESA": ("2000", "M-Pesa auto-transfer chunk, KES"),
    "QMOI_TRANSFER_FALLBACK": ("false", "route a transfer via the other provider if short"),
    "QMOI_TIMEZONE": ("Africa/Nairobi", "where a day begins and ends"),
    "QMOI_MASTER_KEY": (None, "owner API key (secret); generated in var/ in sandbox"),
    "QMOI_SECRET_KEY": (None, "key that encrypts stored credentials (secret)"),
    "QMOI_DATABASE_URL": (None, "database URL (default: SQLite file var/qmoi.db)"),
    "QMOI_PUBLIC_URL": (None, "https URL where providers reach QMOI's callbacks"),
    "QMOI_DEBUG": ("false", "debug logging"),
    "QMOI_VAR_DIR": ("var", "where QMOI keeps its database, keys and state"),
    "QMOI_LOG_DIR": ("logs", "where JSON-lines logs are written"),
    "QMOI_SIGNING_KEY_FILE": (None, "Ed25519 audit signing key (default var/signing.key)"),
    "QMOI_SANDBOX_STOP_AT_TARGET": ("true", "sandbox sales stop once a target is met"),
    "QMOI_NOTIFY_WEBHOOK_URL": (None, "owner's webhook for notifications (signed JSON POST)"),
    "QMOI_NOTIFY_WEBHOOK_SECRET": (None, "HMAC-SHA256 key signing webhook bodies (secret)"),
    "QMOI_NOTIFY_SMTP_HOST": (None, "SMTP server for notification email"),
    "QMOI_NOTIFY_SMTP_PORT": ("587", "SMTP port"),
    "QMOI_NOTIFY_SMTP_USER": (None, "SMTP login"),
    "QMOI_NOTIFY_SMTP_PASSWORD": (None, "SMTP password (secret)"),
    "QMOI_NOTIFY_SMTP_STARTTLS": ("true", "upgrade the SMTP connection with STARTTLS"),
    "QMOI_NOTIFY_EMAIL_FROM": (None, "sender address of notification email"),
    "QMOI_NOTIFY_EMAIL_TO": (None, "recipient addresses, comma-separated"),
    "QMOI_NOTIFY_SMS_URL": (
        "https://api.africastalking.com",
        "Africa's Talking API base URL (sandbox: https://api.sandbox.africastalking.com)",
    ),
    "QMOI_NOTIFY_SMS_USERNAME": (None, "Africa's Talking username"),
    "QMOI_NOTIFY_SMS_API_KEY": (None, "Africa's Talking API key (secret)"),
    "QMOI_NOTIFY_SMS_TO": (None, "numbers to text, comma-separated (default: owner's M-Pesa)"),
    "QMOI_NOTIFY_SMS_FROM": (None, "registered sender id or short code (optional)"),
}

SECRET_VARIABLES = frozenset(
    {
        "AIRTEL_CLIENT_SECRET",
        "AIRTEL_PIN",
        "AIRTEL_CALLBACK_SECRET",
        "MPESA_CONSUMER_KEY",
        "MPESA_CONSUMER_SECRET",
        "MPESA_PASSKEY",
        "MPESA_INITIATOR_PASSWORD",
        "MPESA_CALLBACK_TOKEN",
        "QMOI_MASTER_KEY",
        "QMOI_SECRET_KEY",
        "QMOI_NOTIFY_WEBHOOK_SECRET",
        "QMOI_NOTIFY_SMTP_PASSWORD",
        "QMOI_NOTIFY_SMS_API_KEY",
    }
)

#: Sandbox owner numbers: the emulators' "always approves" test customers.
SANDBOX_OWNER_AIRTEL = "254733000100"
SANDBOX_OWNER_MPESA = "254708000100"


def _camel_to_upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def json_file_values(path: Path) -> dict[str, str]:
    """Flatten MISSION.md's JSON shape into variable names (``airtel.clientId`` →
    ``AIRTEL_CLIENT_ID``). Top-level keys may also be variable names themselves."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"QMOI_CONFIG_FILE: {path} does not exist — create it or unset the variable"
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"QMOI_CONFIG_FILE: {path} is not valid JSON ({exc}) — fix the file's syntax"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"QMOI_CONFIG_FILE: {path} must hold a JSON object — see README")
    flat: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            prefix = {"airtel": "AIRTEL", "mpesa": "MPESA", "qmoi": "QMOI"}.get(key.lower())
            if prefix is None:
                raise ConfigError(
                    f"QMOI_CONFIG_FILE: unknown section {key!r} — use airtel, mpesa or qmoi"
                )
            for inner, inner_value in value.items():
                flat[f"{prefix}_{_camel_to_upper_snake(inner)}"] = _json_text(inner_value)
        else:
            flat[key.upper()] = _json_text(value)
    return flat


def _json_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_json_text(v) for v in value)
    return str(value)


@cache
def _raw_settings_class() -> type[BaseSettings]:
    """A settings class with one optional text field per variable (built once)."""
    fields: dict[str, Any] = {name.lower(): (str | None, None) for name in VARIABLES}
    raw: type[BaseSettings] = create_model("RawSettings", __base__=BaseSettings, **fields)
    raw.model_config = SettingsConfigDict(
        extra="ignore", case_sensitive=False, env_file_encoding="utf-8"
    )
    return raw


@dataclass(frozen=True)
class RawValues:
    """Variables as text, as found (environment over ``.env`` over the JSON file)."""

    values: dict[str, str]
    unknown_in_file: list[str] = field(default_factory=list)
    #: secrets taken from the credential vault (where no other source gave them), and
    #: what was wrong with the vault's values, as ``VARIABLE: what — fix`` lines
    from_vault: frozenset[str] = frozenset()
    vault_problems: tuple[str, ...] = ()


def read_raw(env_file: Path | None = Path(".env"), config_file: Path | None = None) -> RawValues:
    """Read every variable as text: environment, then ``.env``, then the JSON file."""
    if config_file is None and os.environ.get("QMOI_CONFIG_FILE"):
        config_file = Path(os.environ["QMOI_CONFIG_FILE"])
    from_file = json_file_values(config_file) if config_file is not None else {}
    env_path = env_file if env_file is not None and env_file.is_file() else None
    try:
        loaded = _raw_settings_class()(_env_file=env_path)
    except UnicodeDecodeError as exc:
        raise ConfigError(f".env: {env_file} is not UTF-8 text — re-save it as UTF-8") from exc
    values = {k: v for k, v in from_file.items() if k in VARIABLES}
    for name in VARIABLES:
        text = getattr(loaded, name.lower())
        if text is not None:
            values[name] = text
    return RawValues(values, sorted(k for k in from_file if k not in VARIABLES))


# --------------------------------------------------------------------------------------
# checking
# --------------------------------------------------------------------------------------


@dataclass
class Report:
    """What loading found: problems make the configuration unusable; the rest inform."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # where values came from, when notable

    @property
    def usable(self) -> bool:
        return not self.problems


class _Reader:
    """Parses one variable at a time, recording problems instead of stopping at the first."""

    def __init__(self, raw: RawValues, report: Report) -> None:
        self.raw = raw.values
        self.report = report

    def text(self, name: str) -> str | None:
        value = self.raw.get(name, VARIABLES[name][0])
        if value is None:
            return None
        stripped = value.strip()
        if stripped != value and name not in SECRET_VARIABLES:
            self.correct(name, value, stripped, "removed stray spaces")
        elif stripped != value:
            self.report.corrections.append(f"{name}: removed stray spaces around the value")
        return stripped or None

    def correct(self, name: str, before: str, after: str, what: str) -> None:
        self.report.corrections.append(f"{name}: {what}: {before!r} → {after!r}")

    def problem(self, name: str, what: str, fix: str) -> None:
        self.report.problems.append(f"{name}: {what} — {fix}")

    def warn(self, name: str, what: str, fix: str) -> None:
        self.report.warnings.append(f"{name}: {what} — {fix}")

    def secret(self, name: str) -> SecretStr | None:
        value = self.text(name)
        return SecretStr(value) if value else None

    def boolean(self, name: str) -> bool:
        value = (self.text(name) or "").lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("", "0", "false", "no", "off"):
            return False
        self.problem(name, f"{value!r} is not true or false", "use true or false")
        return False

    def choice(self, name: str, choices: list[str], default: str) -> str:
        value = self.text(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered not in choices:
            self.problem(name, f"{value!r} is not one of {', '.join(choices)}", "pick one of them")
            return default
        if lowered != value:
            self.correct(name, value, lowered, "lower-cased")
        return lowered

    def amount(
        self, name: str, currency: str = "KES", *, positive: bool = True, fix: str | None = None
    ) -> Money:
        value = self.text(name) or ""
        try:
            money = Money.parse(value, currency)
        except InvalidAmount as exc:
            self.problem(name, f"{exc}", fix or "give whole shillings like 10000 or 10,000.50")
            return Money.parse(VARIABLES[name][0] or "0", currency)
        if positive and not money.is_positive:
            self.problem(name, "must be more than zero", fix or "give a positive amount like 2000")
        return money

    def ratio(self, name: str) -> Decimal:
        value = self.text(name) or ""
        try:
            number = Decimal(value.rstrip("%")) / (100 if value.endswith("%") else 1)
        except InvalidOperation:
            self.problem(name, f"{value!r} is not a number", "give a fraction like 0.20 or 20%")
            return Decimal("0.20")
        if not number.is_finite() or number < 0 or number > 10:
            self.problem(name, f"{value!r} is out of range", "give a fraction between 0 and 10")
            return Decimal("0.20")
        return number

    def url(self, name: str, *, value: str | None = None) -> str | None:
        value = value if value is not None else self.text(name)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.problem(
                name, f"{value!r} is not an http(s) URL", "give a URL like https://pay.example.com"
            )
            return None
        if value.endswith("/"):
            trimmed = value.rstrip("/")
            self.correct(name, value, trimmed, "removed the trailing slash")
            value = trimmed
        return value

    def phone(self, name: str, network: str, example: str, sandbox_default: str | None) -> str:
        value = self.text(name)
        if value is None:
            if sandbox_default is not None:
                return sandbox_default
            self.problem(name, "is not set", f"give the owner's {network} number, e.g. {example}")
            return ""
        normalised, error = normalise_msisdn(value, network)
        if error:
            self.problem(name, error, f"give the owner's {network} number, e.g. {example}")
            return ""
        if normalised != value:
            self.correct(name, value, normalised, "stored in international form")
        return normalised


#: Network names as ``phonenumbers`` knows the carriers.
NETWORKS = {"Airtel": ("Airtel",), "Safaricom": ("Safaricom",)}


def normalise_msisdn(value: str, network: str | None = None) -> tuple[str, str | None]:
    """``0733 123 456`` / ``+254733123456`` / ``254733123456`` → ``254733123456``.

    Returns the number and None, or the input and what is wrong with it. When
    ``network`` is given ("Airtel" or "Safaricom"), the number must belong to it.
    """
    cleaned = re.sub(r"[\s\-().]", "", value)
    if cleaned.startswith("254") and not cleaned.startswith("+"):
        cleaned = "+" + cleaned
    try:
        parsed = phonenumbers.parse(cleaned, "KE")
    except phonenumbers.NumberParseException:
        return value, f"{value!r} is not a phone number"
    if not phonenumbers.is_valid_number(parsed) or parsed.country_code != 254:
        return value, f"{value!r} is not a valid Kenyan mobile number"
    operator = carrier.name_for_number(parsed, "en")
    if network is not None and operator not in NETWORKS[network]:
        article = "an" if operator[:1].upper() in "AEIOU" else "a"
        what = f"{article} {operator} number" if operator else "not a mobile number"
        return value, f"{value!r} is {what}, not {network}"
    return f"{parsed.country_code}{parsed.national_number}", None


def _stream_key(reader: _Reader, name: str, text: str) -> StreamKey | None:
    try:
        return StreamKey(text.strip().lower())
    except ValueError:
        reader.problem(
            name,
            f"{text!r} is not a revenue stream",
            f"use one of {', '.join(s.value for s in StreamKey)}",
        )
        return None


def _pairs(reader: _Reader, name: str) -> list[tuple[str, str]]:
    text = reader.text(name) or ""
    pairs: list[tuple[str, str]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            reader.problem(name, f"{item!r} is not KEY=VALUE", "separate pairs with commas")
            continue
        pairs.append((key.strip(), value.strip()))
    return pairs


def _environment(reader: _Reader, name: str, has_credentials: bool) -> Environment:
    if reader.text(name) is None:
        if has_credentials:
            reader.warn(
                name,
                "credentials are set but no environment; using staging (the provider's test "
                "system)",
                "set staging or production explicitly",
            )
            return Environment.STAGING
        return Environment.SANDBOX
    return Environment(reader.choice(name, [e.value for e in Environment], "sandbox"))


def _pem_or_path(reader: _Reader, name: str) -> str | None:
    value = reader.text(name)
    if value is None:
        return None
    if "-----BEGIN" in value or re.fullmatch(r"[A-Za-z0-9+/=\s]{100,}", value):
        return value.replace("\\n", "\n")
    path = Path(value).expanduser()
    if not path.is_file():
        reader.problem(name, f"{value} is neither PEM text nor a readable file", "fix the path")
        return None
    return path.read_text(encoding="utf-8", errors="replace")


def _read_airtel(reader: _Reader, public_url: str | None) -> AirtelSettings:
    client_id = reader.text("AIRTEL_CLIENT_ID")
    client_secret = reader.secret("AIRTEL_CLIENT_SECRET")
    env = _environment(reader, "AIRTEL_ENVIRONMENT", bool(client_id or client_secret))
    country = (reader.text("AIRTEL_COUNTRY") or "KE").upper()
    currency = (reader.text("AIRTEL_CURRENCY") or "KES").upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        reader.problem("AIRTEL_COUNTRY", f"{country!r} is not a country code", "use KE")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        reader.problem("AIRTEL_CURRENCY", f"{currency!r} is not a currency code", "use KES")
    pin = reader.secret("AIRTEL_PIN")
    if pin is not None and not re.fullmatch(r"\d{4}", pin.get_secret_value()):
        reader.problem("AIRTEL_PIN", "must be exactly 4 digits", "give the wallet's 4-digit PIN")
    if env.is_live:
        for var, value in (
            ("AIRTEL_CLIENT_ID", client_id),
            ("AIRTEL_CLIENT_SECRET", client_secret),
        ):
            if not value:
                reader.problem(
                    var, f"is required for {env.value}", "copy it from the Airtel developer portal"
                )
        if pin is None:
            (reader.problem if env is Environment.PRODUCTION else reader.warn)(
                "AIRTEL_PIN",
                "is not set, so transfers to the owner cannot be made",
                "set the merchant wallet's disbursement PIN",
            )
    callback_auth = reader.boolean("AIRTEL_CALLBACK_AUTH")
    callback_secret = reader.secret("AIRTEL_CALLBACK_SECRET")
    if callback_auth and callback_secret is None:
        reader.problem(
            "AIRTEL_CALLBACK_SECRET",
            "is required when AIRTEL_CALLBACK_AUTH is true",
            "copy the callback secret from the Airtel portal",
        )
    if env.is_live and not callback_auth:
        reader.warn(
            "AIRTEL_CALLBACK_AUTH",
            f"is off in {env.value}; accepted because QMOI treats every unauthenticated "
            "Airtel callback as a hint and confirms it with a transaction enquiry before "
            "anything changes (one enquiry per callback)",
            "switch callback authentication on in the Airtel portal and set "
            "AIRTEL_CALLBACK_AUTH=true with AIRTEL_CALLBACK_SECRET (the portal's callback "
            "private key)",
        )
    callback_url = reader.url("AIRTEL_CALLBACK_URL")
    if callback_url is None and public_url is not None:
        callback_url = f"{public_url}/api/airtel/callback"
    return AirtelSettings(
        environment=env,
        client_id=client_id,
        client_secret=client_secret,
        phone_number=reader.phone(
            "AIRTEL_PHONE_NUMBER",
            "Airtel",
            "0733 123 456",
            SANDBOX_OWNER_AIRTEL if env is Environment.SANDBOX else None,
        ),
        country=country,
        currency=currency,
        pin=pin,
        public_key=_pem_or_path(reader, "AIRTEL_PUBLIC_KEY"),
        base_url=reader.url("AIRTEL_BASE_URL"),
        account_reference=reader.text("AIRTEL_ACCOUNT_REFERENCE") or "QMOI_AIRTEL",
        transaction_desc=reader.text("AIRTEL_TRANSACTION_DESC") or "QMOI Airtel Revenue",
        callback_url=callback_url,
        message_signing=reader.boolean("AIRTEL_MESSAGE_SIGNING"),
        callback_auth=callback_auth,
        callback_secret=callback_secret,
        debug=reader.boolean("DEBUG_AIRTEL"),
    )


def _limited(reader: _Reader, name: str, limit: int) -> str:
    """Daraja refuses longer texts (AccountReference ≤ 12, TransactionDesc ≤ 13)."""
    default = VARIABLES[name][0] or ""
    value = reader.text(name) or default
    if len(value) > limit:
        reader.problem(
            name,
            f"{value!r} is longer than Daraja's {limit} characters",
            f"shorten it to at most {limit}",
        )
        return default
    return value


def _read_mpesa(reader: _Reader) -> MpesaSettings:
    key = reader.secret("MPESA_CONSUMER_KEY")
    secret = reader.secret("MPESA_CONSUMER_SECRET")
    env = _environment(reader, "MPESA_ENVIRONMENT", bool(key or secret))
    shortcode = reader.text("MPESA_SHORTCODE")
    if shortcode is not None and not re.fullmatch(r"\d{5,7}", shortcode):
        reader.problem("MPESA_SHORTCODE", f"{shortcode!r} is not a shortcode", "give 5–7 digits")
    till = reader.text("MPESA_TILL_NUMBER")
    if till is not None and not re.fullmatch(r"\d{5,8}", till):
        reader.problem("MPESA_TILL_NUMBER", f"{till!r} is not a till number", "give its digits")
    initiator_password = reader.secret("MPESA_INITIATOR_PASSWORD")
    initiator = reader.text("MPESA_INITIATOR_NAME")
    passkey = reader.secret("MPESA_PASSKEY")
    certificate = _pem_or_path(reader, "MPESA_CERTIFICATE")
    if env.is_live:
        required = {
            "MPESA_CONSUMER_KEY": (key, "copy it from your Daraja app"),
            "MPESA_CONSUMER_SECRET": (secret, "copy it from your Daraja app"),
            "MPESA_SHORTCODE": (shortcode, "give your paybill or till shortcode"),
            "MPESA_PASSKEY": (passkey, "copy the Lipa na M-Pesa Online passkey"),
        }
        for var, (value, fix) in required.items():
            if not value:
                reader.problem(var, f"is required for {env.value}", fix)
        for var, value in (
            ("MPESA_INITIATOR_NAME", initiator),
            ("MPESA_INITIATOR_PASSWORD", initiator_password),
            ("MPESA_CERTIFICATE", certificate),
        ):
            if not value:
                (reader.problem if env is Environment.PRODUCTION else reader.warn)(
                    var,
                    "is not set, so transfers to the owner cannot be made",
                    "set the B2C initiator, its password and Safaricom's certificate",
                )
    if reader.text("MPESA_CONFIRM_CALLBACKS") is not None and not reader.boolean(
        "MPESA_CONFIRM_CALLBACKS"
    ):
        reader.warn(
            "MPESA_CONFIRM_CALLBACKS",
            "is no longer a choice: Daraja signs nothing, so every M-Pesa callback is "
            "confirmed by a query before it changes anything",
            "remove the setting",
        )
    rules: list[tuple[str, StreamKey]] = []
    for prefix, stream_text in _pairs(reader, "MPESA_C2B_RULES"):
        stream = _stream_key(reader, "MPESA_C2B_RULES", stream_text)
        if stream is not None:
            rules.append((prefix.upper(), stream))
    default_stream = _stream_key(
        reader, "MPESA_C2B_DEFAULT_STREAM", reader.text("MPESA_C2B_DEFAULT_STREAM") or ""
    )
    token = reader.secret("MPESA_CALLBACK_TOKEN")
    if token is not None and len(token.get_secret_value()) < 24:
        reader.problem(
            "MPESA_CALLBACK_TOKEN",
            "is too short to be unguessable",
            "use at least 24 random characters, or unset it to have one generated",
        )
    shortcode_type = reader.choice("MPESA_SHORTCODE_TYPE", ["paybill", "till"], "paybill")
    allowlist = tuple(
        filter(
            None, (p.strip() for p in (reader.text("MPESA_CALLBACK_ALLOWLIST") or "").split(","))
        )
    )
    if env is Environment.PRODUCTION and not allowlist:
        reader.warn(
            "MPESA_CALLBACK_ALLOWLIST",
            "is empty, so M-Pesa callbacks are accepted from any address",
            "set it to Safaricom's published callback addresses (see the README's M-Pesa "
            "set-up), comma-separated",
        )
    return MpesaSettings(
        environment=env,
        consumer_key=key,
        consumer_secret=secret,
        shortcode=shortcode,
        shortcode_type="till" if shortcode_type == "till" else "paybill",
        till_number=till,
        passkey=passkey,
        initiator_name=initiator,
        initiator_password=initiator_password,
        certificate=certificate,
        phone_number=reader.phone(
            "MPESA_PHONE_NUMBER",
            "Safaricom",
            "0712 345 678",
            SANDBOX_OWNER_MPESA if env is Environment.SANDBOX else None,
        ),
        base_url=reader.url("MPESA_BASE_URL"),
        account_reference=_limited(reader, "MPESA_ACCOUNT_REFERENCE", 12),
        transaction_desc=_limited(reader, "MPESA_TRANSACTION_DESC", 13),
        callback_allowlist=allowlist,
        callback_token=token,
        c2b_rules=tuple(rules),
        c2b_default_stream=default_stream or StreamKey.DIGITAL_PAYMENTS,
    )


def _read_targets(reader: _Reader) -> TargetSettings:
    stream_targets: list[tuple[StreamKey, Money]] = []
    for key, value in _pairs(reader, "QMOI_STREAM_TARGETS"):
        stream = _stream_key(reader, "QMOI_STREAM_TARGETS", key)
        try:
            amount = Money.parse(value)
        except InvalidAmount as exc:
            reader.problem("QMOI_STREAM_TARGETS", f"{key}: {exc}", "give whole shillings")
            continue
        if stream is not None:
            stream_targets.append((stream, amount))
    return TargetSettings(
        daily_airtel=reader.amount("QMOI_DAILY_TARGET_AIRTEL"),
        daily_mpesa=reader.amount("QMOI_DAILY_TARGET_MPESA"),
        combined=reader.amount("QMOI_COMBINED_TARGET"),
        minimum=reader.amount("QMOI_MINIMUM_GUARANTEE"),
        growth_airtel=reader.ratio("QMOI_AIRTEL_GROWTH_TARGET"),
        growth_mpesa=reader.ratio("QMOI_MPESA_GROWTH_TARGET"),
        mode=TargetMode(reader.choice("QMOI_TARGET_MODE", ["fixed", "growth"], "fixed")),
        stream_targets=tuple(stream_targets),
    )


_DB_URL = re.compile(r"^(?P<scheme>[a-z0-9+]+)://(?P<rest>.*)$")


def _database_url(reader: _Reader, var_dir: Path) -> str:
    value = reader.text("QMOI_DATABASE_URL")
    if value is None:
        return f"sqlite:///{var_dir / 'qmoi.db'}"
    match = _DB_URL.match(value)
    if not match:
        reader.problem(
            "QMOI_DATABASE_URL",
            "is not a database URL",
            "use sqlite:///var/qmoi.db or postgresql://user@host:5432/qmoi",
        )
        return f"sqlite:///{var_dir / 'qmoi.db'}"
    scheme = match["scheme"]
    if scheme in ("postgres", "postgresql", "postgresql+psycopg2"):
        fixed = f"postgresql+psycopg://{match['rest']}"
        reader.correct("QMOI_DATABASE_URL", _redact_url(value), _redact_url(fixed), "driver")
        return fixed
    if scheme not in ("sqlite", "postgresql+psycopg"):
        reader.problem(
            "QMOI_DATABASE_URL",
            f"{scheme} databases are not supported",
            "use sqlite:///path or postgresql://…",
        )
    return value


def _redact_url(url: str) -> str:
    """Hide a password in a URL before it is shown anywhere."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


#: what Daraja's B2C pays per transaction: whole shillings from 1 to 250,000 (§5, §9 of
#: the provider document; the connector refuses anything else before sending)
MPESA_PAYOUT_SHILLINGS = (1, 250_000)


def _mpesa_chunk(reader: _Reader) -> Money:
    """A chunk B2C can pay. Any other would be reserved and then never paid, its money
    stuck in transit."""
    name = "QMOI_AUTO_TRANSFER_MPESA"
    low, high = MPESA_PAYOUT_SHILLINGS
    fix = f"give whole shillings from {low} to {high:,}, e.g. 2000"
    chunk = reader.amount(name, fix=fix)
    if chunk.is_positive and chunk.minor % 100:
        reader.problem(name, f"{chunk} has cents, and M-Pesa pays whole shillings only", fix)
    elif chunk.is_positive and not low * 100 <= chunk.minor <= high * 100:
        reader.problem(name, f"{chunk} is outside what M-Pesa pays in one transaction", fix)
    return chunk


def build_settings(raw: RawValues) -> tuple[Settings | None, Report]:
    """Parse raw values into :class:`Settings`; ``None`` when there are problems."""
    report = Report(problems=list(raw.vault_problems))
    report.sources.extend(f"{name}: from the credential vault" for name in sorted(raw.from_vault))
    reader = _Reader(raw, report)
    for name in raw.unknown_in_file:
        reader.warn(name, "is not a QMOI setting and is ignored", "check its spelling")
    public_url = reader.url("QMOI_PUBLIC_URL")
    airtel = _read_airtel(reader, public_url)
    mpesa = _read_mpesa(reader)
    targets = _read_targets(reader)
    transfers = TransferSettings(
        enabled=reader.boolean("QMOI_AUTO_TRANSFER"),
        # Airtel pays cents (its amounts are JSON numbers with decimals); a currency
        # without minor units refuses them when parsed
        chunk_airtel=reader.amount("QMOI_AUTO_TRANSFER_AIRTEL", airtel.currency),
        chunk_mpesa=_mpesa_chunk(reader),
        fallback=reader.boolean("QMOI_TRANSFER_FALLBACK"),
    )
    timezone_name = reader.text("QMOI_TIMEZONE") or "Africa/Nairobi"
    try:
        ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        reader.problem(
            "QMOI_TIMEZONE", f"{timezone_name!r} is not a time zone", "use e.g. Africa/Nairobi"
        )
        timezone_name = "Africa/Nairobi"
    var_dir = Path(reader.text("QMOI_VAR_DIR") or "var")
    live = airtel.environment.is_live or mpesa.environment.is_live
    if (airtel.environment is Environment.SANDBOX) != (mpesa.environment is Environment.SANDBOX):
        reader.problem(
            "MPESA_ENVIRONMENT"
            if airtel.environment is Environment.SANDBOX
            else "AIRTEL_ENVIRONMENT",
            "one provider is the sandbox and the other is live; simulated and real money "
            "must never share a database",
            "set both AIRTEL_ENVIRONMENT and MPESA_ENVIRONMENT to sandbox, or both to live ones",
        )
    master_key = reader.secret("QMOI_MASTER_KEY")
    if live and master_key is None:
        reader.problem(
            "QMOI_MASTER_KEY",
            "is required outside the sandbox",
            "set a long random key, e.g. `openssl rand -hex 32`",
        )
    elif master_key is not None and len(master_key.get_secret_value()) < 16:
        (reader.problem if live else reader.warn)(
            "QMOI_MASTER_KEY", "is shorter than 16 characters", "use `openssl rand -hex 32`"
        )
    production = Environment.PRODUCTION in (airtel.environment, mpesa.environment)
    if public_url is None and live:
        reader.problem(
            "QMOI_PUBLIC_URL",
            "is required outside the sandbox: providers post their callbacks there",
            "give the https URL where QMOI is reachable",
        )
    elif public_url is not None and public_url.startswith("http://") and production:
        reader.warn(
            "QMOI_PUBLIC_URL",
            "production callbacks over plain http can be read and forged in transit",
            "serve QMOI behind https and use an https:// URL",
        )
    for provider, chunk, daily in (
        ("AIRTEL", transfers.chunk_airtel, targets.daily_airtel),
        ("MPESA", transfers.chunk_mpesa, targets.daily_mpesa),
    ):
        if chunk.currency == daily.currency and chunk > daily:
            reader.warn(
                f"QMOI_AUTO_TRANSFER_{provider}",
                f"the chunk ({chunk}) is above the daily target ({daily}), so on an "
                "ordinary day nothing is transferred",
                "use a chunk smaller than the daily target",
            )
    if targets.minimum > targets.daily_airtel or targets.minimum > targets.daily_mpesa:
        reader.warn(
            "QMOI_MINIMUM_GUARANTEE",
            "is above a provider's daily target",
            "keep the minimum below each daily target",
        )
    notify = _read_notify(reader, mpesa.phone_number)
    signing_key = reader.text("QMOI_SIGNING_KEY_FILE")
    settings = Settings(
        airtel=airtel,
        mpesa=mpesa,
        targets=targets,
        transfers=transfers,
        notify=notify,
        timezone_name=timezone_name,
        master_key=master_key,
        secret_key=reader.secret("QMOI_SECRET_KEY"),
        database_url=_database_url(reader, var_dir),
        public_url=public_url,
        debug=reader.boolean("QMOI_DEBUG"),
        var_dir=var_dir,
        log_dir=Path(reader.text("QMOI_LOG_DIR") or "logs"),
        signing_key_file=Path(signing_key) if signing_key else var_dir / "signing.key",
        sandbox_stop_at_target=reader.boolean("QMOI_SANDBOX_STOP_AT_TARGET"),
    )
    return (settings if report.usable else None), report


EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


def _listed(reader: _Reader, name: str, pattern: re.Pattern[str], example: str) -> tuple[str, ...]:
    items = tuple(x.strip() for x in (reader.text(name) or "").split(",") if x.strip())
    for item in items:
        if not pattern.match(item):
            reader.problem(
                name, f"{item!r} is not valid", f"give a comma-separated list like {example}"
            )
    return items


def _phones(reader: _Reader, name: str) -> tuple[str, ...]:
    """Comma-separated Kenyan numbers, each stored as ``254…`` like every number."""
    numbers = []
    for item in (x.strip() for x in (reader.text(name) or "").split(",")):
        if not item:
            continue
        normalised, error = normalise_msisdn(item)
        if error:
            reader.problem(name, error, "give numbers like 0712345678 or 254712345678")
        else:
            numbers.append(normalised)
    return tuple(numbers)


def _read_notify(reader: _Reader, owner_phone: str) -> NotifySettings:
    webhook_url = reader.url("QMOI_NOTIFY_WEBHOOK_URL")
    webhook_secret = reader.secret("QMOI_NOTIFY_WEBHOOK_SECRET")
    if webhook_url is not None and webhook_secret is None:
        reader.problem(
            "QMOI_NOTIFY_WEBHOOK_SECRET",
            "is required when QMOI_NOTIFY_WEBHOOK_URL is set: webhooks are always signed",
            "set a long random key, e.g. `openssl rand -hex 32`, and give it to the receiver",
        )
    port_text = reader.text("QMOI_NOTIFY_SMTP_PORT") or "587"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        reader.problem("QMOI_NOTIFY_SMTP_PORT", f"{port_text!r} is not a port", "use e.g. 587")
        port_text = "587"
    smtp_host = reader.text("QMOI_NOTIFY_SMTP_HOST")
    email_from = reader.text("QMOI_NOTIFY_EMAIL_FROM")
    email_to = _listed(reader, "QMOI_NOTIFY_EMAIL_TO", EMAIL, "owner@example.com")
    if smtp_host is not None and (email_from is None or not email_to):
        reader.problem(
            "QMOI_NOTIFY_EMAIL_TO" if email_from else "QMOI_NOTIFY_EMAIL_FROM",
            "is required when QMOI_NOTIFY_SMTP_HOST is set",
            "give the sender (QMOI_NOTIFY_EMAIL_FROM) and recipients (QMOI_NOTIFY_EMAIL_TO)",
        )
    sms_key = reader.secret("QMOI_NOTIFY_SMS_API_KEY")
    sms_username = reader.text("QMOI_NOTIFY_SMS_USERNAME")
    if sms_key is not None and sms_username is None:
        reader.problem(
            "QMOI_NOTIFY_SMS_USERNAME",
            "is required when QMOI_NOTIFY_SMS_API_KEY is set",
            "give your Africa's Talking username ('sandbox' for their sandbox)",
        )
    sms_to = _phones(reader, "QMOI_NOTIFY_SMS_TO")
    return NotifySettings(
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        smtp_host=smtp_host,
        smtp_port=int(port_text),
        smtp_user=reader.text("QMOI_NOTIFY_SMTP_USER"),
        smtp_password=reader.secret("QMOI_NOTIFY_SMTP_PASSWORD"),
        smtp_starttls=reader.boolean("QMOI_NOTIFY_SMTP_STARTTLS"),
        email_from=email_from,
        email_to=email_to,
        sms_url=reader.url("QMOI_NOTIFY_SMS_URL") or "https://api.africastalking.com",
        sms_username=sms_username,
        sms_api_key=sms_key,
        sms_to=sms_to or ((owner_phone,) if owner_phone else ()),
        sms_from=reader.text("QMOI_NOTIFY_SMS_FROM"),
    )


@dataclass(frozen=True)
class StoreLocation:
    """Where the database and its keys are, read on their own: the credential vault is
    opened before the rest is checked (it may complete the rest), and ``qmoi secrets``
    must work while the rest is still incomplete."""

    database_url: str
    var_dir: Path
    secret_key: SecretStr | None
    signing_key_file: Path
    sandbox: bool

    @property
    def key_file(self) -> Path:
        return self.var_dir / "secret.key"


def store_location(raw: RawValues) -> StoreLocation:
    """Problems with these values are left to :func:`build_settings` to report."""
    reader = _Reader(raw, Report())
    var_dir = Path(reader.text("QMOI_VAR_DIR") or "var")
    signing_key = reader.text("QMOI_SIGNING_KEY_FILE")
    environments = [
        _environment(reader, f"{p}_ENVIRONMENT", any(reader.text(c) for c in credentials))
        for p, credentials in (
            ("AIRTEL", ("AIRTEL_CLIENT_ID", "AIRTEL_CLIENT_SECRET")),
            ("MPESA", ("MPESA_CONSUMER_KEY", "MPESA_CONSUMER_SECRET")),
        )
    ]
    return StoreLocation(
        database_url=_database_url(reader, var_dir),
        var_dir=var_dir,
        secret_key=reader.secret("QMOI_SECRET_KEY"),
        signing_key_file=Path(signing_key) if signing_key else var_dir / "signing.key",
        sandbox=all(e is Environment.SANDBOX for e in environments),
    )


def load_settings(
    env_file: Path | None = Path(".env"),
    config_file: Path | None = None,
    *,
    on_report: Callable[[Report], None] | None = None,
    complete: Callable[[RawValues], RawValues] | None = None,
) -> Settings:
    """Read and check the configuration; raise :class:`ConfigError` listing every problem.
    ``complete`` may add values from elsewhere (the credential vault) before the check."""
    raw = read_raw(env_file, config_file)
    settings, report = build_settings(complete(raw) if complete else raw)
    if on_report is not None:
        on_report(report)
    if settings is None:
        raise ConfigError("\n".join(report.problems))
    return settings


def redact_database_url(url: str) -> str:
    return _redact_url(url)
