"""QMOI as separate processes over real HTTP: ``qmoi api`` plus ``qmoi worker`` processes,
both provider emulators on loopback, revenue driven through the API, and the books held
against what the emulators really did with the money.

* A worker killed with SIGKILL while transfers are in flight, restarted, killed again…:
  afterwards no chunk is paid twice, none is lost, and the ledger and the emulator agree.
* Three workers on one PostgreSQL database at once: the same books as one worker would
  keep, no transfer sent twice, and the work really shared between them.

Each scenario runs per provider (the workers always run both). On M-Pesa the payout's
result and the status answers arrive as callbacks at the API process, and the fee is
learned by a later status enquiry, so these runs also prove that a worker in another
process hears them. A last, short test replays an Idempotency-Key through the API on
PostgreSQL, where a fresh key was once refused as "in progress" (rowcount -1 after
ON CONFLICT DO NOTHING).

A ``qmoi worker`` has no faster clock, so after a SIGKILL its claims would hold for
their whole lease in real time (a minute or more); the kill test moves the schedule of
the open items to "now" instead (``expire_leases``) — only the schedule, never a state.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from qmoi.db.engine import create_db_engine
from qmoi_chaos.books import (
    Books,
    check_collections,
    check_transfers,
    expire_leases,
    payout_reference,
    read_books,
)
from qmoi_chaos.processes import (
    Emulators,
    Process,
    Processes,
    Qmoi,
    emulators,
    wait_ready,
    wait_until,
)
from qmoi_sandbox.common.server import free_port

pytestmark = [pytest.mark.transfer, pytest.mark.revenue, pytest.mark.slow]

PROVIDERS = ["airtel", "mpesa"]

SPEED = 300.0  # emulator clock: a customer's 1-5 simulated seconds are a few milliseconds
OPENING_MINOR = 100_000_000  # both emulators' opening float
#: auto-transfer chunk per provider, KES. Daraja charges 22.40 a payout: once fees are
#: booked, the last of n chunks is affordable only if earned - n × chunk ≥ (n - 1) × 22.40,
#: which 600 leaves room for (3 waves: 10 chunks, 450 over; 5 waves: 17 chunks, 550 over).
CHUNK_KES = {"airtel": 250, "mpesa": 600}
#: what each wave's approving customers pay, KES (2,150 a wave)
WAVE_KES = (120, 180, 250, 310, 95, 400, 275, 130, 205, 185)
DECLINES_PER_WAVE = 2
#: generous: on two busy cores a killed worker's lease and the enquiries after it take
#: tens of seconds (35 s failed under a full parallel test run)
DRAIN_TIMEOUT_S = 90.0


@dataclass
class Deployment:
    provider: str
    emu: Emulators
    qmoi: Qmoi
    processes: Processes
    api: httpx.Client
    engine: Engine
    api_process: Process

    @property
    def chunk_minor(self) -> int:
        return CHUNK_KES[self.provider] * 100

    def books(self) -> Books:
        return read_books(self.engine, self.provider)

    def wave(self, label: str) -> int:
        """One wave of sales on the provider through the API: new customers who approve
        and a few who decline. Returns what the approving ones pay, in minor units."""
        approving = self.emu.customers(self.provider, len(WAVE_KES), 1.0, f"{label}-yes")
        declining = self.emu.customers(self.provider, DECLINES_PER_WAVE, 0.0, f"{label}-no")
        requests = [
            {"msisdn": m, "amount": kes, "stream": "airtime_sales"}
            for m, kes in zip(approving, WAVE_KES, strict=True)
        ] + [{"msisdn": m, "amount": 100, "stream": "data_packages"} for m in declining]
        answer = self.api.post(
            f"{self.qmoi.api_url}/api/qmoi/revenue/{self.provider}/generate",
            json={"requests": requests},
        )
        assert answer.status_code == 202, answer.text
        assert len(answer.json()["collections"]) == len(requests)
        return sum(WAVE_KES) * 100

    def payouts(self) -> list[dict[str, Any]]:
        """The emulator's disbursements, whatever their status."""
        return self.emu.transactions(self.provider, kind="disbursement")

    def withhold_payout_answers_until_one_is_made(self) -> None:
        """From now on the emulator executes each write and withholds its answer; return
        once it has made a payout (whose answer its caller is now waiting for)."""
        before = len(self.payouts())
        self.emu.faults(self.provider, timeout_after_accept_rate=1.0, timeout_hold_s=8.0)
        wait_until(lambda: len(self.payouts()) > before, timeout_s=20, what="a payout made")

    def wait_for_payout_in_flight(self, worker: Process) -> None:
        wait_until(
            lambda: bool(_in_flight(worker)),
            timeout_s=20,
            what=f"a payout in flight in {worker.name}",
        )

    def start_worker(self, name: str) -> Process:
        worker = self.processes.worker(name)
        wait_until(
            lambda: "QMOI worker" in worker.output() or not worker.alive(),
            timeout_s=30,
            what=f"{name} to start",
        )
        assert worker.alive(), worker.output()
        return worker

    def errors(self) -> list[tuple[str, object, object]]:
        """Error records any QMOI process (any life of it) has logged: (process, event,
        reference). The JSON log carries no traceback, only the event."""
        return [
            (process.name, event.get("event"), event.get("reference"))
            for process in self.processes.started
            for event in process.events()
            if event.get("level") in ("error", "critical")
        ]

    def drain(self, workers: list[Process]) -> Books:
        """Wait until nothing is open and nothing has moved for a few seconds (longer
        than the planner's cadence), or fail saying what is stuck."""
        last: tuple[object, ...] | None = None
        since = time.monotonic()
        deadline = since + DRAIN_TIMEOUT_S
        while True:
            for process in (*workers, self.api_process):
                assert process.alive(), f"{process.name} died:\n{process.output()[-3000:]}"
            assert not self.errors(), f"errors logged: {self.errors()}"
            books = self.books()
            emulated = self.emu.transactions(self.provider)
            settled = (
                not books.open_collections
                and not books.open_transfers
                and books.inbox_waiting == 0
                and not [x for x in emulated if x["status"] == "pending"]
            )
            if books.fingerprint() != last or not settled:
                last, since = books.fingerprint(), time.monotonic()
            elif time.monotonic() - since > 4.0:
                return books
            assert time.monotonic() < deadline, (
                f"not settled after {DRAIN_TIMEOUT_S:g} s: open collections "
                f"{[(c['reference'], c['state']) for c in books.open_collections]}, open "
                f"transfers {[(x['reference'], x['state']) for x in books.open_transfers]}, "
                f"{books.inbox_waiting} callbacks waiting, "
                f"{len([x for x in emulated if x['status'] == 'pending'])} pending in the "
                f"emulator, books {'still moving' if settled else 'open'} "
                f"(last seen {books.fingerprint()})"
            )
            time.sleep(0.3)

    def verify(self, earned_minor: int) -> Books:
        books = self.books()
        truth = self.emu.transactions(self.provider)
        wallet = self.emu.client.get(f"{self.emu.url(self.provider)}/sandbox/wallet").json()
        check_collections(books, truth, earned_minor)
        check_transfers(books, truth, self.chunk_minor, OPENING_MINOR, wallet["balance_minor"])
        assert not self.errors(), f"errors logged: {self.errors()}"
        for command in (("ledger", "verify"), ("audit", "verify")):
            result = self.qmoi.run(*command)
            assert result.returncode == 0, (
                f"qmoi {' '.join(command)}: {result.stdout}{result.stderr}"
            )
        return books


@contextmanager
def deployment(root: Path, database_url: str, provider: str, seed: int) -> Iterator[Deployment]:
    """Both emulators, and ``qmoi api`` serving on a free port; workers are the test's."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    with emulators(api_url=api_url, speed=SPEED, seed=seed, customer_delay_s=(1.0, 5.0)) as emu:
        qmoi = Qmoi(
            root,
            database_url,
            emu,
            port,
            extra={
                "QMOI_AUTO_TRANSFER_AIRTEL": str(CHUNK_KES["airtel"]),
                "QMOI_AUTO_TRANSFER_MPESA": str(CHUNK_KES["mpesa"]),
            },
        )
        processes = Processes(qmoi)
        engine = create_db_engine(database_url, pool_size=2)
        headers = {"Authorization": f"Bearer {qmoi.master_key}"}
        try:
            with httpx.Client(timeout=30.0, headers=headers) as client:
                api = processes.api()
                wait_ready(client, api, api_url)
                yield Deployment(provider, emu, qmoi, processes, client, engine, api)
        finally:
            processes.close()
            engine.dispose()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_worker_killed_mid_transfer_and_restarted_pays_every_chunk_exactly_once(
    tmp_path: Path, sqlite_url: str, provider: str
) -> None:
    """Three waves of sales; during each, SIGKILL the only worker while payouts are in
    flight, then restart it. Wave 1: anywhere inside a payout (every emulator answer
    comes 300 ms late). Waves 2 and 3: after the emulator has paid but before QMOI hears
    it (the payout's answer is withheld). Afterwards each chunk is paid exactly once,
    none is lost, and the books match the emulator's."""
    rng = random.Random(5)
    with deployment(tmp_path, sqlite_url, provider, seed=11) as d:
        workers = [d.start_worker("worker-1")]
        earned = 0
        paid_unheard: set[str] = set()
        for wave, moment in enumerate(("mid_call", "answer_lost", "answer_lost"), start=1):
            d.emu.faults(provider, latency_ms=300, timeout_after_accept_rate=0.0)
            earned += d.wave(f"w{wave}")
            current = workers[-1]
            if moment == "answer_lost":
                d.withhold_payout_answers_until_one_is_made()
            else:
                d.wait_for_payout_in_flight(current)
                time.sleep(rng.uniform(0.0, 0.6))
            in_flight = _in_flight(current)
            current.kill()
            paid_unheard |= in_flight & {payout_reference(provider, x) for x in d.payouts()}
            d.emu.faults(provider, timeout_after_accept_rate=0.0)
            expire_leases(d.engine)
            workers.append(d.start_worker(f"worker-{len(workers) + 1}"))
        assert paid_unheard, "no kill caught a payout the emulator made and QMOI had not heard"
        d.emu.faults(provider, latency_ms=0)
        books = d.drain([workers[-1]])
        assert books.earned_minor == earned, _ended(books)
        d.verify(earned)


@pytest.mark.postgres
@pytest.mark.parametrize("provider", PROVIDERS)
def test_three_workers_on_postgresql_keep_the_same_books_as_one(
    tmp_path: Path, postgres_url: str, provider: str
) -> None:
    """Three workers against one PostgreSQL database while sales arrive in waves: the
    books are what one worker keeps (every payment once, floor(earned / chunk) chunks
    each paid once), no payout is ever sent twice, and more than one worker did work."""
    with deployment(tmp_path, postgres_url, provider, seed=23) as d:
        d.emu.faults(provider, latency_ms=150)
        workers = [d.start_worker(f"worker-{n}") for n in (1, 2, 3)]
        earned = 0
        for wave in range(1, 6):
            earned += d.wave(f"w{wave}")
            time.sleep(1.0)
        d.emu.faults(provider, latency_ms=0)
        books = d.drain(workers)
        assert books.earned_minor == earned, _ended(books)
        d.verify(earned)
        sends = Counter(
            e["reference"] for w in workers for e in w.events() if e["event"] == "transfer.sending"
        )
        assert sends == Counter(x["reference"] for x in books.transfers), "a payout sent twice"
        busy = {w.name for w in workers if _did_work(w.events())}
        assert len(busy) >= 2, f"only {busy} did any work"


def _ended(books: Books) -> str:
    """How the collections ended, counted by state and reason: what a shortfall needs."""
    ended = Counter(f"{c['state']}/{c['reason']}" for c in books.collections)
    return f"collections by state/reason: {dict(ended)}"


def _in_flight(worker: Process) -> set[str]:
    """References of the payouts this worker has started sending and not finished."""
    sending: set[str] = set()
    for event in worker.events():
        if event.get("event") == "transfer.sending":
            sending.add(str(event["reference"]))
        elif event.get("event") in ("transfer.moved", "transfer.advance_failed"):
            sending.discard(str(event["reference"]))
    return sending


def _did_work(events: list[dict[str, Any]]) -> bool:
    work = {"transfer.planned", "transfer.sending", "transfer.moved", "collection.moved"}
    return any(e.get("event") in work for e in events)


@pytest.mark.postgres
def test_a_first_idempotency_key_on_postgresql_starts_collections_and_replays_after(
    tmp_path: Path, postgres_url: str
) -> None:
    """The same generate request twice with one Idempotency-Key on PostgreSQL: the first
    starts the push, the second replays its answer and starts nothing."""
    with deployment(tmp_path, postgres_url, "airtel", seed=31) as d:
        (msisdn,) = d.emu.customers("airtel", 1, 1.0, "idempotent")
        url = f"{d.qmoi.api_url}/api/qmoi/revenue/airtel/generate"
        body = {"requests": [{"msisdn": msisdn, "amount": 150, "stream": "airtime_sales"}]}
        first = d.api.post(url, json=body, headers={"Idempotency-Key": "order-1"})
        assert first.status_code == 202, first.text
        again = d.api.post(url, json=body, headers={"Idempotency-Key": "order-1"})
        assert again.status_code == 202, again.text
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == first.json()
        assert len(d.emu.transactions("airtel", kind="collection")) == 1
