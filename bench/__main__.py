"""`make bench` (``python -m bench``): QMOI's throughput and latency, printed and written
to ``bench/results.json``. Nothing here passes or fails a build.

1. **Callback path.** Booked payments per second through ``POST /api/airtel/callback``
   of real ``qmoi api`` processes into the ledger — hash check, parsing, inbox, double
   entry, signed audit record, revenue totals — measured until every payment is booked,
   with the HTTP call's p50/p99; on SQLite (1 process) and PostgreSQL (1 and 2
   processes), at each concurrency.
2. **Baseline.** The same load against a route that only inserts one row
   (:mod:`bench.baseline`), served the same way; the ratio of the two rates.
3. **Metrics.** ``GET /api/qmoi/revenue/metrics`` p95 with a million ledger entries
   (PostgreSQL), and the peak RSS of ``qmoi start`` meanwhile.

Sizes come from the environment (see :class:`Config`); ``BENCH_QUICK=1`` is a smoke run.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench import data, payloads, procs, profile
from bench.procs import Proc

RESULTS = Path(__file__).with_name("results.json")
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
#: stop waiting for bookings when the ledger has not grown for this long
STALL_S = 60.0
POLL_S = 0.05
#: a machine busier than this (share of all cores) before a measured phase is not quiet
QUIET = 0.15

TARGETS = {
    "booked_per_s_pg2": 1000.0,
    "ratio_pg2": 0.60,
    "metrics_p95_ms_1m": 50.0,
    "peak_rss_mb": 300.0,
}


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Config:
    """Every size, from the environment (quick-mode defaults in brackets):

    BENCH_PAYMENTS callbacks measured per run: ``auto`` (the default) picks, from the
    booked rate of the warm-up, what lasts about BENCH_RUN_SECONDS 40 [10], at most
    BENCH_MAX_PAYMENTS 20000 [1500] and at least a tenth of that · BENCH_WARMUP 500 [200]
    sent and booked before the clock starts · BENCH_CONCURRENCY "16,64" · BENCH_ENTRIES
    1000000 [50000] ledger entries for the metrics run, spread over BENCH_ENTRY_DAYS 365
    days · BENCH_METRICS_REQUESTS 2000 [300] per metrics phase · BENCH_PARTS
    "sqlite,pg1,pg2,accounts,metrics" · BENCH_POSTGRES_URL (else QMOI_BENCH_POSTGRES_URL, else
    QMOI_TEST_POSTGRES_URL, else the local server) — a role that may create databases ·
    BENCH_ACCOUNTS 100 [100] Airtel accounts for the ``accounts`` part (PostgreSQL, 2
    API processes, 64 clients, each callback to its account's own URL) ·
    BENCH_PROFILE=1 samples the measured API processes with py-spy (slows them a little;
    ``gil`` samples only threads holding the GIL) · BENCH_BASELINE ``bare`` (an ASGI
    callable) or ``fastapi`` (the route in FastAPI) · BENCH_QUIET_WAIT 60 [5] seconds to
    wait, before each measured phase, for other programs to leave the machine nearly idle,
    BENCH_QUIET_WAIT_TOTAL 240 [20] in all (each run reports the CPU share other programs
    took during it anyway) · BENCH_KEEP_TMP=1 keeps the logs.
    """

    quick: bool
    payments: int | None  # None: chosen per run from the warm-up's rate
    max_payments: int
    run_seconds: float
    warmup: int
    concurrencies: tuple[int, ...]
    entries: int
    entry_days: int
    metrics_requests: int
    parts: tuple[str, ...]
    postgres_url: str
    profile: bool
    baseline: str
    quiet_wait_s: float
    quiet_wait_total_s: float
    accounts: int = 100

    @classmethod
    def from_env(cls) -> Config:
        quick = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
        return cls(
            quick=quick,
            payments=int(os.environ["BENCH_PAYMENTS"])
            if os.environ.get("BENCH_PAYMENTS", "auto") != "auto"
            else None,
            max_payments=_int("BENCH_MAX_PAYMENTS", 1500 if quick else 20_000),
            run_seconds=float(os.environ.get("BENCH_RUN_SECONDS", 10 if quick else 40)),
            warmup=_int("BENCH_WARMUP", 200 if quick else 500),
            concurrencies=tuple(
                int(c) for c in os.environ.get("BENCH_CONCURRENCY", "16,64").split(",") if c
            ),
            entries=_int("BENCH_ENTRIES", 50_000 if quick else 1_000_000),
            entry_days=_int("BENCH_ENTRY_DAYS", 365),
            metrics_requests=_int("BENCH_METRICS_REQUESTS", 300 if quick else 2000),
            parts=tuple(
                p
                for p in os.environ.get("BENCH_PARTS", "sqlite,pg1,pg2,accounts,metrics").split(",")
                if p
            ),
            postgres_url=os.environ.get("BENCH_POSTGRES_URL")
            or os.environ.get("QMOI_BENCH_POSTGRES_URL")
            or os.environ.get("QMOI_TEST_POSTGRES_URL")
            or DEFAULT_POSTGRES,
            profile=os.environ.get("BENCH_PROFILE", "") not in ("", "0", "false"),
            baseline=os.environ.get("BENCH_BASELINE", "bare"),
            quiet_wait_s=float(os.environ.get("BENCH_QUIET_WAIT", 5 if quick else 60)),
            quiet_wait_total_s=float(
                os.environ.get("BENCH_QUIET_WAIT_TOTAL", 20 if quick else 240)
            ),
            accounts=_int("BENCH_ACCOUNTS", 100),
        )


# --- the machine --------------------------------------------------------------------------


def describe_machine(postgres: data.Postgres | None) -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": memory_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": postgres.version() if postgres else None,
        "sqlite": sqlite3.sqlite_version,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


class Meter:
    """Where the machine's CPU went during a measured phase: the measured servers,
    PostgreSQL (this database's backends and the server's own processes), the load
    generator, the bench itself (with the idle emulators), and everything else on the
    machine — ``other`` is load the bench did not cause (another test run, say)."""

    def __init__(self, servers: list[Proc], database: str | None) -> None:
        self.servers = servers
        self.database = database
        self.start()

    def _read(self) -> dict[str, float]:
        busy, total = procs.machine_cpu()
        own = os.times()
        return {
            "busy": busy,
            "total": total,
            "servers": sum(procs.cpu_seconds(s.pid) for s in self.servers),
            "bench": own.user + own.system + procs.emulators_cpu_seconds(),
        }

    def _postgres(self) -> dict[int, float]:
        return procs.postgres_cpu_seconds(self.database) if self.database else {}

    def start(self) -> None:
        self.started = self._read()
        self.pg_started = self._postgres()

    def stop(self) -> None:
        self.ended = self._read()
        self.pg_ended = self._postgres()

    def report(self, load_generator_s: float) -> dict[str, float]:
        """The shares, once the load generator has said what it used."""
        end = self.ended
        d = {k: end[k] - self.started[k] for k in end}
        d["postgres"] = sum(
            cpu - self.pg_started.get(pid, 0.0) for pid, cpu in self.pg_ended.items()
        )
        other = d["busy"] - d["servers"] - d["postgres"] - d["bench"] - load_generator_s
        share = max(d["total"], 1e-9)
        return {
            "machine_busy_pct": round(100 * d["busy"] / share, 1),
            "servers_s": round(d["servers"], 2),
            "postgres_s": round(d["postgres"], 2),
            "load_generator_s": round(load_generator_s, 2),
            "bench_s": round(d["bench"], 2),
            "other_s": round(max(other, 0.0), 2),
            "other_pct": round(100 * max(other, 0.0) / share, 1),
        }


# --- the pieces of one run ----------------------------------------------------------------


@dataclass
class Database:
    backend: str  # sqlite | postgresql
    url: str  # SQLAlchemy URL for QMOI
    name: str  # PostgreSQL database name, or the SQLite file

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {table}"))  # noqa: S608 - our names

    def scalar(self, sql: str) -> Any:
        if self.backend == "sqlite":
            conn = sqlite3.connect(self.name, timeout=30)
            try:
                return conn.execute(sql).fetchone()[0]
            finally:
                conn.close()
        with psycopg.connect(self.url.replace("+psycopg", ""), autocommit=True) as conn:
            row = conn.execute(sql).fetchone()
            return row[0] if row else None


class Counter:
    """Polls how many journal entries exist, on one connection kept open."""

    def __init__(self, db: Database) -> None:
        self.db = db
        if db.backend == "sqlite":
            self._sqlite = sqlite3.connect(db.name, timeout=30, isolation_level=None)
        else:
            self._pg = psycopg.connect(db.url.replace("+psycopg", ""), autocommit=True)

    def entries(self) -> int:
        sql = "SELECT count(*) FROM journal_entries"
        if self.db.backend == "sqlite":
            return int(self._sqlite.execute(sql).fetchone()[0])
        row = self._pg.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        if self.db.backend == "sqlite":
            self._sqlite.close()
        else:
            self._pg.close()


class Bench:
    def __init__(self, config: Config, tmp: Path) -> None:
        self.config = config
        self.tmp = tmp
        self.key_file = tmp / "signing.key"
        self.secret = secrets.token_hex(16)  # the Airtel callback private key
        self.master_key = secrets.token_hex(32)
        self.mpesa_token = secrets.token_hex(16)
        self.postgres = data.Postgres(config.postgres_url)
        self.emulators: dict[str, str] = {}
        self.templates: dict[str, str] = {}
        self.runs = 0
        self.quiet_budget = config.quiet_wait_total_s

    # -- set-up ---------------------------------------------------------------------------

    def start_emulators(self) -> None:
        """The emulators ``qmoi api`` needs in the sandbox (nothing calls them on the
        hot path: authenticated callbacks are booked without an enquiry)."""
        logs = self.tmp / "emulators"
        logs.mkdir()
        for name in ("airtel", "mpesa"):
            port = procs.free_port()
            proc = procs.start(
                f"sandbox-{name}",
                [procs.QMOI, "sandbox", name, "--port", str(port)],
                procs.python_env({}),
                logs,
                port=port,
            )
            procs.wait_http(proc, "/sandbox/health")
            self.emulators[name] = f"http://127.0.0.1:{port}"

    def template(self, backend: str, accounts: int = 0) -> str:
        """A migrated database seeded with warm-up + measured pending collections (over
        ``accounts`` accounts, if any), created once per backend and account count;
        every run gets a fresh copy of it."""
        key = f"{backend}/{accounts}"
        if key in self.templates:
            return self.templates[key]
        count = self.config.warmup + (self.config.payments or self.config.max_payments)
        started = time.perf_counter()
        if backend == "sqlite":
            path = self.tmp / f"template-{accounts}.db"
            url = f"sqlite:///{path}"
            data.migrate(url)
            data.seed_pending(url, count, self.key_file, accounts)
            self.templates[key] = str(path)
        else:
            name = self.postgres.create(f"template{accounts}")
            data.migrate(self.postgres.url(name))
            data.seed_pending(self.postgres.url(name), count, self.key_file, accounts)
            self.templates[key] = name
        print(
            f"  {backend}: migrated and seeded {count:,} pending collections "
            f"in {time.perf_counter() - started:.1f} s"
        )
        return self.templates[key]

    def fresh(self, backend: str, label: str, accounts: int = 0) -> Database:
        template = self.template(backend, accounts)
        self.runs += 1
        if backend == "sqlite":
            path = self.tmp / f"{label}-{self.runs}.db"
            data.sqlite_copy(Path(template), path)
            return Database(backend, f"sqlite:///{path}", str(path))
        name = self.postgres.create(label.replace("-", "_"), template=template)
        return Database(backend, self.postgres.url(name), name)

    def discard(self, db: Database) -> None:
        if db.backend == "postgresql":
            self.postgres.drop(db.name)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(db.name + suffix).unlink(missing_ok=True)

    def qmoi_env(self, db: Database, run_dir: Path, **extra: str) -> dict[str, str]:
        return procs.python_env(
            {
                "QMOI_DATABASE_URL": db.url,
                "QMOI_VAR_DIR": str(run_dir / "var"),
                "QMOI_LOG_DIR": str(run_dir / "logs"),
                "QMOI_SIGNING_KEY_FILE": str(self.key_file),
                "QMOI_MASTER_KEY": self.master_key,
                "MPESA_CALLBACK_TOKEN": self.mpesa_token,
                **extra,
            }
        )

    # -- load ------------------------------------------------------------------------------

    def loadgen(self, run_dir: Path, name: str, spec: dict[str, Any]) -> subprocess.Popen[bytes]:
        spec_file = run_dir / f"{name}.spec.json"
        spec_file.write_text(json.dumps({"host": "127.0.0.1", **spec}))
        return subprocess.Popen(
            [sys.executable, "-m", "bench.loadgen", str(spec_file), str(run_dir / f"{name}.json")],
            env=procs.python_env({}),
            cwd=procs.REPO,
            stdin=subprocess.DEVNULL,
        )

    def load(self, run_dir: Path, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Run the load generator to its end; its result."""
        child = self.loadgen(run_dir, name, spec)
        if child.wait(timeout=1800) != 0:
            raise RuntimeError(f"load generator {name} failed ({child.returncode})")
        result: dict[str, Any] = json.loads((run_dir / f"{name}.json").read_text())
        return result

    def callbacks_spec(
        self, ports: list[int], concurrency: int, first: int, count: int, accounts: int = 0
    ) -> dict:
        return {
            "ports": ports,
            "concurrency": concurrency,
            "method": "POST",
            "path": payloads.CALLBACK_PATH,
            "callbacks": {
                "first": first, "count": count, "secret": self.secret, "accounts": accounts,
            },
        }  # fmt: skip

    def wait_quiet(self, servers: list[Proc], database: str | None) -> dict[str, float]:
        """Before a measured phase, wait until other programs leave the machine nearly
        idle — at most BENCH_QUIET_WAIT seconds here and BENCH_QUIET_WAIT_TOTAL in the
        whole bench — so that another program's burst does not land in the phase. Says
        how busy others kept the machine and how long it waited."""
        started = time.monotonic()
        while True:
            meter = Meter(servers, database)
            time.sleep(1.0)
            meter.stop()
            other = meter.report(0.0)["other_pct"] / 100
            waited = time.monotonic() - started
            budget = min(self.config.quiet_wait_s, self.quiet_budget)
            if other < QUIET or waited >= budget:
                self.quiet_budget = max(0.0, self.quiet_budget - waited)
                if other >= QUIET:
                    print(f"  (other programs keep the machine {other:.0%} busy; measuring anyway)")
                return {"other_pct": round(100 * other, 1), "waited_s": round(waited, 1)}

    # -- 1. the callback path --------------------------------------------------------------

    def callback_run(
        self, backend: str, processes: int, concurrency: int, accounts: int = 0
    ) -> dict[str, Any]:
        """The callback path; with ``accounts``, that many Airtel accounts, each payment's
        callback posted to its own account's URL."""
        cfg = self.config
        label = f"{'pg' if backend == 'postgresql' else 'sqlite'}{processes}-c{concurrency}"
        label += f"-a{accounts}" if accounts else ""
        run_dir = self.tmp / label
        run_dir.mkdir()
        db = self.fresh(backend, f"cb-{label}", accounts)
        many: dict[str, str] = {}
        if accounts:
            config_file = run_dir / "accounts.json"
            config_file.write_text(json.dumps(payloads.accounts_config(accounts)))
            many["QMOI_CONFIG_FILE"] = str(config_file)
        env = self.qmoi_env(
            db,
            run_dir,
            AIRTEL_CALLBACK_AUTH="true",
            AIRTEL_CALLBACK_SECRET=self.secret,
            AIRTEL_BASE_URL=self.emulators["airtel"],
            MPESA_BASE_URL=self.emulators["mpesa"],
            **many,
        )
        apis: list[Proc] = []
        counter: Counter | None = None
        try:
            for k in range(processes):
                port = procs.free_port()
                argv = [procs.QMOI, "api", "--port", str(port)]
                apis.append(procs.start(f"api{k}", argv, env, run_dir, port=port))
            for api in apis:
                procs.wait_http(api)
            ports = [api.port for api in apis if api.port is not None]
            counter = Counter(db)
            warm_started = time.monotonic()
            warm = self.load(
                run_dir, "warmup", self.callbacks_spec(ports, concurrency, 0, cfg.warmup, accounts)
            )
            warm_rate = cfg.warmup / (self._wait_booked(counter, cfg.warmup, apis) - warm_started)
            payments = cfg.payments or self.auto_payments(warm_rate)
            target = cfg.warmup + payments
            spies = (
                [(api, profile.record(api.pid, run_dir / f"{api.name}.folded")) for api in apis]
                if cfg.profile and profile.available()
                else []
            )
            database = db.name if backend == "postgresql" else None
            quiet = self.wait_quiet(apis, database)
            meter = Meter(apis, database)
            child = self.loadgen(
                run_dir,
                "measured",
                self.callbacks_spec(ports, concurrency, cfg.warmup, payments, accounts),
            )
            booked_at = self._wait_booked(counter, target, apis, child)
            meter.stop()
            if child.wait(timeout=600) != 0:
                raise RuntimeError("the load generator failed")
            http = json.loads((run_dir / "measured.json").read_text())
            wall = booked_at - http["started"]
            counter.close()
            counter = None
            for api in apis:
                procs.stop(api)
            profiles = {}
            for api, spy in spies:
                spy.wait(timeout=60)
                profiles[api.name] = profile.summarise(run_dir / f"{api.name}.folded")
            check = self.verify_bookings(db, env, run_dir, target)
        finally:
            if counter is not None:
                counter.close()
            for api in apis:
                procs.stop(api)
        self.discard(db)
        return {
            "backend": backend,
            "processes": processes,
            "concurrency": concurrency,
            "accounts": accounts or 1,
            "payments": payments,
            "rate_per_s": round(payments / wall, 1),
            "http_rate_per_s": round(http["http_rate_per_s"], 1),
            "p50_ms": round(http["p50_ms"], 2),
            "p99_ms": round(http["p99_ms"], 2),
            "max_ms": round(http["max_ms"], 2),
            "http_s": round(http["elapsed_s"], 2),
            "booked_s": round(wall, 2),
            "warmup_booked_per_s": round(warm_rate, 1),
            "statuses": http["statuses"],
            "connection_errors": http["errors"] + warm["errors"],
            "cpu": {"wall_s": round(wall, 2), **meter.report(http["cpu_s"])},
            "quiet_before": quiet,
            "verified": check,
            **({"profile": profiles} if profiles else {}),
        }

    def auto_payments(self, warm_rate: float) -> int:
        """As many callbacks as the warm-up's booked rate gets through in
        BENCH_RUN_SECONDS, within [max/10, max]."""
        cfg = self.config
        wanted = int(warm_rate * cfg.run_seconds)
        return max(cfg.max_payments // 10, min(cfg.max_payments, wanted))

    def _wait_booked(
        self,
        counter: Counter,
        target: int,
        apis: list[Proc],
        child: subprocess.Popen[bytes] | None = None,
    ) -> float:
        """Poll the ledger until it holds ``target`` entries; the monotonic time it did."""
        last, progress_at = -1, time.monotonic()
        while True:
            now = time.monotonic()
            count = counter.entries()
            if count >= target:
                return now
            if count != last:
                last, progress_at = count, now
            for api in apis:
                if api.popen.poll() is not None:
                    raise RuntimeError(f"{api.name} died:\n{api.tail()}")
            if child is not None and child.poll() not in (None, 0):
                raise RuntimeError("the load generator failed")
            if now - progress_at > STALL_S:
                raise RuntimeError(
                    f"bookings stalled at {count:,} of {target:,}:\n"
                    + "\n".join(api.tail(10) for api in apis)
                )
            time.sleep(POLL_S)

    def verify_bookings(
        self, db: Database, env: dict[str, str], run_dir: Path, expected: int
    ) -> dict[str, Any]:
        """Every callback booked exactly once: the counts, then QMOI's own verifiers."""
        entries = db.count("journal_entries")
        references = int(db.scalar("SELECT count(DISTINCT reference) FROM journal_entries"))
        succeeded = int(db.scalar("SELECT count(*) FROM collections WHERE state = 'succeeded'"))
        inbox = int(db.scalar("SELECT count(*) FROM inbox WHERE status = 'processed'"))
        payments = int(db.scalar("SELECT coalesce(sum(payments), 0) FROM revenue_totals"))
        revenue = int(db.scalar("SELECT coalesce(sum(amount_minor), 0) FROM revenue_totals"))
        ledger_code, ledger_out = procs.run([procs.QMOI, "ledger", "verify"], env, run_dir)
        audit_code, audit_out = procs.run([procs.QMOI, "audit", "verify"], env, run_dir)
        ok = (
            entries == references == succeeded == inbox == payments == expected
            and revenue == expected * payloads.AMOUNT_MINOR
            and ledger_code == 0
            and audit_code == 0
        )
        return {
            "ok": ok,
            "expected": expected,
            "journal_entries": entries,
            "distinct_references": references,
            "collections_succeeded": succeeded,
            "inbox_processed": inbox,
            "revenue_payments": payments,
            "revenue_minor": revenue,
            "ledger_verify": ledger_out.splitlines()[-1] if ledger_out else ledger_code,
            "audit_verify": audit_out.splitlines()[-1] if audit_out else audit_code,
        }

    # -- 2. the baseline -------------------------------------------------------------------

    def accounts_run(self, one: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
        """The callback path with many accounts at once (PostgreSQL, 2 API processes, 64
        clients), beside the same run with one account when this bench made it."""
        n = self.config.accounts
        print(f"callback path: postgresql, 2 process(es), 64 clients, {n} accounts")
        row = self.callback_run("postgresql", 2, 64, accounts=n)
        single = one.get("postgresql", {}).get("2", {}).get("64")
        if single is not None:
            row["one_account_rate_per_s"] = single["rate_per_s"]
            row["vs_one_account"] = round(row["rate_per_s"] / single["rate_per_s"], 3)
        check = row["verified"]
        print(
            f"  booked {row['rate_per_s']:>7,.0f}/s (HTTP {row['http_rate_per_s']:,.0f}/s) "
            f"p50 {row['p50_ms']:.1f} ms p99 {row['p99_ms']:.1f} ms over {n} accounts"
            + (
                f" · one account: {single['rate_per_s']:,.0f}/s ({row['vs_one_account']:.0%})"
                if single is not None
                else ""
            )
            + f" · other programs {row['cpu']['other_pct']:.0f}% · exactly once: "
            f"{'yes' if check['ok'] else 'NO'}"
        )
        if not check["ok"]:
            print(f"    verification: {check}")
        return row

    def baseline_run(
        self, backend: str, processes: int, concurrency: int, payments: int
    ) -> dict[str, Any]:
        from bench.baseline import create_table

        cfg = self.config
        label = f"base-{'pg' if backend == 'postgresql' else 'sqlite'}{processes}-c{concurrency}"
        run_dir = self.tmp / label
        run_dir.mkdir()
        db = self.fresh(backend, label)
        create_table(db.url)
        env = procs.python_env({"QMOI_DATABASE_URL": db.url, "BENCH_BASELINE": cfg.baseline})
        servers: list[Proc] = []
        try:
            for k in range(processes):
                port = procs.free_port()
                servers.append(
                    procs.start(
                        f"baseline{k}",
                        [sys.executable, "-m", "bench.baseline", "--port", str(port)],
                        env,
                        run_dir,
                        port=port,
                    )
                )
            for server in servers:
                procs.wait_http(server)
            ports = [s.port for s in servers if s.port is not None]
            self.load(run_dir, "warmup", self.callbacks_spec(ports, concurrency, 0, cfg.warmup))
            database = db.name if backend == "postgresql" else None
            quiet = self.wait_quiet(servers, database)
            meter = Meter(servers, database)
            http = self.load(
                run_dir,
                "measured",
                self.callbacks_spec(ports, concurrency, cfg.warmup, payments),
            )
            meter.stop()
        finally:
            for server in servers:
                procs.stop(server)
        rows = db.count("bench_baseline")
        self.discard(db)
        return {
            "rate_per_s": round(http["http_rate_per_s"], 1),
            "p50_ms": round(http["p50_ms"], 2),
            "p99_ms": round(http["p99_ms"], 2),
            "statuses": http["statuses"],
            "rows_ok": rows == cfg.warmup + payments,
            "cpu": {"wall_s": round(http["elapsed_s"], 2), **meter.report(http["cpu_s"])},
            "quiet_before": quiet,
        }

    # -- 3. metrics at a million entries, and qmoi start's memory --------------------------

    def metrics_run(self) -> dict[str, Any]:
        cfg = self.config
        run_dir = self.tmp / "metrics"
        run_dir.mkdir()
        name = self.postgres.create("metrics")
        db = Database("postgresql", self.postgres.url(name), name)
        started = time.perf_counter()
        data.migrate(db.url)
        timings = data.bulk_ledger(self.postgres.libpq_url(name), cfg.entries, cfg.entry_days)
        load_s = time.perf_counter() - started
        print(f"  loaded {cfg.entries:,} ledger entries in {load_s:.1f} s")
        env = self.qmoi_env(db, run_dir)
        port = procs.free_port()
        start = procs.start(
            "qmoi-start",
            [procs.QMOI, "start", "--port", str(port), "--seed", "7"],
            env,
            run_dir,
            port=port,
        )
        peak = {"sampled": 0.0}
        stop_sampling = threading.Event()

        def sample() -> None:
            while not stop_sampling.is_set():
                rss = procs.rss_mb(start.pid)
                if rss is not None:
                    peak["sampled"] = max(peak["sampled"], rss)
                stop_sampling.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            procs.wait_http(start, "/readyz")
            idle_rss = procs.rss_mb(start.pid)
            spec = {
                "ports": [port],
                "method": "GET",
                "path": "/api/qmoi/revenue/metrics",
                "headers": {"Authorization": f"Bearer {self.master_key}"},
            }
            warm = self.load(run_dir, "warmup", {**spec, "concurrency": 1, "repeat": 100})
            if warm["statuses"] != {"200": 100}:
                raise RuntimeError(f"metrics answered {warm['statuses']}: {warm['failures']}")

            def phase(clients: int) -> dict[str, Any]:
                quiet = self.wait_quiet([start], name)
                meter = Meter([start], name)
                http = self.load(
                    run_dir,
                    f"c{clients}",
                    {**spec, "concurrency": clients, "repeat": cfg.metrics_requests},
                )
                meter.stop()
                return {
                    "requests": http["requests"],
                    "p50_ms": round(http["p50_ms"], 2),
                    "p95_ms": round(http["p95_ms"], 2),
                    "p99_ms": round(http["p99_ms"], 2),
                    "rate_per_s": round(http["http_rate_per_s"], 1),
                    "statuses": http["statuses"],
                    "cpu": {"wall_s": round(http["elapsed_s"], 2), **meter.report(http["cpu_s"])},
                    "quiet_before": quiet,
                }

            one, many = phase(1), phase(16)
            hwm = procs.peak_rss_mb(start.pid)
            stop_sampling.set()
            sampler.join()
            procs.stop(start)
            code, verify = procs.run([procs.QMOI, "ledger", "verify"], env, run_dir)
            entries = db.count("journal_entries")
        finally:
            stop_sampling.set()
            procs.stop(start)
        self.discard(db)
        peak_rss = max(peak["sampled"], hwm or 0.0)
        return {
            "entries": entries,
            "bulk_load_s": round(load_s, 1),
            "bulk_load_steps_s": {k: round(v, 1) for k, v in timings.items()},
            "ledger_verify": verify.splitlines()[-1] if verify else code,
            "ledger_verify_ok": code == 0,
            "c1": one,
            "c16": many,
            "rss_after_start_mb": round(idle_rss or 0.0, 1),
            "peak_rss_mb": round(peak_rss, 1),
        }


# --- the whole bench ----------------------------------------------------------------------


PARTS = {"sqlite": ("sqlite", 1), "pg1": ("postgresql", 1), "pg2": ("postgresql", 2)}


def run(config: Config) -> dict[str, Any]:
    results: dict[str, Any] = {"settings": asdict(config)}
    results["settings"]["postgres_url"] = make_url(config.postgres_url).render_as_string(
        hide_password=True
    )
    tmp = tempfile.mkdtemp(prefix="qmoi-bench-")
    try:
        bench = Bench(config, Path(tmp))
        postgres_wanted = any(p in config.parts for p in ("pg1", "pg2", "metrics"))
        postgres_ok = postgres_wanted and bench.postgres.reachable()
        if postgres_wanted and not postgres_ok:
            print("PostgreSQL: not reachable — its runs are skipped (set BENCH_POSTGRES_URL)")
        results["machine"] = describe_machine(bench.postgres if postgres_ok else None)
        print("machine:", ", ".join(f"{k} {v}" for k, v in results["machine"].items()))
        try:
            bench.start_emulators()
            callback_path: dict[str, dict[str, dict[str, Any]]] = {}
            for part in config.parts:
                if part not in PARTS:
                    continue
                backend, processes = PARTS[part]
                if backend == "postgresql" and not postgres_ok:
                    continue
                for concurrency in config.concurrencies:
                    print(
                        f"callback path: {backend}, {processes} process(es), {concurrency} clients"
                    )
                    row = bench.callback_run(backend, processes, concurrency)
                    row["baseline"] = bench.baseline_run(
                        backend, processes, concurrency, row["payments"]
                    )
                    row["baseline_rate_per_s"] = row["baseline"]["rate_per_s"]
                    row["ratio"] = round(row["rate_per_s"] / row["baseline_rate_per_s"], 3)
                    print_row(row)
                    by_count = callback_path.setdefault(backend, {}).setdefault(str(processes), {})
                    by_count[str(concurrency)] = row
            results["callback_path"] = callback_path
            if "accounts" in config.parts and postgres_ok:
                results["accounts"] = bench.accounts_run(callback_path)
            if "metrics" in config.parts and postgres_ok:
                print(f"metrics: {config.entries:,} ledger entries on PostgreSQL")
                metrics = bench.metrics_run()
                results["metrics"] = metrics
                results["metrics_p95_ms_1m"] = metrics["c1"]["p95_ms"]
                results["metrics_p95_ms_1m_c16"] = metrics["c16"]["p95_ms"]
                results["peak_rss_mb"] = metrics["peak_rss_mb"]
                print(
                    f"  metrics p95 {metrics['c1']['p95_ms']} ms (1 client), "
                    f"{metrics['c16']['p95_ms']} ms (16 clients); qmoi start peak RSS "
                    f"{metrics['peak_rss_mb']} MB; {metrics['ledger_verify']}"
                )
        finally:
            procs.stop_all()
            bench.postgres.drop_all()
    finally:
        if os.environ.get("BENCH_KEEP_TMP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results["summary"] = summary(results)
    results["targets"] = targets(results)
    return results


def print_row(row: dict[str, Any]) -> None:
    check = row["verified"]
    print(
        f"  booked {row['rate_per_s']:>7,.0f}/s (HTTP {row['http_rate_per_s']:,.0f}/s) "
        f"p50 {row['p50_ms']:.1f} ms p99 {row['p99_ms']:.1f} ms · baseline "
        f"{row['baseline_rate_per_s']:,.0f}/s p50 {row['baseline']['p50_ms']:.1f} ms · "
        f"ratio {row['ratio']:.0%} · {row['payments']:,} payments in {row['cpu']['wall_s']:.0f} s, "
        f"machine {row['cpu']['machine_busy_pct']:.0f}% busy (load generator "
        f"{row['cpu']['load_generator_s']:.1f} CPU-s, other programs "
        f"{row['cpu']['other_pct']:.0f}%) · exactly once: {'yes' if check['ok'] else 'NO'}"
    )
    if not check["ok"]:
        print(f"    verification: {check}")


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets from this run's figures; a target with several figures (one per
    concurrency) is met only if every one of them meets it."""
    out: dict[str, Any] = {}
    pg2 = results.get("callback_path", {}).get("postgresql", {}).get("2", {})
    if pg2:
        rates = {c: r["rate_per_s"] for c, r in pg2.items()}
        out["booked_per_s_pg2"] = {
            "value_by_concurrency": rates,
            "target": TARGETS["booked_per_s_pg2"],
            "met": all(v >= TARGETS["booked_per_s_pg2"] for v in rates.values()),
        }
        ratios = {c: r["ratio"] for c, r in pg2.items()}
        out["ratio_pg2"] = {
            "value_by_concurrency": ratios,
            "target": TARGETS["ratio_pg2"],
            "met": all(v >= TARGETS["ratio_pg2"] for v in ratios.values()),
        }
    if "metrics_p95_ms_1m" in results:
        one, many = results["metrics_p95_ms_1m"], results["metrics_p95_ms_1m_c16"]
        out["metrics_p95_ms_1m"] = {
            "value_by_concurrency": {"1": one, "16": many},
            "entries": results["metrics"]["entries"],
            "target": TARGETS["metrics_p95_ms_1m"],
            "met": one < TARGETS["metrics_p95_ms_1m"],
            "met_under_16_clients": many < TARGETS["metrics_p95_ms_1m"],
        }
        rss = results["peak_rss_mb"]
        out["peak_rss_mb"] = {
            "value": rss,
            "target": TARGETS["peak_rss_mb"],
            "met": rss < TARGETS["peak_rss_mb"],
        }
    return out


def summary(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per callback-path run: the figures the README table shows."""
    keys = (
        "backend",
        "processes",
        "concurrency",
        "payments",
        "rate_per_s",
        "http_rate_per_s",
        "baseline_rate_per_s",
        "ratio",
        "p50_ms",
        "p99_ms",
    )
    return [
        {k: row[k] for k in keys}
        | {
            "baseline_p50_ms": row["baseline"]["p50_ms"],
            "other_programs_cpu_pct": max(
                row["cpu"]["other_pct"], row["baseline"]["cpu"]["other_pct"]
            ),
        }
        for by_count in results.get("callback_path", {}).values()
        for by_concurrency in by_count.values()
        for row in by_concurrency.values()
    ]


def print_summary(results: dict[str, Any]) -> None:
    print("\nbackend     procs clients  booked/s  HTTP/s  baseline/s  ratio  p50 ms  p99 ms")
    for r in results["summary"]:
        print(
            f"{r['backend']:<11} {r['processes']:>5} {r['concurrency']:>7} "
            f"{r['rate_per_s']:>9,.0f} {r['http_rate_per_s']:>7,.0f} "
            f"{r['baseline_rate_per_s']:>11,.0f} {r['ratio']:>6.0%} {r['p50_ms']:>7.1f} "
            f"{r['p99_ms']:>7.1f} {r['other_programs_cpu_pct']:>6.0f}%"
        )
    for name, target in results["targets"].items():
        value = target.get("value_by_concurrency", target.get("value"))
        print(
            f"target {name}: {value} vs {target['target']} — "
            f"{'met' if target['met'] else 'NOT met'}"
        )


def main() -> None:
    config = Config.from_env()
    started = time.perf_counter()
    print(
        f"QMOI bench{' (quick)' if config.quick else ''}: "
        f"{config.payments or 'auto'} callbacks per run (+{config.warmup} warm-up) at "
        f"{', '.join(map(str, config.concurrencies))} clients; parts {', '.join(config.parts)}"
    )
    results = run(config)
    results["duration_s"] = round(time.perf_counter() - started, 1)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_summary(results)
    print(f"{results['duration_s']:.0f} s; written to {RESULTS}")


if __name__ == "__main__":
    main()
