"""The owner's notifications delivered through real channels on 127.0.0.1 — a webhook
that checks the signature, an SMTP server, an Africa's Talking emulator — from the
outbox, on SQLite and PostgreSQL: each channel on its own, retried with backoff, given
up on when it cannot succeed, and logged per channel."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from qmoi.bootstrap import build_services
from qmoi.config import RawValues, build_settings
from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain.clock import ManualClock
from qmoi.notify.base import Channel
from qmoi.notify.build import channels_from
from qmoi.notify.email import EmailChannel
from qmoi.notify.sms import SmsChannel
from qmoi.notify.webhook import WebhookChannel
from qmoi.services.context import Services
from qmoi.services.notify import MAX_ATTEMPTS, deliver_notifications
from qmoi_sandbox.common.server import free_port
from tests.notify.receivers import africas_talking, smtp_server, webhook

SECRET = "whsec-test-0123456789abcdef"


def make_services(
    uows: UnitOfWorkFactory, clock: ManualClock, channels: dict[str, Channel]
) -> Services:
    built, report = build_settings(RawValues({}))
    assert built is not None, report.problems
    return build_services(built, uows, clock, channels=channels)


def notify(services: Services, kind: str = "transfer_completed", text: str = "paid") -> None:
    with services.uows() as uow:
        uow.notifications.add(kind, text, uow.now, provider="airtel", payload={"amount": 2000})
        uow.commit()


def deliveries(services: Services) -> dict[tuple[str, str], int]:
    with services.uows(read_only=True) as uow:
        return uow.deliveries.counts()


async def test_one_notification_reaches_the_webhook_email_and_sms(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    with (
        webhook(SECRET) as (hook_url, hook),
        smtp_server() as (smtp_port, mailbox),
        africas_talking("at-key", "qmoi") as (at_url, gateway),
    ):
        services = make_services(
            uows,
            clock,
            {
                "webhook": WebhookChannel(hook_url, SECRET),
                "email": EmailChannel(
                    "127.0.0.1",
                    smtp_port,
                    "qmoi@example.com",
                    ("owner@example.com",),
                    starttls=False,
                ),  # fmt: skip
                "sms": SmsChannel(at_url, "qmoi", "at-key", ("254708000100",)),
            },
        )
        notify(services, "target_reached", "airtel: today's target is reached")
        assert await deliver_notifications(services) == 3
        assert await deliver_notifications(services) == 0  # nothing twice
    [call] = hook.received
    assert call["body"]["kind"] == "target_reached"
    assert call["body"]["message"] == "airtel: today's target is reached"
    assert call["headers"]["x-qmoi-event"] == "target_reached"
    assert hook.bad_signatures == 0
    [mail] = mailbox
    assert mail["Subject"] == "QMOI: target reached (airtel)"
    assert "today's target is reached" in mail.get_payload()
    [sms] = gateway.sent
    assert sms["to"] == "+254708000100"
    assert "target reached" in sms["message"]
    assert deliveries(services) == {
        ("email", "delivered"): 1,
        ("sms", "delivered"): 1,
        ("webhook", "delivered"): 1,
    }


async def test_a_failing_webhook_is_retried_with_backoff_and_blocks_no_other_channel(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    with webhook(SECRET, failures=[503, 500]) as (hook_url, hook), smtp_server() as (port, box):
        services = make_services(
            uows,
            clock,
            {
                "webhook": WebhookChannel(hook_url, SECRET),
                "email": EmailChannel(
                    "127.0.0.1", port, "q@example.com", ("o@example.com",), starttls=False
                ),
            },
        )
        notify(services)
        assert await deliver_notifications(services) == 1  # the email; the webhook 503
        assert len(box) == 1
        assert await deliver_notifications(services) == 0  # not due yet: backoff
        clock.advance(timedelta(seconds=10))
        assert await deliver_notifications(services) == 0  # 500: later again
        clock.advance(timedelta(seconds=30))
        assert await deliver_notifications(services) == 1
    assert len(hook.received) == 1
    with services.uows(read_only=True) as uow:
        (note,) = uow.notifications.recent()
        log = uow.deliveries.for_notification(note.id)
    assert log["webhook"] == ("delivered", 3, None)
    assert log["email"] == ("delivered", 1, None)


async def test_a_channel_that_cannot_succeed_is_given_up_and_counted(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    with africas_talking("at-key", "qmoi", invalid={"+254700000001"}) as (at_url, _):
        services = make_services(
            uows,
            clock,
            {
                "webhook": WebhookChannel(dead, SECRET),
                "sms": SmsChannel(at_url, "qmoi", "at-key", ("254700000001",)),
            },
        )
        notify(services)
        for _ in range(MAX_ATTEMPTS + 1):
            await deliver_notifications(services)
            clock.advance(timedelta(hours=2))
    assert deliveries(services) == {("sms", "failed"): 1, ("webhook", "failed"): 1}
    with services.uows(read_only=True) as uow:
        (note,) = uow.notifications.recent()
        log = uow.deliveries.for_notification(note.id)
    assert log["sms"][:2] == ("failed", 1)  # an invalid number: no retry
    assert log["webhook"][:2] == ("failed", MAX_ATTEMPTS)
    assert "unreachable" in (log["webhook"][2] or "")


async def test_workers_delivering_at_once_send_each_notification_once(
    uows: UnitOfWorkFactory, clock: ManualClock
) -> None:
    with webhook(SECRET) as (hook_url, hook):
        services = make_services(uows, clock, {"webhook": WebhookChannel(hook_url, SECRET)})
        for n in range(12):
            notify(services, text=f"transfer {n}")
        done = await asyncio.gather(
            *(asyncio.to_thread(asyncio.run, deliver_notifications(services)) for _ in range(3))
        )
    assert sum(done) == 12
    assert sorted(c["body"]["message"] for c in hook.received) == sorted(
        f"transfer {n}" for n in range(12)
    )


def test_channels_come_from_the_environment_and_bad_values_are_named() -> None:
    built, report = build_settings(
        RawValues(
            {
                "QMOI_NOTIFY_WEBHOOK_URL": "https://hooks.example.com/qmoi/",
                "QMOI_NOTIFY_WEBHOOK_SECRET": SECRET,
                "QMOI_NOTIFY_SMS_API_KEY": "k",
                "QMOI_NOTIFY_SMS_USERNAME": "sandbox",
            }
        )
    )
    assert built is not None, report.problems
    channels = channels_from(built.notify)
    assert sorted(channels) == ["sms", "webhook"]
    assert built.notify.sms_to == (built.mpesa.phone_number,)  # the owner by default
    assert any(
        "QMOI_NOTIFY_WEBHOOK_URL: removed the trailing slash" in c for c in report.corrections
    )
    bad, report = build_settings(
        RawValues(
            {
                "QMOI_NOTIFY_WEBHOOK_URL": "https://hooks.example.com/qmoi",
                "QMOI_NOTIFY_SMTP_HOST": "smtp.example.com",
                "QMOI_NOTIFY_EMAIL_FROM": "qmoi@example.com",
                "QMOI_NOTIFY_EMAIL_TO": "owner@example.com, not-an-address",
            }
        )
    )
    assert bad is None
    assert any(p.startswith("QMOI_NOTIFY_WEBHOOK_SECRET: is required") for p in report.problems)
    assert any(p.startswith("QMOI_NOTIFY_EMAIL_TO: 'not-an-address'") for p in report.problems)


def test_sms_numbers_are_stored_in_international_form() -> None:
    built, report = build_settings(RawValues({"QMOI_NOTIFY_SMS_TO": "0712 345 678, +254733123456"}))
    assert built is not None, report.problems
    assert built.notify.sms_to == ("254712345678", "254733123456")
    bad, report = build_settings(RawValues({"QMOI_NOTIFY_SMS_TO": "12345"}))
    assert bad is None
    assert any(p.startswith("QMOI_NOTIFY_SMS_TO:") for p in report.problems)
