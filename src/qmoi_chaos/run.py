"""The chaos run: QMOI as separate processes under a seeded schedule of faults, then its
books held against the emulators' ground truth.

What runs (all on 127.0.0.1): both emulators, each in a process of its own; on
PostgreSQL a private server (:mod:`qmoi_chaos.postgres`) with ``--apis`` ``qmoi api``
processes behind a round-robin balancer (:mod:`qmoi_chaos.balancer`: the one callback
URL providers know) and ``--workers`` ``qmoi worker`` processes; on SQLite one
``qmoi api --with-worker``. All of them and both emulators tell the time of one
accelerated clock (``--sandbox-clock``), fast enough that ``days`` simulated days pass
while the attempts are made: each attempt is a payment request sent through the API at
its moment of the simulated week, so every day has its share and its own auto-transfer
chunks and day close.

What goes wrong, all drawn from ``seed``: every emulator fault at the configured rates
for the whole traffic phase (5xx answers, answers withheld after the request was
executed, lost / duplicated / late / out-of-order callbacks, enquiries answering
in-progress or ambiguous, early token expiry, M-Pesa queue timeouts), windows in which
the float is held so payouts are refused for want of funds, SIGKILL of random API and
worker processes (a worker preferably while it is sending a payout), each restarted a
moment later, and restarts of the PostgreSQL server. Beside them, unless left out, an attacker
(:mod:`qmoi_chaos.attacker`, a process of its own) posts forged, replayed and altered
callbacks of every kind to QMOI's public callback URL; with ``airtel_hash`` off the Airtel
emulator signs nothing and QMOI checks no hash, so every Airtel callback is only a hint.

Then the faults stop, every process is brought back, and the run waits until nothing is
open in QMOI or pending in the emulators and nothing has moved for a while; then it
compares (:mod:`qmoi_chaos.truth`), runs ``qmoi ledger verify`` and ``qmoi audit
verify``, and reports — including how many forged callbacks QMOI acted on, read from
its inbox by the marker every forgery carries.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from qmoi.db.engine import create_db_engine
from qmoi_chaos.attacker import EFFECTIVE, MARKER, AttackLog, Spec, attacking, marker_of, read_log
from qmoi_chaos.balancer import balancer
from qmoi_chaos.books import Books, expire_leases, read_books, read_inbox
from qmoi_chaos.postgres import PrivateCluster, find_bindir
from qmoi_chaos.processes import Emulators, Process, Processes, Qmoi, wait_ready, wait_until
from qmoi_chaos.truth import Comparison, compare
from qmoi_sandbox.common.server import free_port

PROVIDERS = ("airtel", "mpesa")
STREAMS = (
    "mobile_services",
    "digital_payments",
    "airtime_sales",
    "data_packages",
    "utility_payments",
)
OPENING_MINOR = 100_000_000  # both emulators' opening float
#: the simulated week starts on a Monday at midnight in Nairobi
SIM_START = datetime.fromisoformat("2026-12-07T00:00:00+03:00")
AMOUNT_KES = (50, 1500)  # what a customer is asked to pay, whole shillings
APPROVE_RATE = 0.85
CUSTOMERS = 400  # per provider
CALLBACK_KEY = "chaos-callback-key-0123456789abcdef"  # noqa: S105 - emulator's sandbox key


@dataclass
class Faults:
    """Emulator fault rates (probabilities) for the traffic phase; durations simulated
    seconds unless named ``_real_s``."""

    error_rate: float = 0.03
    timeout_after_accept_rate: float = 0.02
    timeout_hold_real_s: float = 1.5
    lost_callback_rate: float = 0.05
    duplicate_callback_rate: float = 0.05
    late_callback_rate: float = 0.03
    late_callback_delay_s: float = 900.0
    out_of_order_callback_rate: float = 0.05
    out_of_order_max_delay_s: float = 300.0
    early_token_expiry_rate: float = 0.02
    #: enquiries still answer "in progress" this long (real seconds) after the end: in
    #: real time, as a worker's enquiry comes a real moment after the end
    enquiry_pending_real_s: float = 0.5
    ambiguous_enquiry_rate: float = 0.03
    queue_timeout_rate: float = 0.02  # M-Pesa only
    #: windows in which the float is held, so payouts are refused for want of funds
    float_holds: int = 3
    float_hold_real_s: float = 3.0

    def settings(self, provider: str, speed: float) -> dict[str, Any]:
        found = {
            "error_rate": self.error_rate,
            "timeout_after_accept_rate": self.timeout_after_accept_rate,
            "timeout_hold_s": self.timeout_hold_real_s,
            "lost_callback_rate": self.lost_callback_rate,
            "duplicate_callback_rate": self.duplicate_callback_rate,
            "late_callback_rate": self.late_callback_rate,
            "late_callback_delay_s": self.late_callback_delay_s,
            "out_of_order_callback_rate": self.out_of_order_callback_rate,
            "out_of_order_max_delay_s": self.out_of_order_max_delay_s,
            "early_token_expiry_rate": self.early_token_expiry_rate,
            "enquiry_pending_s": self.enquiry_pending_real_s * speed,
            "ambiguous_enquiry_rate": self.ambiguous_enquiry_rate,
        }
        if provider == "mpesa":
            found["queue_timeout_rate"] = self.queue_timeout_rate
        return found


@dataclass
class ChaosConfig:
    seed: int = 1
    attempts: int = 10_000
    #: auto-transfers aimed at: the chunk is sized from the expected revenue
    transfers: int = 500
    days: float = 7.0
    #: payment requests per real second: with ``days`` this sets the clock's speed
    rate: float = 40.0
    batch: int = 10
    apis: int = 2
    workers: int = 2
    kills: int = 8
    db_restarts: int = 1
    sqlite: bool = False
    #: an existing empty PostgreSQL database instead of a private server (which is what
    #: a database restart needs: none is done then)
    database_url: str | None = None
    faults: Faults = field(default_factory=Faults)
    report: Path = Path("chaos/report.json")
    work_dir: Path | None = None
    keep: bool = False
    drain_timeout_s: float = 300.0
    #: quiet real seconds (nothing open, nothing moving) that end the drain
    settle_s: float = 8.0
    #: move the schedules of open items to now once the drain begins instead of waiting
    #: out the claim leases of killed processes (a minute of real time or more); only
    #: schedules move, never states — for short runs such as the CI test
    expire_leases: bool = False
    #: the adversary: forged, replayed and altered callbacks during the traffic
    attacker: bool = True
    #: forgeries per real second (Poisson arrivals)
    attack_rate: float = 4.0
    #: Airtel callback authentication: the emulator hashes its callbacks and QMOI requires
    #: and checks the hash. Off, no hash at all: every Airtel callback is only a hint
    airtel_hash: bool = False
    log: Callable[[str], None] = print

    @property
    def traffic_s(self) -> float:
        return self.attempts / self.rate

    @property
    def speed(self) -> float:
        return self.days * 86_400 / self.traffic_s

    @property
    def chunk_minor(self) -> int:
        """Sized so that the expected revenue yields about ``transfers`` chunks, whole KES."""
        mean_minor = sum(AMOUNT_KES) / 2 * 100
        per_provider = self.attempts / len(PROVIDERS) * APPROVE_RATE * mean_minor
        chunks = max(1.0, self.transfers / len(PROVIDERS) * 1.15)
        return max(100_00, int(per_provider / chunks) // 100 * 100)


@dataclass
class Kill:
    at_s: float
    process: str
    mid_transfer: bool
    reference: str | None = None


@dataclass
class Events:
    attempted: int = 0
    requests_answered: int = 0
    request_errors: int = 0
    kills: list[Kill] = field(default_factory=list)
    restarts: int = 0
    db_restarts: int = 0
    db_down_s: list[float] = field(default_factory=list)
    float_holds: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


# --- the deployment --------------------------------------------------------------------


@dataclass
class Deployment:
    config: ChaosConfig
    root: Path
    qmoi: Qmoi
    processes: Processes
    emu: Emulators
    database_url: str
    cluster: PrivateCluster | None
    api_ports: list[int]
    clock_file: Path
    live: dict[str, Process] = field(default_factory=dict)

    def start_api(self, index: int) -> Process:
        extra = ["--sandbox-clock", str(self.clock_file)]
        if self.config.sqlite:
            extra.append("--with-worker")
        process = self.processes.api(f"api-{index}", self.api_ports[index], *extra)
        self.live[process.name] = process
        return process

    def start_worker(self, index: int) -> Process:
        process = self.processes.worker(f"worker-{index}", "--sandbox-clock", str(self.clock_file))
        self.live[process.name] = process
        return process

    def restart(self, process: Process) -> Process:
        again = self.processes.restart(process)
        self.live[again.name] = again
        return again


def _write_clock(path: Path, speed: float) -> None:
    """The shared clock: at wall time ``origin`` it stood at ``SIM_START``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"start": SIM_START.isoformat(), "speed": speed, "origin": time.time()})
    )


def _clock_origin(path: Path) -> float:
    return float(json.loads(path.read_text())["origin"])


@contextmanager
def _emulators(
    root: Path, config: ChaosConfig, clock_file: Path, public_url: str
) -> Iterator[Emulators]:
    """Both emulators as processes of their own, on the shared clock."""
    speed = config.speed
    origin = _clock_origin(clock_file)
    common = {
        "seed": config.seed,
        "speed": speed,
        "start": SIM_START.isoformat(),
        "origin": origin,
        "customer_delay_s": [5.0, 30.0],
    }
    specs = {
        "airtel": {
            **common,
            "callback_url": f"{public_url}/api/airtel/callback",
            "callback_auth": config.airtel_hash,
            "callback_key": CALLBACK_KEY,
            # QMOI times a token in real seconds: give it the same real lifetime
            "token_ttl_s": int(180 * speed),
            "callback_first_retry_s": 30.0,
        },
        "mpesa": {
            **common,
            "seed": config.seed + 1,
            "result_delay_s": [1.0, 5.0],
            "same_amount_window_s": 0.0,
            "key_bits": 1024,
            # (Daraja's expires_in is believed up to 10 days: no further)
            "token_ttl_s": min(int(3599 * speed), 10 * 86_400),
        },
    }
    started: list[subprocess.Popen[bytes]] = []
    urls: dict[str, str] = {}
    try:
        for provider, spec in specs.items():
            port = free_port()
            spec_file = root / f"{provider}-emulator.json"
            spec_file.write_text(json.dumps(spec))
            log = (root / "logs" / f"{provider}-emulator.txt").open("ab")
            started.append(
                subprocess.Popen(  # noqa: S603 - this interpreter, our own module
                    [sys.executable, "-m", "qmoi_chaos.emulator", provider, str(port), spec_file],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            log.close()
            urls[provider] = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=30.0) as client:
            for provider, url in urls.items():

                def up(url: str = url) -> bool:
                    try:
                        return client.get(f"{url}/sandbox/health").status_code == 200
                    except httpx.TransportError:
                        return False

                wait_until(up, timeout_s=60, what=f"the {provider} emulator")
            yield Emulators(urls["airtel"], urls["mpesa"], client)
    finally:
        for popen in started:
            if popen.poll() is None:
                popen.terminate()
        for popen in started:
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout=10)


def _started(process: Process) -> bool:
    return "QMOI worker" in process.output() or not process.alive()


@contextmanager
def deployment(config: ChaosConfig, root: Path) -> Iterator[Deployment]:
    with ExitStack() as stack:
        cluster: PrivateCluster | None = None
        if config.sqlite:
            database_url = f"sqlite:///{root / 'qmoi.db'}"
        elif config.database_url is not None:
            database_url = config.database_url
        else:
            # its own directory under the system temp dir: the server runs as postgres
            # and must reach it, which a root-only run directory would not allow
            pg_root = Path(tempfile.mkdtemp(prefix="qmoi-chaos-pg-"))
            os.chmod(pg_root, 0o755)  # noqa: S103 - entered by the postgres user
            cluster = PrivateCluster(pg_root, free_port(), find_bindir())
            stack.callback(cluster.remove)
            cluster.init()
            cluster.start()
            database_url = cluster.create_database("qmoi")
        clock_file = root / "var" / "sandbox_clock.json"
        _write_clock(clock_file, config.speed)
        apis = 1 if config.sqlite else config.apis
        api_ports = [free_port() for _ in range(apis)]
        lb = stack.enter_context(balancer(api_ports))
        public_url = f"http://127.0.0.1:{lb.port}"
        emu = stack.enter_context(_emulators(root, config, clock_file, public_url))
        chunk_kes = str(config.chunk_minor // 100)
        airtel_auth = (
            {"AIRTEL_CALLBACK_AUTH": "true", "AIRTEL_CALLBACK_SECRET": CALLBACK_KEY}
            if config.airtel_hash
            else {"AIRTEL_CALLBACK_AUTH": "false"}
        )
        qmoi = Qmoi(
            root,
            database_url,
            emu,
            lb.port,
            extra={
                "QMOI_AUTO_TRANSFER_AIRTEL": chunk_kes,
                "QMOI_AUTO_TRANSFER_MPESA": chunk_kes,
                **airtel_auth,
            },
        )
        upgrade = qmoi.run("db", "upgrade", timeout=180)
        if upgrade.returncode != 0:
            raise RuntimeError(f"qmoi db upgrade failed: {upgrade.stdout}{upgrade.stderr}")
        processes = Processes(qmoi)
        stack.callback(processes.close)
        d = Deployment(
            config, root, qmoi, processes, emu, database_url, cluster, api_ports, clock_file
        )
        for index in range(apis):
            d.start_api(index)
        for index in range(0 if config.sqlite else config.workers):
            d.start_worker(index)
        with httpx.Client(timeout=10.0) as client:
            for index, port in enumerate(api_ports):
                wait_ready(client, d.live[f"api-{index}"], f"http://127.0.0.1:{port}", 60)
        for name, process in d.live.items():
            if name.startswith("worker"):
                wait_until(partial(_started, process), timeout_s=60, what=f"{name} to start")
        yield d


# --- the run ---------------------------------------------------------------------------


class Driver:
    """Sends the attempts at their moments and plays the fault schedule."""

    def __init__(self, d: Deployment, rng: random.Random, attacker: bool = False) -> None:
        self.d = d
        self.config = d.config
        self.rng = rng
        self.attacker = attacker
        self.attack_log: Path | None = None
        self.events = Events()
        self.customers: dict[str, list[str]] = {}
        self.in_flight: dict[str, dict[str, str]] = {}  # process → reference → event
        self._local = threading.local()
        self._clients: list[httpx.Client] = []

    # --- traffic ---------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(
                timeout=60.0, headers={"Authorization": f"Bearer {self.d.qmoi.master_key}"}
            )
            self._local.client = client
            with self.events.lock:
                self._clients.append(client)
        return client

    def _send(self, provider: str, requests: list[dict[str, Any]]) -> None:
        url = f"{self.d.qmoi.api_url}/api/qmoi/revenue/{provider}/generate"
        with self.events.lock:
            self.events.attempted += len(requests)
        try:
            answer = self._client().post(url, json={"requests": requests})
            ok = answer.status_code == 202
        except httpx.HTTPError:
            ok = False  # the API died under it, or the database was away: may have started
        with self.events.lock:
            if ok:
                self.events.requests_answered += 1
            else:
                self.events.request_errors += 1

    def batches(self) -> list[tuple[float, str, list[dict[str, Any]]]]:
        """Every attempt, grouped in batches, with its real-time moment."""
        out: list[tuple[float, str, list[dict[str, Any]]]] = []
        per_batch = self.config.batch
        count = self.config.attempts // per_batch
        for index in range(count):
            provider = PROVIDERS[index % len(PROVIDERS)]
            requests = [
                {
                    "msisdn": self.rng.choice(self.customers[provider]),
                    "amount": self.rng.randint(*AMOUNT_KES),
                    "stream": self.rng.choice(STREAMS),
                }
                for _ in range(per_batch)
            ]
            out.append((index * self.config.traffic_s / count, provider, requests))
        return out

    # --- process faults --------------------------------------------------------------

    def _watch(self) -> None:
        """Keep track of the payouts each live process is in the middle of sending."""
        for name, process in self.d.live.items():
            sending = self.in_flight.setdefault(name, {})
            for event in process.new_events():
                kind, reference = event.get("event"), event.get("reference")
                if kind == "transfer.sending" and reference:
                    sending[str(reference)] = kind
                elif kind in ("transfer.moved", "transfer.advance_failed") and reference:
                    sending.pop(str(reference), None)

    def kill(self, at_s: float) -> None:
        workers = [n for n in self.d.live if n.startswith("worker")]
        prefer_worker = bool(workers) and self.rng.random() < 0.6
        victim: str | None = None
        reference: str | None = None
        if prefer_worker:
            deadline = time.monotonic() + 4.0
            while victim is None and time.monotonic() < deadline:
                self._watch()
                busy = [(n, r) for n in workers for r in self.in_flight.get(n, {})]
                if busy:
                    victim, reference = self.rng.choice(busy)
                else:
                    time.sleep(0.05)
            victim = victim or self.rng.choice(workers)
        else:
            victim = self.rng.choice(sorted(self.d.live))
        process = self.d.live[victim]
        process.kill()
        self.in_flight.pop(victim, None)
        self.events.kills.append(Kill(round(at_s, 2), victim, reference is not None, reference))
        self.config.log(
            f"  {at_s:6.1f}s  SIGKILL {victim}"
            + (f" while sending {reference}" if reference else "")
        )
        time.sleep(self.rng.uniform(0.3, 2.0))
        again = self.d.restart(process)
        self.events.restarts += 1
        _ = again.new_events()  # the old life's lines are not this life's

    def restart_database(self, at_s: float) -> None:
        cluster = self.d.cluster
        if cluster is None:
            return
        down = cluster.restart("fast")
        self.events.db_restarts += 1
        self.events.db_down_s.append(round(down, 2))
        self.config.log(f"  {at_s:6.1f}s  PostgreSQL restarted ({down:.1f} s away)")

    def hold_float(self, at_s: float, provider: str) -> Callable[[], None]:
        url = self.d.emu.url(provider)
        client = self.d.emu.client
        balance = int(client.get(f"{url}/sandbox/wallet").json()["balance_minor"])
        client.put(f"{url}/sandbox/wallet", json={"held_minor": balance})
        self.events.float_holds += 1
        self.config.log(f"  {at_s:6.1f}s  {provider} float held (payouts refused)")

        def release() -> None:
            client.put(f"{url}/sandbox/wallet", json={"held_minor": 0})

        return release

    # --- the schedule ----------------------------------------------------------------

    def schedule(self) -> list[tuple[float, str, Any]]:
        """(real second, what, argument): kills, database restarts, float holds."""
        span = self.config.traffic_s
        plan: list[tuple[float, str, Any]] = []
        for _ in range(self.config.kills):
            plan.append((self.rng.uniform(0.08, 0.92) * span, "kill", None))
        if self.d.cluster is not None:
            for _ in range(self.config.db_restarts):
                plan.append((self.rng.uniform(0.3, 0.7) * span, "db_restart", None))
        for _ in range(self.config.faults.float_holds):
            provider = self.rng.choice(PROVIDERS)
            plan.append((self.rng.uniform(0.1, 0.85) * span, "float_hold", provider))
        return sorted(plan, key=lambda item: item[0])

    def attack_spec(self, viewer_key: str | None) -> Spec:
        return Spec(
            public_url=self.d.qmoi.api_url,  # the balancer: the URL providers know
            airtel_url=self.d.emu.airtel,
            mpesa_url=self.d.emu.mpesa,
            mpesa_token=self.d.qmoi.callback_token,
            viewer_key=viewer_key,
            seed=self.config.seed,
            rate=self.config.attack_rate,
            airtel_hash=self.config.airtel_hash,
            clock_file=str(self.d.clock_file),
            log_file=str(self.d.root / "attacks.jsonl"),
        )

    def run_traffic(self) -> None:
        with ExitStack() as attack:
            if self.attacker:
                spec = self.attack_spec(_viewer_key(self.d))
                self.attack_log = attack.enter_context(attacking(spec, self.d.root))
                self.config.log(
                    f"  attacker on: {self.config.attack_rate:g} forged callbacks a second, "
                    f"Airtel hash {'on' if self.config.airtel_hash else 'off'}"
                )
            self._traffic()

    def _traffic(self) -> None:
        for provider in PROVIDERS:
            self.customers[provider] = self.d.emu.customers(
                provider, CUSTOMERS, APPROVE_RATE, "chaos"
            )
            self.d.emu.faults(provider, **self.config.faults.settings(provider, self.config.speed))
        batches = self.batches()
        plan = self.schedule()
        releases: list[tuple[float, Callable[[], None]]] = []
        started = time.monotonic()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=12, thread_name_prefix="send")
        futures = []
        chaos = threading.Thread(
            target=self._play, args=(plan, started, releases), name="chaos-schedule"
        )
        chaos.start()
        try:
            for index, (at_s, provider, requests) in enumerate(batches):
                delay = started + at_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(self._send, provider, requests))
                if index % max(1, len(batches) // 10) == 0:
                    self.config.log(
                        f"  {time.monotonic() - started:6.1f}s  {self.events.attempted} "
                        f"attempts sent, {self.events.request_errors} requests failed"
                    )
        finally:
            concurrent.futures.wait(futures)
            pool.shutdown()
            chaos.join()
            for client in self._clients:
                client.close()

    def _play(
        self,
        plan: list[tuple[float, str, Any]],
        started: float,
        releases: list[tuple[float, Callable[[], None]]],
    ) -> None:
        pending = list(plan)
        while pending or releases:
            now = time.monotonic() - started
            for item in [r for r in releases if r[0] <= now]:
                item[1]()
                releases.remove(item)
            if pending and pending[0][0] <= now:
                at_s, what, argument = pending.pop(0)
                try:
                    if what == "kill":
                        self.kill(now)
                    elif what == "db_restart":
                        self.restart_database(now)
                    elif what == "float_hold":
                        release = self.hold_float(now, argument)
                        releases.append((now + self.config.faults.float_hold_real_s, release))
                except Exception as exc:  # the schedule must go on; the report says it
                    self.config.log(f"  {now:6.1f}s  {what} failed: {exc!r}")
                continue
            self._watch()
            time.sleep(0.05)


# --- draining and judging --------------------------------------------------------------


def _books(engine: Any) -> dict[str, Books]:
    return {p: read_books(engine, p) for p in PROVIDERS}


def drain(d: Deployment, driver: Driver, engine: Any) -> tuple[bool, float]:
    """Faults off, every process back, then wait until nothing is open or pending and
    nothing has moved for ``settle_s``. Returns (settled, real seconds it took)."""
    config = d.config
    for provider in PROVIDERS:
        d.emu.client.delete(f"{d.emu.url(provider)}/sandbox/faults")
        d.emu.client.put(f"{d.emu.url(provider)}/sandbox/wallet", json={"held_minor": 0})
    for name, process in list(d.live.items()):
        if not process.alive():
            config.log(f"  {name} had exited; restarted")
            d.restart(process)
    began = time.monotonic()
    if config.expire_leases:
        expire_leases(engine)
    last: object = None
    since = time.monotonic()
    while True:
        books = _books(engine)
        pending = sum(
            1 for p in PROVIDERS for x in d.emu.transactions(p) if x["status"] == "pending"
        )
        fingerprint = tuple(b.fingerprint() for b in books.values())
        settled = pending == 0 and all(
            not b.open_collections and not b.open_transfers and b.inbox_waiting == 0
            for b in books.values()
        )
        if fingerprint != last or not settled:
            last, since = fingerprint, time.monotonic()
        elif time.monotonic() - since >= config.settle_s:
            return True, time.monotonic() - began
        if time.monotonic() - began > config.drain_timeout_s:
            config.log(
                f"  not settled: {pending} pending in the emulators; open "
                + ", ".join(
                    f"{p}: {len(b.open_collections)} collections, {len(b.open_transfers)} "
                    f"transfers, {b.inbox_waiting} callbacks waiting"
                    for p, b in books.items()
                )
                + ("" if settled else "")
                + f"; still moving: {fingerprint != last}"
            )
            return False, time.monotonic() - began
        for name, process in list(d.live.items()):
            if not process.alive():
                config.log(f"  {name} exited during the drain; restarted")
                d.restart(process)
        time.sleep(0.5)


@dataclass
class Report:
    seed: int
    backend: str
    started_at: str
    attempted: int
    succeeded: int
    booked: int
    lost: int
    double_booked: int
    transfers: int
    double_paid: int
    orphan_disbursements: int
    #: forged callbacks the attacker sent (exact replays apart, in the details)
    forged_sent: int
    #: forged callbacks QMOI acted on: inbox rows with the attacker's marker that were
    #: applied as a fact (``processed``) or handed to a waiting query (``answer``)
    forged_effective: int
    #: callbacks QMOI parked after repeated errors (inbox status ``failed``)
    parked_callbacks: int
    kills: int
    faults_by_type: dict[str, int]
    db_restarts: int
    max_resolution_lag_s: float
    invariants_ok: bool
    passed: bool
    details: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _verify(d: Deployment, *command: str) -> tuple[bool, str]:
    done = d.qmoi.run(*command, timeout=600)
    text = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode == 0, text[-1] if text else ""


@dataclass
class Attack:
    """What the attacker sent and what became of it in QMOI's inbox."""

    log: AttackLog
    forged_effective: int
    parked: int
    details: dict[str, Any]


def _answered(body: str, tag_path: str, genuine: dict[str, str]) -> bool:
    """Whether a forged query result stored for a waiting query is one the query would
    take: QMOI's connector takes only a result naming the ConversationID Daraja gave
    that query (the one its genuine result to the same tagged URL names)."""
    try:
        delivered = json.loads(body)
        result = delivered.get("body", delivered).get("Result", {})
        named = result.get("ConversationID") or result.get("OriginatorConversationID")
    except (ValueError, AttributeError):
        return False
    return named is not None and named == genuine.get(tag_path)


def _genuine_conversations(callbacks: list[dict[str, Any]]) -> dict[str, str]:
    """Tagged result path (``/status/result/<tag>``…) → the ConversationID Daraja's own
    result to it named."""
    found: dict[str, str] = {}
    for delivery in callbacks:
        result = (delivery.get("body") or {}).get("Result")
        path = urlsplit(str(delivery.get("url", ""))).path
        if isinstance(result, dict) and result.get("ConversationID"):
            found["/".join(path.split("/")[-3:])] = str(result["ConversationID"])
    return found


def judge_attack(
    driver: Driver, engine: Any, mpesa_callbacks: list[dict[str, Any]] | None = None
) -> Attack:
    log = read_log(driver.attack_log) if driver.attack_log is not None else AttackLog()
    inbox = read_inbox(engine, MARKER)
    genuine = _genuine_conversations(mpesa_callbacks or [])
    in_inbox: Counter[str] = Counter()
    effective: Counter[str] = Counter()
    acted_on: set[str] = set()  # markers: one forgery may be stored as more than one row
    examples: list[str] = []
    for row in inbox.marked:
        marker = marker_of(row["body"])
        kind = log.markers.get(marker or "", "unlogged")
        in_inbox[row["status"]] += 1
        path = log.paths.get(marker or "", "")
        if row["status"] == "answer" and not _answered(
            row["body"], "/".join(path.split("/")[-3:]), genuine
        ):
            continue  # stored for the query, which takes only its own conversation's
        if row["status"] in EFFECTIVE:
            effective[kind] += 1
            acted_on.add(marker or "")
            if len(examples) < 20:
                examples.append(
                    f"forged #{marker} {kind} to {log.paths.get(marker or '', '?')}: "
                    f"{row['provider']} {row['event_id']} "
                    f"{row['status']}{'/' + row['reason'] if row['reason'] else ''}"
                )
    parked = inbox.statuses.get("failed", 0)
    details = {
        "attacker": driver.attack_log is not None,
        "attack_rate": driver.config.attack_rate if driver.attack_log is not None else 0,
        "forged_by_kind": dict(sorted(log.by_kind.items())),
        "replays_sent": log.replays_sent,
        "forged_answers": dict(sorted(log.answers.items())),
        "forged_in_inbox": dict(sorted(in_inbox.items())),
        "forged_effective_by_kind": dict(sorted(effective.items())),
        "forgeries_acted_on": len(acted_on),
        "forged_effective_examples": examples,
        "attacker_errors": log.summary.get("errors", {}) if log.summary else {},
        "attacker_stopped_cleanly": bool(log.summary) or driver.attack_log is None,
        "inbox_statuses": dict(sorted(inbox.statuses.items())),
        "parked_examples": inbox.parked,
    }
    return Attack(log, sum(effective.values()), parked, details)


def judge(d: Deployment, driver: Driver, engine: Any, settled: bool, drain_s: float) -> Report:
    config = d.config
    comparison = Comparison()
    faults: Counter[str] = Counter()
    floats: dict[str, Any] = {}
    mpesa_callbacks: list[dict[str, Any]] = []
    for provider in PROVIDERS:
        url = d.emu.url(provider)
        truth = d.emu.transactions(provider)
        wallet = d.emu.client.get(f"{url}/sandbox/wallet").json()
        # the ground truth stays beside the logs and the database, for looking into
        callbacks = d.emu.client.get(f"{url}/sandbox/callbacks").json()
        if provider == "mpesa":
            mpesa_callbacks = callbacks
        (d.root / f"truth-{provider}.json").write_text(json.dumps(truth))
        (d.root / f"callbacks-{provider}.json").write_text(json.dumps(callbacks))
        floats[provider] = wallet
        compare(
            comparison,
            read_books(engine, provider),
            truth,
            chunk_minor=config.chunk_minor,
            float_moved_minor=int(wallet["balance_minor"]) - OPENING_MINOR,
            callbacks=callbacks,
        )
        counts = d.emu.client.get(f"{url}/sandbox/faults/injected").json()["counts"]
        faults.update({k: int(v) for k, v in counts.items() if k != "latency"})
    faults["insufficient_float"] = comparison.payouts_refused_for_float
    attack = judge_attack(driver, engine, mpesa_callbacks)
    ledger_ok, ledger_says = _verify(d, "ledger", "verify")
    audit_ok, audit_says = _verify(d, "audit", "verify")
    events = driver.events
    lag_sim = max(comparison.max_collection_lag_sim_s, comparison.max_transfer_lag_sim_s)
    invariants_ok = ledger_ok and audit_ok and settled and comparison.invariants_hold
    passed = invariants_ok and not (
        comparison.lost
        or comparison.double_booked
        or comparison.double_paid
        or comparison.orphan_disbursements
        or attack.forged_effective
    )
    details = {
        "speed": round(config.speed, 1),
        "simulated_days": config.days,
        "traffic_real_s": round(config.traffic_s, 1),
        "drain_real_s": round(drain_s, 1),
        "settled": settled,
        "api_processes": 1 if config.sqlite else config.apis,
        "worker_processes": 0 if config.sqlite else config.workers,
        "chunk_minor": config.chunk_minor,
        "requests_answered": events.requests_answered,
        "requests_failed": events.request_errors,
        "phantom_booked": comparison.phantom_booked,
        "in_suspense": comparison.in_suspense,
        "lost_answer_and_callback": comparison.unknowable,
        "found_on_statement": comparison.found_on_statement,
        "phantom_transfers": comparison.phantom_transfers,
        "transfers_failed": comparison.transfers_failed,
        "disbursements_attempted": comparison.disbursements,
        "rule_days": comparison.rule_days,
        "rule_overpaid": comparison.rule_overpaid,
        "rule_shortfall": comparison.rule_shortfall,
        "open_collections": comparison.open_collections,
        "open_transfers": comparison.open_transfers,
        "emulator_pending": comparison.emulator_pending,
        "inbox_waiting": comparison.inbox_waiting,
        "money_mismatches": comparison.money_mismatches,
        "max_collection_lag_sim_s": round(comparison.max_collection_lag_sim_s, 1),
        "max_transfer_lag_sim_s": round(comparison.max_transfer_lag_sim_s, 1),
        "ledger_verify": {"ok": ledger_ok, "says": ledger_says},
        "audit_verify": {"ok": audit_ok, "says": audit_says},
        "kills": [asdict(k) for k in events.kills],
        "kills_mid_transfer": sum(1 for k in events.kills if k.mid_transfer),
        "restarts": events.restarts,
        "db_down_s": events.db_down_s,
        "float_holds": events.float_holds,
        "floats": floats,
        "problems": comparison.problems,
        "airtel_hash": "on" if config.airtel_hash else "off",
        **attack.details,
        "work_dir": str(d.root),
    }
    return Report(
        seed=config.seed,
        backend="sqlite" if config.sqlite else "postgresql",
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        attempted=events.attempted,
        succeeded=comparison.succeeded,
        booked=comparison.booked,
        lost=comparison.lost,
        double_booked=comparison.double_booked,
        transfers=comparison.transfers,
        double_paid=comparison.double_paid,
        orphan_disbursements=comparison.orphan_disbursements,
        forged_sent=attack.log.forged_sent,
        forged_effective=attack.forged_effective,
        parked_callbacks=attack.parked,
        kills=len(events.kills),
        faults_by_type=dict(sorted(faults.items())),
        db_restarts=events.db_restarts,
        max_resolution_lag_s=round(lag_sim / config.speed, 2),
        invariants_ok=invariants_ok,
        passed=passed,
        details=details,
    )


def _keep_tables(engine: Any, root: Path) -> None:
    """A failed run's collections, transfers and inbox as JSON lines beside its logs:
    the private PostgreSQL server is removed when the run ends."""
    from sqlalchemy import select

    from qmoi.db import tables as t

    with engine.connect() as conn:
        for table in (t.collections, t.transfers, t.inbox):
            with (root / f"{table.name}.jsonl").open("w") as out:
                for row in conn.execute(select(table)):
                    out.write(json.dumps(dict(row._mapping), default=str) + "\n")


def _viewer_key(d: Deployment) -> str | None:
    """A viewer API key for the attacker: it reads what such a key reads. Without one it
    attacks all the same, with what the emulators show."""
    made = d.qmoi.run("keys", "create", "--role", "viewer", "--name", "attacker")
    found = re.search(r"qk_[0-9a-f]+_[A-Za-z0-9_-]+", made.stdout)
    if made.returncode != 0 or found is None:
        d.config.log(f"  no viewer key for the attacker: {(made.stdout + made.stderr)[-300:]}")
        return None
    return found.group(0)


def run(config: ChaosConfig) -> Report:
    """One whole chaos run; the report is also written to ``config.report``."""
    if not config.sqlite and config.database_url is None:
        find_bindir()  # fail before anything starts when the server binaries are missing
    root = config.work_dir or Path(tempfile.mkdtemp(prefix="qmoi-chaos-"))
    root.mkdir(parents=True, exist_ok=True)
    (root / "logs").mkdir(exist_ok=True)
    rng = random.Random(config.seed)  # noqa: S311 - a fault schedule, not cryptography
    config.log(
        f"chaos: seed {config.seed}, {config.attempts} attempts over {config.days:g} "
        f"simulated days in {config.traffic_s:.0f} s (clock ×{config.speed:.0f}), "
        f"{'SQLite, 1 process' if config.sqlite else f'{config.apis} API + {config.workers} '}"
        f"{'' if config.sqlite else 'worker processes on a private PostgreSQL'}"
        f"{'' if config.attacker else ', no attacker'}; in {root}"
    )
    with deployment(config, root) as d:
        engine = create_db_engine(d.database_url, pool_size=2)
        try:
            driver = Driver(d, rng, attacker=config.attacker)
            driver.run_traffic()
            config.log("  traffic done; faults off, draining")
            settled, drain_s = drain(d, driver, engine)
            config.log(f"  drained in {drain_s:.0f} s" if settled else "  NOT settled")
            report = judge(d, driver, engine, settled, drain_s)
            if not report.passed:
                _keep_tables(engine, root)  # the private server goes with the run
        finally:
            engine.dispose()
    if report.passed and config.work_dir is None and not config.keep:
        shutil.rmtree(root, ignore_errors=True)  # kept, with logs and truth, otherwise
    config.report.parent.mkdir(parents=True, exist_ok=True)
    config.report.write_text(json.dumps(report.as_json(), indent=2, default=str) + "\n")
    return report
