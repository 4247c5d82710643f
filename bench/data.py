"""Databases for the bench: fresh ones (PostgreSQL databases named ``qmoi_bench_*`` or
SQLite files), migrated, seeded with pending collections through QMOI's units of work,
or bulk-loaded with a ledger of a million entries.
"""

from __future__ import annotations

import shutil
import sqlite3
import time as timer
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as daytime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy.engine import make_url

from bench import payloads
from qmoi.db.engine import create_db_engine
from qmoi.db.migrate import upgrade
from qmoi.db.uow import UnitOfWorkFactory
from qmoi.domain import accounts as acc
from qmoi.domain.clock import SystemClock
from qmoi.domain.collection import Collection
from qmoi.domain.money import Money
from qmoi.domain.states import CollectionState
from qmoi.domain.streams import StreamKey
from qmoi.security.signing import Signer

TZ = ZoneInfo("Africa/Nairobi")
SEED_BATCH = 5000
#: the seeded customers' number (the Airtel emulator's "always approves" test number)
MSISDN = "254733000100"


@dataclass
class Postgres:
    """Creates and drops ``qmoi_bench_*`` databases on one server; remembers them all."""

    admin_url: str
    created: list[str] = field(default_factory=list)

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        url = make_url(self.admin_url).set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def url(self, name: str) -> str:
        url = make_url(self.admin_url).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    def libpq_url(self, name: str) -> str:
        url = make_url(self.admin_url).set(drivername="postgresql", database=name)
        return url.render_as_string(hide_password=False)

    def create(self, label: str, template: str | None = None) -> str:
        name = f"qmoi_bench_{label}_{uuid.uuid4().hex[:6]}"
        with self._admin() as admin:
            if template:
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            else:
                admin.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            self.drop(name)

    def version(self) -> str:
        with self._admin() as admin:
            row = admin.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"

    def reachable(self) -> bool:
        try:
            with self._admin():
                return True
        except psycopg.Error:
            return False


def migrate(url: str) -> None:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def seed_pending(url: str, count: int, key_file: Path, accounts: int = 0) -> None:
    """``count`` pending Airtel collections with :func:`payloads.reference` ids, stored
    the way QMOI stores a push that Airtel accepted, through its units of work; spread
    over ``accounts`` accounts (:func:`payloads.account_of`) when there are any."""
    engine = create_db_engine(url)
    uows = UnitOfWorkFactory(engine, SystemClock(), TZ, Signer.load_or_create(key_file))
    streams = list(StreamKey)
    try:
        for first in range(0, count, SEED_BATCH):
            with uows() as uow:
                now = uow.now
                uow.meta.set_once("mode", "sandbox")
                uow.collections.add_many(
                    [
                        Collection(
                            id=None,
                            reference=payloads.reference(i),
                            provider=payloads.account_of(i, accounts),
                            msisdn=MSISDN,
                            amount=Money(payloads.AMOUNT_MINOR, "KES"),
                            stream=streams[i % len(streams)],
                            state=CollectionState.PENDING,
                            created_at=now,
                            updated_at=now,
                            sandbox=True,
                            provider_request_id=payloads.reference(i),
                            provider_code="DP00800001006",
                            # far off: no enquiry races the callbacks under test
                            next_check_at=now + timedelta(days=1),
                            attempts=1,
                        )
                        for i in range(first, min(first + SEED_BATCH, count))
                    ]
                )
                uow.commit()
    finally:
        engine.dispose()


def sqlite_copy(template: Path, target: Path) -> None:
    """A fresh copy of a migrated, seeded SQLite database (checkpointed first)."""
    with sqlite3.connect(template) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copyfile(template, target)


# --- a million ledger entries, PostgreSQL only ------------------------------------------

STREAMS = [s.value for s in StreamKey]
PROVIDERS = ["airtel", "mpesa"]


def bulk_ledger(libpq_url: str, entries: int, days: int) -> dict[str, float]:
    """Load ``entries`` payment entries (two postings each), their revenue totals and the
    account balances, server-side (``INSERT … SELECT generate_series``), consistent so
    that ``qmoi ledger verify`` passes. They span the ``days`` days before today
    (Nairobi): today starts empty, so ``qmoi start``'s auto-transfer rule (chunks of
    *today's* revenue) does not set out to pay a year of history to the owner.

    Triggers are skipped for the load (``session_replication_role = replica``: the
    deferred balance check and the foreign-key checks, each per row); the data is
    balanced by construction and ``ledger verify`` proves it afterwards.
    """
    today = datetime.now(TZ).date()
    end = datetime.combine(today, daytime(0), TZ).astimezone(UTC)
    start = end - timedelta(days=days)
    step_us = max(1, int((end - start) / timedelta(microseconds=1)) // max(entries, 1))
    timings: dict[str, float] = {}
    with psycopg.connect(libpq_url) as conn:
        conn.execute("SET session_replication_role = replica")
        names = [(acc.wallet(p), "asset", True) for p in PROVIDERS] + [
            (acc.income(StreamKey(s)), "income", False) for s in STREAMS
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO accounts (name, currency, kind, non_negative, balance_minor) "
                "VALUES (%s, 'KES', %s, %s, 0) ON CONFLICT DO NOTHING",
                names,
            )
        t0 = timer.perf_counter()
        conn.execute(
            """
            INSERT INTO journal_entries (id, kind, reference, occurred_at, recorded_at,
                business_day, currency, amount_minor, provider, stream, sandbox, description)
            SELECT g, 'collection', p.name || ':pay:BULK' || g, ts, ts,
                   (ts AT TIME ZONE %(tz)s)::date, 'KES', amount, p.name, s.name, true,
                   p.name || ' payment for ' || s.name
            FROM (
                SELECT g,
                       %(start)s::timestamptz
                           + interval '1 microsecond' * ((g - 1)::float8 * %(step)s) AS ts,
                       8000 + (g::bigint * 7919) %% 200000 AS amount,
                       g %% 2 AS pi, (g / 2) %% 5 AS si
                FROM generate_series(1, %(n)s) AS g
            ) x
            JOIN unnest(%(providers)s::text[]) WITH ORDINALITY AS p(name, i) ON p.i - 1 = x.pi
            JOIN unnest(%(streams)s::text[]) WITH ORDINALITY AS s(name, i) ON s.i - 1 = x.si
            """,
            {
                "tz": str(TZ),
                "start": start,
                "step": step_us,
                "n": entries,
                "providers": PROVIDERS,
                "streams": STREAMS,
            },
        )
        timings["journal_entries_s"] = timer.perf_counter() - t0
        t0 = timer.perf_counter()
        conn.execute(
            """
            INSERT INTO postings (id, entry_id, account_id, amount_minor, currency)
            SELECT 2 * e.id - 1, e.id, w.id, e.amount_minor, 'KES'
            FROM journal_entries e
            JOIN accounts w ON w.name = 'assets:' || e.provider || ':wallet' AND w.currency = 'KES'
            UNION ALL
            SELECT 2 * e.id, e.id, i.id, -e.amount_minor, 'KES'
            FROM journal_entries e
            JOIN accounts i ON i.name = 'income:' || e.stream AND i.currency = 'KES'
            """
        )
        timings["postings_s"] = timer.perf_counter() - t0
        t0 = timer.perf_counter()
        conn.execute(
            """
            INSERT INTO revenue_totals (business_day, hour, provider, stream, currency,
                amount_minor, payments)
            SELECT business_day, extract(hour FROM recorded_at AT TIME ZONE %(tz)s)::int,
                   provider, stream, 'KES', sum(amount_minor), count(*)
            FROM journal_entries GROUP BY 1, 2, 3, 4
            """,
            {"tz": str(TZ)},
        )
        conn.execute(
            """
            UPDATE accounts a SET balance_minor = s.total
            FROM (SELECT account_id, sum(amount_minor) AS total FROM postings
                  GROUP BY account_id) s
            WHERE a.id = s.account_id
            """
        )
        for table in ("journal_entries", "postings"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
        timings["totals_and_balances_s"] = timer.perf_counter() - t0
        conn.commit()
    t0 = timer.perf_counter()
    with psycopg.connect(libpq_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        # write the load out now, not while the metrics are being measured
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            pass
    timings["vacuum_analyze_checkpoint_s"] = timer.perf_counter() - t0
    return timings
