"""Delivering the owner's notifications ("notify master") through every configured
channel, each on its own: a webhook that is down does not hold back the email, and no
channel ever holds back money movement (this runs as its own worker job, after the
outbox row was committed with the event that caused it).

Each (notification, channel) is a row in the delivery log: claimed with a lease so that
any number of workers deliver it once, retried with capped exponential backoff, and
given up after :data:`MAX_ATTEMPTS` (or at once when the channel says retrying cannot
help). What failed is counted in ``/metrics`` and kept with its last error.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from qmoi.domain.retry import next_check_in
from qmoi.notify.base import DeliveryFailed, Message
from qmoi.services.context import Services

log = structlog.get_logger("qmoi.services.notify")

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
#: a channel added later is sent what happened in the last day, not the whole history
WINDOW = timedelta(days=1)
FIRST_RETRY_S = 5.0
MAX_RETRY_S = 3600.0


async def deliver_notifications(services: Services, limit: int = 20) -> int:
    """Send what is due on every channel; returns how many were delivered now."""
    channels = services.channels
    if not channels:
        return 0
    with services.uows() as uow:
        uow.deliveries.fan_out(sorted(channels), uow.now - WINDOW, uow.now)
        due = uow.deliveries.claim_due(uow.now, LEASE, limit)
        uow.commit()
    delivered = 0
    for delivery in due:
        channel = channels.get(delivery.channel)
        problem: DeliveryFailed | None = None
        if channel is None:
            problem = DeliveryFailed("the channel is no longer configured", permanent=True)
        else:
            try:
                note = delivery.notification
                await channel.send(
                    Message(
                        note.id,
                        note.kind,
                        note.provider,
                        note.message,
                        note.payload,
                        note.created_at,
                    )  # fmt: skip
                )
            except DeliveryFailed as exc:
                problem = exc
            except Exception as exc:  # a broken channel must not stop the others
                problem = DeliveryFailed(f"{type(exc).__name__} while sending")
        attempt = delivery.attempts + 1
        with services.uows() as uow:
            if problem is None:
                uow.deliveries.delivered(delivery.id, uow.now)
                delivered += 1
            elif problem.permanent or attempt >= MAX_ATTEMPTS:
                uow.deliveries.failed(delivery.id, uow.now, problem.detail)
                log.warning(
                    "notify.gave_up",
                    channel=delivery.channel,
                    kind=delivery.notification.kind,
                    attempts=attempt,
                    error=problem.detail,
                )
            else:
                wait = next_check_in(
                    attempt - 1,
                    f"notify:{delivery.id}",
                    first_s=FIRST_RETRY_S,
                    cap_s=MAX_RETRY_S,
                )
                uow.deliveries.retry(delivery.id, uow.now, uow.now + wait, problem.detail)
                log.info(
                    "notify.retry",
                    channel=delivery.channel,
                    kind=delivery.notification.kind,
                    attempts=attempt,
                    error=problem.detail,
                )
            uow.commit()
    return delivered
