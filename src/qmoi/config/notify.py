"""Where the owner's notifications go (webhook, email, SMS); each channel is on when its
address is set, and its other settings are then required."""

from __future__ import annotations

import re

from qmoi.config.models import NotifySettings
from qmoi.config.reader import Reader
from qmoi.domain.msisdn import normalise_msisdn

EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


def _listed(reader: Reader, name: str, pattern: re.Pattern[str], example: str) -> tuple[str, ...]:
    items = tuple(x.strip() for x in (reader.text(name) or "").split(",") if x.strip())
    for item in items:
        if not pattern.match(item):
            reader.problem(
                name, f"{item!r} is not valid", f"give a comma-separated list like {example}"
            )
    return items


def _phones(reader: Reader, name: str) -> tuple[str, ...]:
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


def read_notify(reader: Reader, owner_phone: str) -> NotifySettings:
    """The channels; SMS goes to the owner's M-Pesa number unless others are given."""
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
