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
(:mod:`qmoi_chaos.attack`, a process of its own) posts forged, replayed and altered
callbacks of every kind to QMOI's public callback URL; with ``airtel_hash`` off the Airtel
emulator signs nothing and QMOI checks no hash, so every Airtel callback is only a hint.

Then the faults stop, every process is brought back, and the run waits until nothing is
open in QMOI or pending in the emulators and nothing has moved for a while; then it
compares (:mod:`qmoi_chaos.truth`), runs ``qmoi ledger verify`` and ``qmoi audit
verify``, and reports — including how many forged callbacks QMOI acted on, read from
its inbox by the marker every forgery carries.

Where things are: :mod:`qmoi_chaos.config` (what a run is asked to do),
:mod:`qmoi_chaos.deployment` (QMOI and the emulators as processes),
:mod:`qmoi_chaos.driver` (the traffic and the fault schedule), :mod:`qmoi_chaos.drain`,
:mod:`qmoi_chaos.judge` (the verdict) and :mod:`qmoi_chaos.report`.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from qmoi.db.engine import create_db_engine
from qmoi_chaos.config import ChaosConfig
from qmoi_chaos.deployment import deployment
from qmoi_chaos.drain import drain
from qmoi_chaos.driver import Driver
from qmoi_chaos.judge import judge
from qmoi_chaos.postgres import find_bindir
from qmoi_chaos.report import Report

__all__ = ["ChaosConfig", "Report", "run"]


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
