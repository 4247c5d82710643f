"""The sandbox traffic model: every cycle (5 simulated minutes), for each
provider and stream, one simulated customer is asked for a uniformly random whole-shilling
amount in the stream's range, scaled to whole units of the provider's currency by an
illustrative factor (``SANDBOX_UNITS_PER_KES``, so UGX sales look like UGX amounts); the
emulator's customer approves with the stream's success rate or fails with the network's
real codes. Sandbox only — and the resulting revenue is still only what the emulator
confirms.

A cycle is claimed through a job slot (one per provider and cycle start), so several
workers never run the same cycle twice.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import structlog

from qmoi.domain.collection import Collection
from qmoi.domain.countries import sandbox_units
from qmoi.domain.money import Money, exponent
from qmoi.domain.streams import STREAMS, StreamKey
from qmoi.services.collections import PaymentRequest, start_collections
from qmoi.services.context import Services
from qmoi.services.metrics import figures

log = structlog.get_logger("qmoi.services.sales")

CYCLE_S = 300


def cycle_slot(now: datetime) -> datetime:
    """Start of the 5-minute cycle ``now`` falls in."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % CYCLE_S, UTC)


async def run_cycle(
    services: Services,
    customers: Mapping[str, Mapping[StreamKey, Sequence[str]]],
    rng: random.Random,
    owner: str = "worker",
    slot: str | None = None,
) -> list[Collection]:
    """One sales cycle for every provider (unless its target is met and the policy says
    stop); returns the collections started. ``slot`` names the run (default: the current
    5-minute cycle, so that several workers run each cycle once)."""
    policy = services.policy
    if not policy.sandbox:
        raise RuntimeError("simulated sales exist only in the sandbox")
    started: list[Collection] = []
    now = services.clock.now()
    slot = slot or cycle_slot(now).isoformat()
    current = figures(services) if policy.stop_at_target else {}
    for provider, pools in customers.items():
        with services.uows() as uow:
            claimed = uow.slots.claim(f"sales:{provider}", slot, owner, uow.now)
            uow.commit()
        if not claimed:
            continue
        f = current.get(provider)
        if f is not None and f.day_earned >= f.target:
            continue  # as in the original design: no new sales once the day's target is met
        requests = []
        currency = policy.provider(provider).currency
        unit = 10 ** exponent(currency)
        for stream in STREAMS:
            pool = pools.get(stream.key)
            if not pool:
                continue
            shillings = rng.randint(
                stream.sandbox_min.minor // 100, stream.sandbox_max.minor // 100
            )
            requests.append(
                PaymentRequest(
                    msisdn=rng.choice(list(pool)),
                    amount=Money(sandbox_units(shillings, currency) * unit, currency),
                    stream=stream.key,
                    reference=f"SIM-{stream.key.value[:4].upper()}",
                )
            )
        started += await start_collections(services, provider, requests, actor="sandbox")
    return started
