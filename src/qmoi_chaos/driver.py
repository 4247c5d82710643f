"""The traffic phase: payment requests sent at their moments of the simulated week, and
the fault schedule played beside them (kills, database restarts, float holds, the
attacker)."""

from __future__ import annotations

import concurrent.futures
import random
import re
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from qmoi_chaos.attack.harness import attacking
from qmoi_chaos.attack.spec import Spec
from qmoi_chaos.config import AMOUNT_KES, APPROVE_RATE, CUSTOMERS, PROVIDERS, STREAMS
from qmoi_chaos.deployment import Deployment


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


def viewer_key(d: Deployment) -> str | None:
    """A viewer API key for the attacker: it reads what such a key reads. Without one it
    attacks all the same, with what the emulators show."""
    made = d.qmoi.run("keys", "create", "--role", "viewer", "--name", "attacker")
    found = re.search(r"qk_[0-9a-f]+_[A-Za-z0-9_-]+", made.stdout)
    if made.returncode != 0 or found is None:
        d.config.log(f"  no viewer key for the attacker: {(made.stdout + made.stderr)[-300:]}")
        return None
    return found.group(0)


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
                spec = self.attack_spec(viewer_key(self.d))
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
