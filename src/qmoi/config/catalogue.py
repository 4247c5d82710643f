"""Every variable QMOI reads, in one list: its default, what it means, what kind of value
it takes and where it matters. The reader falls back to these defaults, and
``docs/configuration.md`` is generated from this list (``python -m qmoi.config.docs``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    """One variable. ``default`` is the text used when it is unset (None: no value);
    ``unset`` says what an unset value means when that is more than its default."""

    name: str
    default: str | None
    meaning: str
    kind: str = "text"
    unset: str | None = None
    where: str = "all"  # the environments it matters in, and how


ENVIRONMENT = "`sandbox`, `staging` or `production`"
NO_CREDENTIALS = "sandbox; staging when the provider's credentials are set"
LIVE = "required in staging and production"
PAYOUTS = "required in production; unset in staging is a warning (no payouts to the owner)"
SANDBOX = "sandbox only"

#: Sandbox owner numbers: the emulators' "always approves" test customers.
SANDBOX_OWNER_AIRTEL = "254733000100"
SANDBOX_OWNER_MPESA = "254708000100"

AIRTEL = (
    Setting(
        "AIRTEL_ENABLED",
        "true",
        "collect and pay out on Airtel Money; false: no Airtel at all, and its other "
        "settings (AIRTEL_*, Airtel targets and chunk) are neither required nor checked",
        "boolean",
        where="all; at least one provider must be enabled",
    ),
    Setting(
        "AIRTEL_ENVIRONMENT",
        None,
        "sandbox (built-in emulator), staging (UAT) or production",
        ENVIRONMENT,
        NO_CREDENTIALS,
    ),
    Setting("AIRTEL_CLIENT_ID", None, "client id of the Airtel Open API app", where=LIVE),
    Setting("AIRTEL_CLIENT_SECRET", None, "client secret of the Airtel Open API app", where=LIVE),
    Setting(
        "AIRTEL_PHONE_NUMBER",
        None,
        "owner's Airtel Money number; auto-transfers go there",
        "Airtel mobile number of AIRTEL_COUNTRY",
        f"sandbox: the test number {SANDBOX_OWNER_AIRTEL} (outside Kenya: the country's "
        "approving test number, e.g. 256753000100 in Uganda; see docs/sandbox.md)",
        LIVE,
    ),
    Setting(
        "AIRTEL_COUNTRY",
        "KE",
        "X-Country: ISO country of the merchant account; numbers are parsed and checked "
        "as that country's",
        "KE, UG, TZ, ZM, MW, RW, CD, NG (also CG, GA, TD, NE, MG, SC)",
    ),
    Setting(
        "AIRTEL_CURRENCY",
        None,
        "X-Currency: ISO 4217 currency of the wallet; must be the country's (KES, UGX, "
        "TZS, ZMW, MWK, RWF, CDF, NGN …); its decimals come from ISO 4217, so UGX and RWF "
        "amounts have no cents",
        "currency code",
        "the country's currency",
    ),
    Setting(
        "AIRTEL_PIN",
        None,
        "4-digit disbursement PIN of the merchant wallet",
        "4 digits",
        None,
        PAYOUTS,
    ),
    Setting(
        "AIRTEL_PUBLIC_KEY",
        None,
        "Airtel's RSA public key (PEM, base64 DER, or a file path)",
        "PEM, base64 DER or path",
        "fetched from Airtel",
    ),
    Setting(
        "AIRTEL_BASE_URL",
        None,
        "override the API host (country hosts, proxies)",
        "URL",
        "the environment's host",
    ),
    Setting("AIRTEL_ACCOUNT_REFERENCE", "QMOI_AIRTEL", "reference shown on collection prompts"),
    Setting("AIRTEL_TRANSACTION_DESC", "QMOI Airtel Revenue", "description of collections"),
    Setting(
        "AIRTEL_CALLBACK_URL",
        None,
        "callback URL registered with Airtel",
        "URL",
        "QMOI_PUBLIC_URL + /api/airtel/callback",
    ),
    Setting(
        "AIRTEL_MESSAGE_SIGNING", "false", "sign write calls with x-signature / x-key", "boolean"
    ),
    Setting(
        "AIRTEL_CALLBACK_AUTH",
        "false",
        "require the HMAC hash on Airtel callbacks",
        "boolean",
        where="all; off in staging or production is a warning",
    ),
    Setting(
        "AIRTEL_CALLBACK_SECRET",
        None,
        "key of the Airtel callback hash",
        where="required when AIRTEL_CALLBACK_AUTH is true",
    ),
    Setting(
        "DEBUG_AIRTEL", "false", "write Airtel debug detail to logs/airtel_debug.log", "boolean"
    ),
)

MPESA = (
    Setting(
        "MPESA_ENABLED",
        "true",
        "collect and pay out on M-Pesa; false: no M-Pesa at all, and its other settings "
        "(MPESA_*, M-Pesa targets and chunk) are neither required nor checked",
        "boolean",
        where="all; at least one provider must be enabled",
    ),
    Setting(
        "MPESA_ENVIRONMENT",
        None,
        "sandbox (built-in emulator), staging (Daraja) or production",
        ENVIRONMENT,
        NO_CREDENTIALS,
    ),
    Setting("MPESA_CONSUMER_KEY", None, "consumer key of the Daraja app", where=LIVE),
    Setting("MPESA_CONSUMER_SECRET", None, "consumer secret of the Daraja app", where=LIVE),
    Setting(
        "MPESA_SHORTCODE",
        None,
        "paybill or till shortcode customers pay into",
        "5–7 digits",
        where=LIVE,
    ),
    Setting(
        "MPESA_SHORTCODE_TYPE",
        "paybill",
        "paybill (CustomerPayBillOnline) or till (buy goods)",
        "`paybill` or `till`",
    ),
    Setting(
        "MPESA_TILL_NUMBER",
        None,
        "buy-goods till number when it differs from the shortcode",
        "5–8 digits",
        "the shortcode",
    ),
    Setting("MPESA_PASSKEY", None, "Lipa na M-Pesa Online passkey", where=LIVE),
    Setting(
        "MPESA_INITIATOR_NAME",
        None,
        "API operator (initiator) for B2C, status, balance",
        where=PAYOUTS,
    ),
    Setting("MPESA_INITIATOR_PASSWORD", None, "initiator password", where=PAYOUTS),
    Setting(
        "MPESA_CERTIFICATE",
        None,
        "Safaricom certificate that encrypts the initiator password (SecurityCredential)",
        "PEM or path",
        where=PAYOUTS,
    ),
    Setting(
        "MPESA_PHONE_NUMBER",
        None,
        "owner's M-Pesa number; auto-transfers go there",
        "Safaricom phone number",
        f"sandbox: the test number {SANDBOX_OWNER_MPESA}",
        LIVE,
    ),
    Setting("MPESA_BASE_URL", None, "override the Daraja host", "URL", "the environment's host"),
    Setting(
        "MPESA_ACCOUNT_REFERENCE",
        "QMOI_MPESA",
        "account reference on STK prompts",
        "text, ≤ 12 characters",
    ),
    Setting(
        "MPESA_TRANSACTION_DESC",
        "QMOI Revenue",
        "description of STK collections",
        "text, ≤ 13 characters",
    ),
    Setting(
        "MPESA_CONFIRM_CALLBACKS",
        None,
        "retired: every M-Pesa callback is confirmed by a query",
        "boolean",
        where="none; `false` is a warning",
    ),
    Setting(
        "MPESA_CALLBACK_ALLOWLIST",
        "",
        "comma-separated source addresses/networks for callbacks",
        "list of addresses or networks",
        "any address",
        "all; empty in production is a warning",
    ),
    Setting(
        "MPESA_CALLBACK_TOKEN",
        None,
        "secret path segment of M-Pesa callback URLs",
        "text, ≥ 24 characters",
        "generated",
    ),
    Setting(
        "MPESA_C2B_RULES",
        "AIR=airtime_sales,DATA=data_packages,BILL=utility_payments",
        "account-reference prefix → stream, comma-separated",
        "PREFIX=stream pairs",
    ),
    Setting(
        "MPESA_C2B_DEFAULT_STREAM",
        "digital_payments",
        "stream of C2B payments no rule matches",
        "stream",
    ),
)

QMOI = (
    Setting(
        "QMOI_DAILY_TARGET_AIRTEL",
        "10000",
        "Airtel daily revenue target, in AIRTEL_CURRENCY",
        "amount (decimals as the currency has them)",
    ),
    Setting("QMOI_DAILY_TARGET_MPESA", "10000", "M-Pesa daily revenue target, KES", "amount"),
    Setting("QMOI_COMBINED_TARGET", "20000", "combined daily target, KES", "amount"),
    Setting(
        "QMOI_MINIMUM_GUARANTEE",
        "8000",
        "per-provider floor in KES (it guards only providers collecting in KES); alert "
        "when the forecast is below",
        "amount",
    ),
    Setting(
        "QMOI_AIRTEL_GROWTH_TARGET",
        "0.20",
        "Airtel day-over-day growth goal",
        "fraction (0.20 or 20%)",
    ),
    Setting(
        "QMOI_MPESA_GROWTH_TARGET",
        "0.20",
        "M-Pesa day-over-day growth goal",
        "fraction (0.20 or 20%)",
    ),
    Setting(
        "QMOI_TARGET_MODE",
        "fixed",
        "fixed, or growth: tomorrow = today's actual × (1 + goal), never below the minimum",
        "`fixed` or `growth`",
    ),
    Setting(
        "QMOI_STREAM_TARGETS",
        "",
        "per-stream daily targets, e.g. airtime_sales=2500",
        "stream=amount pairs",
        "split by the streams' ranges",
    ),
    Setting(
        "QMOI_REPORTING_CURRENCY",
        None,
        "a currency the metrics also show every account's figures in, converted at the "
        "owner's own rates (QMOI_RATES); never fetched, never invented",
        "ISO 4217 code",
        "no converted figures: each currency on its own",
    ),
    Setting(
        "QMOI_RATES",
        "",
        "the owner's rates into the reporting currency, each with the day it is from, "
        "e.g. UGX=0.0349@2026-12-01 (1 UGX = 0.0349 KES)",
        "CUR=rate@YYYY-MM-DD pairs",
        "none: figures in a currency without a rate are not converted",
    ),
    Setting("QMOI_AUTO_TRANSFER", "true", "transfer chunks to the owner automatically", "boolean"),
    Setting(
        "QMOI_AUTO_TRANSFER_AIRTEL",
        "2000",
        "Airtel auto-transfer chunk, in AIRTEL_CURRENCY",
        "amount (cents allowed where the currency has them)",
    ),
    Setting(
        "QMOI_AUTO_TRANSFER_MPESA",
        "2000",
        "M-Pesa auto-transfer chunk, KES",
        "whole shillings, 1 to 250,000",
    ),
    Setting(
        "QMOI_TRANSFER_FALLBACK",
        "false",
        "route a transfer via the other provider if short",
        "boolean",
    ),
    Setting(
        "QMOI_STRICT_NETWORK",
        "false",
        "refuse a number whose range belongs to another network (an M-Pesa number given "
        "for Airtel); false: accept it with a warning, as numbers can be ported",
        "boolean",
        where="all; applies to the owner's numbers and to collection requests",
    ),
    Setting("QMOI_TIMEZONE", "Africa/Nairobi", "where a day begins and ends", "time zone"),
    Setting(
        "QMOI_MASTER_KEY",
        None,
        "owner API key",
        "text, ≥ 16 characters",
        "sandbox: generated and kept in var/",
        LIVE,
    ),
    Setting(
        "QMOI_SECRET_KEY",
        None,
        "key that seals backups and the credential vault (AES-256-GCM, derived with "
        "HKDF); keep it apart from the database and the backups",
        "text, ≥ 32 characters",
        "the key file var/secret.key (made by the sandbox only)",
        "outside the sandbox, needed for backups and the vault unless there is a key file",
    ),
    Setting(
        "QMOI_DATABASE_URL",
        None,
        "database URL; PostgreSQL is used through psycopg 3",
        "sqlite:/// or postgresql:// URL",
        "sqlite:///var/qmoi.db (under QMOI_VAR_DIR)",
    ),
    Setting(
        "QMOI_PUBLIC_URL",
        None,
        "https URL where providers reach QMOI's callbacks",
        "URL",
        where=LIVE + "; plain http in production is a warning",
    ),
    Setting("QMOI_DEBUG", "false", "debug logging", "boolean"),
    Setting(
        "QMOI_VAR_DIR", "var", "where QMOI keeps its database, keys and state (owner-only)", "path"
    ),
    Setting("QMOI_LOG_DIR", "logs", "where JSON-lines logs are written (owner-only)", "path"),
    Setting(
        "QMOI_SIGNING_KEY_FILE",
        None,
        "Ed25519 audit signing key, created on first run (mode 0600)",
        "path",
        "var/signing.key (under QMOI_VAR_DIR)",
    ),
    Setting(
        "QMOI_SANDBOX_STOP_AT_TARGET",
        "true",
        "sandbox sales stop once a target is met",
        "boolean",
        where=SANDBOX,
    ),
)

NOTIFY = (
    Setting(
        "QMOI_NOTIFY_WEBHOOK_URL",
        None,
        "owner's webhook for notifications (signed JSON POST)",
        "URL",
        "no webhook",
    ),
    Setting(
        "QMOI_NOTIFY_WEBHOOK_SECRET",
        None,
        "HMAC-SHA256 key signing webhook bodies",
        where="required when QMOI_NOTIFY_WEBHOOK_URL is set",
    ),
    Setting("QMOI_NOTIFY_SMTP_HOST", None, "SMTP server for notification email", unset="no email"),
    Setting("QMOI_NOTIFY_SMTP_PORT", "587", "SMTP port", "port"),
    Setting("QMOI_NOTIFY_SMTP_USER", None, "SMTP login"),
    Setting("QMOI_NOTIFY_SMTP_PASSWORD", None, "SMTP password"),
    Setting(
        "QMOI_NOTIFY_SMTP_STARTTLS", "true", "upgrade the SMTP connection with STARTTLS", "boolean"
    ),
    Setting(
        "QMOI_NOTIFY_EMAIL_FROM",
        None,
        "sender address of notification email",
        "email address",
        where="required when QMOI_NOTIFY_SMTP_HOST is set",
    ),
    Setting(
        "QMOI_NOTIFY_EMAIL_TO",
        None,
        "recipient addresses, comma-separated",
        "list of email addresses",
        where="required when QMOI_NOTIFY_SMTP_HOST is set",
    ),
    Setting(
        "QMOI_NOTIFY_SMS_URL",
        "https://api.africastalking.com",
        "Africa's Talking API base URL (sandbox: https://api.sandbox.africastalking.com)",
        "URL",
    ),
    Setting(
        "QMOI_NOTIFY_SMS_USERNAME",
        None,
        "Africa's Talking username",
        where="required when QMOI_NOTIFY_SMS_API_KEY is set",
    ),
    Setting(
        "QMOI_NOTIFY_SMS_API_KEY",
        None,
        "Africa's Talking API key",
        unset="no SMS",
    ),
    Setting(
        "QMOI_NOTIFY_SMS_TO",
        None,
        "numbers to text, comma-separated",
        "list of phone numbers",
        "the owner's M-Pesa number",
    ),
    Setting("QMOI_NOTIFY_SMS_FROM", None, "registered sender id or short code (optional)"),
)

#: The catalogue, by section, in the order the documentation lists it.
SECTIONS: tuple[tuple[str, tuple[Setting, ...]], ...] = (
    ("Airtel Money", AIRTEL),
    ("M-Pesa", MPESA),
    ("Targets, transfers and QMOI itself", QMOI),
    ("Notifications", NOTIFY),
)
CATALOGUE: tuple[Setting, ...] = tuple(s for _, group in SECTIONS for s in group)

#: Every variable QMOI reads, with its default (None: unset) and a one-line meaning.
VARIABLES: dict[str, tuple[str | None, str]] = {s.name: (s.default, s.meaning) for s in CATALOGUE}
