"""The channels the configuration turns on."""

from __future__ import annotations

from qmoi.config import NotifySettings
from qmoi.notify.base import Channel
from qmoi.notify.email import EmailChannel
from qmoi.notify.sms import SmsChannel
from qmoi.notify.webhook import WebhookChannel


def channels_from(settings: NotifySettings) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    if settings.webhook_url and settings.webhook_secret:
        channels["webhook"] = WebhookChannel(
            settings.webhook_url, settings.webhook_secret.get_secret_value()
        )
    if settings.smtp_host and settings.email_from and settings.email_to:
        channels["email"] = EmailChannel(
            settings.smtp_host,
            settings.smtp_port,
            settings.email_from,
            settings.email_to,
            username=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        )
    if settings.sms_api_key and settings.sms_username and settings.sms_to:
        channels["sms"] = SmsChannel(
            settings.sms_url,
            settings.sms_username,
            settings.sms_api_key.get_secret_value(),
            settings.sms_to,
            sender=settings.sms_from,
        )
    return channels
