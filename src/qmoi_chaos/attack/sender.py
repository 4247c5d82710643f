"""The attacker process: forgeries sent at Poisson moments, each one journalled.

It runs in a process of its own (``python -m qmoi_chaos.attack SPEC_JSON``): reading
the inspection API's large answers then shares no GIL with the harness's balancer, and
nothing it does — an error, a hang — can stop the run; the harness ends it with SIGTERM
when the traffic ends and kills it if it lingers. Its draws come from a
``random.Random`` of its own derived from the run's seed, so the main schedule is the
same with or without it. Every send is written to a JSON-lines log (kind, marker, HTTP
status) that the judge reads.
"""

from __future__ import annotations

import concurrent.futures
import json
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from qmoi_chaos.attack.forger import Forger
from qmoi_chaos.attack.intel import REFRESH_S, Intel, Refresher
from qmoi_chaos.attack.spec import Forgery, Spec


class Journal:
    """The JSON-lines log of every send: ``{"i", "kind", "marker", "path", "body"}`` when
    it goes, ``{"i", "status"|"error"}`` when it is answered, a ``summary`` at the end."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def _redact(path: str, token: str) -> str:
    return path.replace(token, "…") if token else path


def attack(spec: Spec, stop: threading.Event) -> None:
    """Send forgeries at ``spec.rate`` a second (Poisson arrivals) until ``stop``."""
    rng = random.Random(f"qmoi-chaos-attacker:{spec.seed}")  # noqa: S311 - not cryptography
    intel = Intel()
    errors: Counter[str] = Counter()
    journal = Journal(Path(spec.log_file))
    client = httpx.Client(timeout=10.0)
    refresher = Refresher(spec, client, intel, errors)

    def learn() -> None:
        while not stop.is_set():
            try:
                refresher.once()
            except Exception as exc:  # the attack goes on; the summary says it
                errors[f"refresh: {type(exc).__name__}"] += 1
            stop.wait(REFRESH_S)

    def post(index: int, forgery: Forgery) -> None:
        try:
            answer = client.post(
                spec.public_url + forgery.path,
                content=forgery.body,
                headers={"Content-Type": "application/json"},
            )
            journal.write({"i": index, "status": answer.status_code})
        except httpx.HTTPError as exc:  # a killed API process, a restarting database
            journal.write({"i": index, "error": type(exc).__name__})

    forger = Forger(spec, intel, rng)
    learner = threading.Thread(target=learn, name="attacker-learn", daemon=True)
    learner.start()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="forge")
    sent = 0
    due = time.monotonic()
    try:
        while not stop.is_set():
            due += rng.expovariate(spec.rate)
            if stop.wait(max(0.0, due - time.monotonic())):
                break
            due = max(due, time.monotonic() - 1.0)  # after a stall, no burst to catch up
            try:
                forgery = forger.forge()
            except Exception as exc:  # a surprise in what was read: skip this one
                errors[f"forge: {type(exc).__name__}: {exc}"[:160]] += 1
                continue
            sent += 1
            journal.write(
                {
                    "i": sent,
                    "kind": forgery.kind,
                    "marker": forgery.marker,
                    "path": _redact(forgery.path, spec.mpesa_token),
                    "body": forgery.body[:2000].decode("utf-8", "replace"),
                }
            )
            pool.submit(post, sent, forgery)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        learner.join(timeout=15)
        client.close()
        journal.write({"summary": {"sent": sent, "errors": dict(errors.most_common(20))}})
        journal.close()


def main(argv: list[str]) -> None:
    spec = Spec(**json.loads(Path(argv[0]).read_text()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    attack(spec, stop)
