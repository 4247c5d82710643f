"""Each provider's section, and the rules that depend on its environment: credentials
required outside the sandbox, payout credentials required in production, the owner's
number defaulting to the emulator's test customer in the sandbox."""

from __future__ import annotations

import re

from qmoi.config.airtel_country import owner_example, read_country, sandbox_owner
from qmoi.config.catalogue import SANDBOX_OWNER_MPESA, VARIABLES
from qmoi.config.models import AirtelSettings, Environment, MpesaSettings
from qmoi.config.reader import Reader, key_values, pem_or_path, stream_key
from qmoi.domain.streams import StreamKey


def environment_of(reader: Reader, name: str, has_credentials: bool) -> Environment:
    """Unset means the sandbox, unless credentials are set: then the provider's test system."""
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


def read_airtel(reader: Reader, public_url: str | None) -> AirtelSettings:
    """Airtel's section; the callback URL defaults to one under QMOI's public URL. When
    disabled, nothing in it is required or checked."""
    enabled = reader.boolean("AIRTEL_ENABLED")
    reader = reader if enabled else reader.muted()
    client_id = reader.text("AIRTEL_CLIENT_ID")
    client_secret = reader.secret("AIRTEL_CLIENT_SECRET")
    env = environment_of(reader, "AIRTEL_ENVIRONMENT", bool(client_id or client_secret))
    country, currency = read_country(reader)
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
            owner_example(country),
            sandbox_owner(country) if env is Environment.SANDBOX else None,
            country,
        ),
        country=country,
        currency=currency,
        pin=pin,
        public_key=pem_or_path(reader, "AIRTEL_PUBLIC_KEY"),
        base_url=reader.url("AIRTEL_BASE_URL"),
        account_reference=reader.text("AIRTEL_ACCOUNT_REFERENCE") or "QMOI_AIRTEL",
        transaction_desc=reader.text("AIRTEL_TRANSACTION_DESC") or "QMOI Airtel Revenue",
        callback_url=callback_url,
        message_signing=reader.boolean("AIRTEL_MESSAGE_SIGNING"),
        callback_auth=callback_auth,
        callback_secret=callback_secret,
        debug=reader.boolean("DEBUG_AIRTEL"),
        enabled=enabled,
    )


def _limited(reader: Reader, name: str, limit: int) -> str:
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


def read_mpesa(reader: Reader) -> MpesaSettings:
    """M-Pesa's section, with Daraja's limits on the texts it shows. When disabled,
    nothing in it is required or checked."""
    enabled = reader.boolean("MPESA_ENABLED")
    reader = reader if enabled else reader.muted()
    key = reader.secret("MPESA_CONSUMER_KEY")
    secret = reader.secret("MPESA_CONSUMER_SECRET")
    env = environment_of(reader, "MPESA_ENVIRONMENT", bool(key or secret))
    shortcode = reader.text("MPESA_SHORTCODE")
    if shortcode is not None and not re.fullmatch(r"\d{5,7}", shortcode):
        reader.problem("MPESA_SHORTCODE", f"{shortcode!r} is not a shortcode", "give 5–7 digits")
    till = reader.text("MPESA_TILL_NUMBER")
    if till is not None and not re.fullmatch(r"\d{5,8}", till):
        reader.problem("MPESA_TILL_NUMBER", f"{till!r} is not a till number", "give its digits")
    initiator_password = reader.secret("MPESA_INITIATOR_PASSWORD")
    initiator = reader.text("MPESA_INITIATOR_NAME")
    passkey = reader.secret("MPESA_PASSKEY")
    certificate = pem_or_path(reader, "MPESA_CERTIFICATE")
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
    for prefix, stream_text in key_values(reader, "MPESA_C2B_RULES"):
        stream = stream_key(reader, "MPESA_C2B_RULES", stream_text)
        if stream is not None:
            rules.append((prefix.upper(), stream))
    default_stream = stream_key(
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
            "set it to Safaricom's published callback addresses (see "
            "docs/providers/mpesa.md), comma-separated",
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
        enabled=enabled,
    )
