"""Email over SMTP (stdlib ``smtplib`` in a thread), STARTTLS when configured."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

from qmoi.notify.base import DeliveryFailed, Message

TIMEOUT_S = 15.0


class EmailChannel:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: tuple[str, ...],
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._recipients = recipients
        self._username = username
        self._password = password
        self._starttls = starttls

    async def send(self, message: Message) -> None:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = ", ".join(self._recipients)
        email["Subject"] = message.subject
        email["Message-ID"] = f"<qmoi-notification-{message.id}@qmoi>"
        email.set_content(f"{message.text}\n\n{message.created_at.isoformat()}\n")
        await asyncio.to_thread(self._send, email)

    def _send(self, email: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=TIMEOUT_S) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username and self._password:
                    smtp.login(self._username, self._password)
                smtp.send_message(email)
        except smtplib.SMTPAuthenticationError:
            raise DeliveryFailed("the SMTP server refused the login", permanent=True) from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryFailed("the SMTP server refused the recipients", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP failed ({type(exc).__name__})") from None
