"""The drain: faults off, every process back, then wait until everything has settled."""

from __future__ import annotations

import time
from typing import Any

from qmoi_chaos.books import Books, expire_leases, read_books
from qmoi_chaos.config import PROVIDERS
from qmoi_chaos.deployment import Deployment
from qmoi_chaos.driver import Driver


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
