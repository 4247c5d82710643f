"""`make bench`: how fast the books take entries (entry + postings + balances + signed
audit record, one transaction each), on SQLite and, when ``QMOI_BENCH_POSTGRES_URL`` (or
``QMOI_TEST_POSTGRES_URL``) is set, on PostgreSQL. Writes ``bench/results.json``."""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy.engine import make_url

from qmoi.db.engine import create_db_engine
from qmoi.db.migrate import upgrade
from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain import ledger as L
from qmoi.domain.clock import SystemClock
from qmoi.domain.money import Money
from qmoi.domain.streams import StreamKey
from qmoi.security.signing import Signer
from qmoi.services.bookkeeping import record_entry

ENTRIES = 2000


def bench_posting(url: str, key: Path) -> dict[str, float]:
    engine = create_db_engine(url)
    upgrade(engine)
    uows = UnitOfWorkFactory(
        engine, SystemClock(), ZoneInfo("Africa/Nairobi"), Signer.load_or_create(key)
    )
    latencies = []
    started = time.perf_counter()
    for i in range(ENTRIES):
        entry = L.payment_confirmed(
            "airtel",
            StreamKey.AIRTIME_SALES,
            Money(10_000, "KES"),
            f"bench-{i}",
            datetime.now(UTC),
            sandbox=True,
        )
        t0 = time.perf_counter()
        with uows() as uow:
            record_entry(uow, entry, "bench")
            uow.commit()
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    engine.dispose()
    latencies.sort()
    return {
        "entries": ENTRIES,
        "rate_per_s": round(ENTRIES / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
    }


def main() -> None:
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "date": datetime.now(UTC).date().isoformat(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "signing.key"
        results["ledger_post_sqlite"] = bench_posting(f"sqlite:///{tmp}/bench.db", key)
        print("ledger post, SQLite, 1 writer:", results["ledger_post_sqlite"])
        pg = os.environ.get("QMOI_BENCH_POSTGRES_URL") or os.environ.get("QMOI_TEST_POSTGRES_URL")
        if pg:
            name = f"qmoi_bench_{uuid.uuid4().hex[:8]}"
            admin_url = make_url(pg).set(drivername="postgresql")
            with psycopg.connect(
                admin_url.render_as_string(hide_password=False), autocommit=True
            ) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                url = make_url(pg).set(drivername="postgresql+psycopg", database=name)
                results["ledger_post_postgres"] = bench_posting(
                    url.render_as_string(hide_password=False), key
                )
                print("ledger post, PostgreSQL, 1 writer:", results["ledger_post_postgres"])
            finally:
                with psycopg.connect(
                    admin_url.render_as_string(hide_password=False), autocommit=True
                ) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print("PostgreSQL: skipped (set QMOI_BENCH_POSTGRES_URL to include it)")
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
