"""The worker loop: inbox, auto-transfer planning, sending and resolving transfers,
resolving collections, day roll-over and (sandbox) the sales cycle.

Each job runs on its own cadence and is safe to run in several processes at once: work
is claimed with ``SKIP LOCKED`` leases, chunk identities and job slots are unique in the
database. The container's doorbell (rung by the services from any thread, e.g. when a
callback arrives) makes the next round start now, so a payment is booked and its
auto-transfer planned within moments.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog

from qmoi.bootstrap import Doorbell
from qmoi.domain.streams import StreamKey
from qmoi.services import callbacks, days, health, notify, reconcile, resolver, sales, transfers
from qmoi.services.context import Services
from qmoi.services.notices import check_targets

log = structlog.get_logger("qmoi.worker")

#: batches of due collections resolved in one round while a backlog keeps them full
BACKLOG_BATCHES = 4


@dataclass
class Cadence:
    """Seconds (real time) between runs of each job."""

    inbox: float = 0.2
    plan: float = 2.0
    transfers: float = 0.5
    collections: float = 1.0
    rollover: float = 15.0
    fees: float = 2.0
    notify: float = 1.0
    probe: float = 15.0
    sales: float = 0.5
    reconcile: float = 30.0


class Worker:
    def __init__(
        self,
        services: Services,
        *,
        cadence: Cadence | None = None,
        sales_customers: Mapping[str, Mapping[StreamKey, Sequence[str]]] | None = None,
        seed: int | None = None,
        name: str | None = None,
        jobs: frozenset[str] | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        self.services = services
        self.cadence = cadence or Cadence()
        self.sales_customers = sales_customers
        self.rng = random.Random(seed)  # noqa: S311 - sandbox simulation only
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        #: the services ring it (see ``Services.wake``) when work arrives
        self.doorbell = doorbell or Doorbell()
        self._last: dict[str, float] = {}
        #: the reconciliation pass waits for providers' answers (Daraja's come by
        #: callback): it runs beside the loop, never holding up the inbox or payouts
        self._reconciling: asyncio.Task[None] | None = None
        #: due collections were left after the last round's batches
        self._backlog = False
        #: which jobs this worker runs (None: all); an API process drains only the inbox
        self.jobs = jobs

    def wake(self) -> None:
        """Start the next round now; callable from any thread."""
        self.doorbell.ring()

    async def run(self, stop: asyncio.Event, *, jobs: frozenset[str] | None = None) -> None:
        """Run rounds until ``stop``; ``jobs``: only these (an API process drains only
        the inbox), else the ones given at construction."""
        if jobs is not None:
            self.jobs = jobs
        self.doorbell.listen()
        log.info("worker.started", name=self.name)
        while not stop.is_set():
            await self.round()
            try:
                await asyncio.wait_for(self.doorbell.event.wait(), timeout=self.cadence.inbox)
            except TimeoutError:
                pass
            self.doorbell.event.clear()
        if self._reconciling is not None:
            self._reconciling.cancel()
            await asyncio.gather(self._reconciling, return_exceptions=True)
        log.info("worker.stopped", name=self.name)

    async def round(self, *, force: bool = False) -> None:
        """Run every job that is due (all of them with ``force``)."""
        woken = self.doorbell.event.is_set()
        services = self.services
        await self._job("inbox", 0.0, self._drain_inbox)
        await self._job("plan", 0.0 if woken or force else self.cadence.plan, self._plan)
        await self._job(
            "transfers",
            0.0 if force else self.cadence.transfers,
            lambda: resolver.resolve_transfers(services),
        )
        await self._job(
            "collections",
            0.0 if force or self._backlog else self.cadence.collections,
            self._resolve_collections,
        )
        await self._job("rollover", 0.0 if force else self.cadence.rollover, self._rollover)
        await self._job(
            "fees", 0.0 if force else self.cadence.fees, lambda: transfers.collect_fees(services)
        )
        await self._job(
            "probe",
            0.0 if force else self.cadence.probe,
            lambda: health.probe_providers(services),
        )
        await self._job(
            "notify",
            0.0 if force else self.cadence.notify,
            lambda: notify.deliver_notifications(services),
        )
        await self._job("reconcile", 0.0 if force else self.cadence.reconcile, self._reconcile)
        if self.sales_customers is not None:
            await self._job("sales", self.cadence.sales, self._sales)

    async def _job(self, name: str, every: float, run: Callable[[], Awaitable[object]]) -> None:
        if self.jobs is not None and name not in self.jobs:
            return
        now = time.monotonic()
        if now - self._last.get(name, -1e9) < every:
            return
        self._last[name] = now
        try:
            await run()
        except Exception:  # a failing job must not stop the others (or the loop)
            log.exception("worker.job_failed", job=name)

    async def _drain_inbox(self) -> int:
        total = 0
        while count := await asyncio.to_thread(callbacks.process_inbox, self.services):
            total += count
        return total

    async def _plan(self) -> None:
        for provider in self.services.policy.providers:
            await asyncio.to_thread(transfers.plan_auto_transfers, self.services, provider)
        await asyncio.to_thread(check_targets, self.services)

    async def _resolve_collections(self) -> int:
        """Due collections, batch after batch while full ones come: every hint and every
        answer-less push costs an enquiry, and a backlog must not wait a round per batch
        (the chaos run found first enquiries two real minutes late)."""
        total, self._backlog = 0, False
        for _ in range(BACKLOG_BATCHES):
            done = await resolver.resolve_collections(self.services, resolver.BATCH)
            total += done
            if done < resolver.BATCH:
                return total
        self._backlog = True  # more are due: the next round comes at once, inbox first
        self.wake()
        return total

    async def _rollover(self) -> None:
        await asyncio.to_thread(days.roll_over, self.services)

    async def _reconcile(self) -> None:
        if self._reconciling is None or self._reconciling.done():
            self._reconciling = asyncio.create_task(self._reconcile_once())

    async def _reconcile_once(self) -> None:
        """Each provider's closed yesterday, once (a job slot per provider and day, so
        one worker of many does it); and the opening float, until it is known."""
        try:
            await self._reconcile_pass()
        except Exception:  # a failed pass is told in the log; the next one tries again
            log.exception("worker.job_failed", job="reconcile")

    async def _reconcile_pass(self) -> None:
        services = self.services
        await reconcile.record_opening(services)
        with services.uows() as uow:
            day = reconcile.due_day(services, uow.now)
            due = [
                p
                for p in services.policy.providers
                if uow.totals.close_of(p, day) is not None
                and uow.slots.claim("reconcile", f"{p}:{day.isoformat()}", self.name, uow.now)
            ]
            uow.commit()
        for provider in due:
            await reconcile.reconcile(services, provider, day)

    async def _sales(self) -> None:
        assert self.sales_customers is not None  # noqa: S101
        await sales.run_cycle(self.services, self.sales_customers, self.rng, owner=self.name)
