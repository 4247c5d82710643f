"""What every use case is handed: units of work, the providers, the policy, the clock,
and a way to nudge the worker (plan transfers now, a payment was just booked)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from qmoi.domain.clock import Clock
from qmoi.domain.streams import StreamKey
from qmoi.notify.base import Channel
from qmoi.providers.base import PaymentProvider, ResultWaiter
from qmoi.services.policy import Policy
from qmoi.services.ports import UnitOfWorkFactory


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Services:
    uows: UnitOfWorkFactory
    providers: Mapping[str, PaymentProvider]
    policy: Policy
    clock: Clock
    #: the account reference shown on collection prompts, per provider
    account_references: Mapping[str, str] = field(default_factory=dict)
    #: called after a payment is booked, so auto-transfers are planned without waiting
    wake: Callable[[], None] = _nothing
    #: where Daraja's result callbacks meet the calls waiting for them (this process)
    results: ResultWaiter | None = None
    #: sandbox only: simulated customers per provider and stream (the traffic model)
    sandbox_customers: Mapping[str, Mapping[StreamKey, Sequence[str]]] | None = None
    #: where the owner's notifications go (webhook, email, SMS), by channel name
    channels: Mapping[str, Channel] = field(default_factory=dict)
