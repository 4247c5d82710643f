"""The sustained-load run: ``make soak`` (``python -m bench.soak``).

Airtel success callbacks arrive at a fixed rate (default 300 a second — an open loop: a
request is due at its moment whether or not earlier ones have been answered, and its
latency counts from that moment, so a slow server cannot slow the load down and hide
its queue) for a fixed time (default 10 minutes) at 2 ``qmoi api`` processes on
PostgreSQL, while 2 ``qmoi worker`` processes pay auto-transfer chunks out of the
revenue through the Airtel emulator. Bounded in count (rate × duration callbacks, each
for a seeded pending collection, each sent once) and in time, loopback only.

It reports throughput (sent and booked per second), p50 / p99 latency, errors, and the
resident memory of every QMOI process shortly after the start and at the end; growth
above 10% is reported as a finding. Memory is also read every minute, so the finding can
say whether a process was still growing in the second half or had levelled off.
Afterwards every callback must be booked exactly once. Knobs (environment):
``SOAK_RATE`` (300), ``SOAK_DURATION_S`` (600), ``SOAK_CLIENTS`` (connections, 128),
``SOAK_CHUNK_KES`` (auto-transfer chunk, 50,000), ``SOAK_POSTGRES_URL`` (else as
``make bench``). Results go to ``bench/soak.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import data, payloads, procs
from bench.loadgen import _exchange, percentile

RESULT = Path(__file__).with_name("soak.json")
GROWTH_FINDING = 0.10
WARM_S = 15.0  # the "start" memory reading is taken this long into the load
SAMPLE_S = 60.0  # and memory is read again this often, to tell a leak from a warm-up


def _env_number(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# --- the load generator (its own process) -----------------------------------------------


async def _open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    rate, count, clients = float(spec["rate"]), int(spec["count"]), int(spec["clients"])
    ports: list[int] = spec["ports"]
    host = f"127.0.0.1:{ports[0]}"
    head = (
        f"POST {payloads.CALLBACK_PATH} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/json\r\n"
    )
    due: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    per_second: dict[int, int] = {}
    started = time.monotonic()

    async def schedule() -> None:
        for index in range(count):
            at = started + index / rate
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            due.put_nowait((index, at))
        for _ in range(clients):
            due.put_nowait((-1, 0.0))

    async def client(number: int) -> None:
        nonlocal errors
        port = ports[number % len(ports)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                index, at = await due.get()
                if index < 0:
                    return
                body = payloads.airtel_success(spec["first"] + index, spec["secret"])
                request = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
                for attempt in range(3):
                    try:
                        status, _ = await _exchange(reader, writer, request)
                    except (OSError, asyncio.IncompleteReadError, ValueError):
                        errors += 1
                        writer.close()
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                        if attempt == 2:
                            statuses["failed"] = statuses.get("failed", 0) + 1
                        continue
                    done = time.monotonic()
                    latencies.append(done - at)
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
                    if status != 200:
                        errors += 1
                    second = int(done - started)
                    per_second[second] = per_second.get(second, 0) + 1
                    break
        finally:
            writer.close()

    await asyncio.gather(schedule(), *(client(n) for n in range(clients)))
    elapsed = time.monotonic() - started
    latencies.sort()
    rates = [per_second[s] for s in sorted(per_second)][1:-1] or [0]
    return {
        "sent": count,
        "elapsed_s": round(elapsed, 1),
        "answered_per_s": round(len(latencies) / elapsed, 1),
        "slowest_second": min(rates),
        "statuses": statuses,
        "errors": errors,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
    }


def _load_main(spec_file: str, result_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    try:
        import uvloop

        result = uvloop.run(_open_loop(spec))
    except ImportError:
        result = asyncio.run(_open_loop(spec))
    Path(result_file).write_text(json.dumps(result))


# --- the run -----------------------------------------------------------------------------


def _booked(url: str) -> tuple[int, int, int]:
    """(payments booked, distinct receipts, transfers paid) in the database."""
    from sqlalchemy import func, select

    from qmoi.db import tables as t
    from qmoi.db.engine import create_db_engine

    engine = create_db_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            reference = t.journal_entries.c.reference
            pay = reference.like("airtel:pay:%")
            booked = conn.scalar(select(func.count()).where(pay)) or 0
            distinct = conn.scalar(select(func.count(func.distinct(reference))).where(pay)) or 0
            succeeded = t.transfers.c.state == "succeeded"
            paid = conn.scalar(select(func.count()).select_from(t.transfers).where(succeeded))
    finally:
        engine.dispose()
    return int(booked), int(distinct), int(paid or 0)


def _memory(processes: list[procs.Proc]) -> dict[str, float | None]:
    return {p.name: procs.rss_mb(p.pid) for p in processes}


def _growth(
    start: dict[str, float | None], end: dict[str, float | None]
) -> dict[str, float | None]:
    growth: dict[str, float | None] = {}
    for name, before in start.items():
        after = end.get(name)
        growth[name] = round(after / before - 1, 3) if before and after else None
    return growth


def _wait_sampling(
    load: subprocess.Popen[bytes], processes: list[procs.Proc], began: float, limit_s: float
) -> list[dict[str, Any]]:
    """Wait for the load generator, reading every process's memory each SAMPLE_S."""
    samples: list[dict[str, Any]] = []
    next_at = began + SAMPLE_S
    deadline = began + limit_s
    while load.poll() is None:
        if time.monotonic() > deadline:
            load.kill()
            raise SystemExit("soak: the load generator did not finish in time")
        if time.monotonic() >= next_at:
            samples.append({"at_s": round(next_at - began), **_memory(processes)})
            next_at += SAMPLE_S
        time.sleep(0.5)
    if load.returncode != 0:
        raise SystemExit(f"soak: the load generator failed ({load.returncode})")
    return samples


def main() -> None:
    rate = _env_number("SOAK_RATE", 300)
    duration = _env_number("SOAK_DURATION_S", 600)
    clients = int(_env_number("SOAK_CLIENTS", 128))
    chunk_kes = int(_env_number("SOAK_CHUNK_KES", 50_000))
    count = int(rate * duration)
    url = (
        os.environ.get("SOAK_POSTGRES_URL")
        or os.environ.get("BENCH_POSTGRES_URL")
        or os.environ.get("QMOI_TEST_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    postgres = data.Postgres(url)
    if not postgres.reachable():
        raise SystemExit(f"soak: PostgreSQL at {url} is unreachable (set SOAK_POSTGRES_URL)")
    print(
        f"soak: {rate:g} callbacks/s for {duration:g} s ({count:,} in all) at 2 API processes "
        f"on PostgreSQL {postgres.version()}, 2 workers paying chunks of KES {chunk_kes:,}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="qmoi-soak-"))
    secret = secrets.token_hex(16)
    try:
        name = postgres.create("soak")
        db_url = postgres.url(name)
        data.migrate(db_url)
        started = time.perf_counter()
        data.seed_pending(db_url, count, tmp / "signing.key")
        print(f"  seeded {count:,} pending collections in {time.perf_counter() - started:.0f} s")
        emulators: dict[str, str] = {}
        for provider in ("airtel", "mpesa"):
            port = procs.free_port()
            argv = [procs.QMOI, "sandbox", provider, "--port", str(port)]
            if provider == "airtel":  # the float pays chunks the emulator never saw come in
                argv += ["--opening-balance-minor", str(10**13)]
            proc = procs.start(f"sandbox-{provider}", argv, procs.python_env({}), tmp, port=port)
            procs.wait_http(proc, "/sandbox/health")
            emulators[provider] = f"http://127.0.0.1:{port}"
        env = procs.python_env(
            {
                "QMOI_DATABASE_URL": db_url,
                "QMOI_VAR_DIR": str(tmp / "var"),
                "QMOI_LOG_DIR": str(tmp / "logs"),
                "QMOI_SIGNING_KEY_FILE": str(tmp / "signing.key"),
                "QMOI_MASTER_KEY": secrets.token_hex(32),
                "MPESA_CALLBACK_TOKEN": secrets.token_hex(16),
                "AIRTEL_CALLBACK_AUTH": "true",
                "AIRTEL_CALLBACK_SECRET": secret,
                "AIRTEL_BASE_URL": emulators["airtel"],
                "MPESA_BASE_URL": emulators["mpesa"],
                "QMOI_AUTO_TRANSFER_AIRTEL": str(chunk_kes),
            }
        )
        apis = []
        for k in range(2):
            port = procs.free_port()
            argv = [procs.QMOI, "api", "--port", str(port)]
            apis.append(procs.start(f"api-{k}", argv, env, tmp, port=port))
        workers = [procs.start(f"worker-{k}", [procs.QMOI, "worker"], env, tmp) for k in range(2)]
        for api in apis:
            procs.wait_http(api, "/readyz")
        time.sleep(3)
        qmoi = apis + workers
        spec = {
            "rate": rate,
            "count": count,
            "clients": clients,
            "ports": [a.port for a in apis],
            "first": 0,
            "secret": secret,
        }
        (tmp / "spec.json").write_text(json.dumps(spec))
        argv = [sys.executable, "-m", "bench.soak", "--load", str(tmp / "spec.json")]
        load = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [*argv, str(tmp / "load.json")],
            env=procs.python_env({}),
            cwd=procs.REPO,
            stdin=subprocess.DEVNULL,
        )
        began = time.monotonic()
        time.sleep(min(WARM_S, duration / 4))
        memory_start = _memory(qmoi)
        samples = _wait_sampling(load, qmoi, began, duration * 3 + 600)
        memory_end = _memory(qmoi)
        # from the reading nearest half-time to the end: levelling off, or still growing
        halfway = min(samples, key=lambda s: abs(s["at_s"] - duration / 2), default=None)
        memory_half = {n: halfway[n] for n in memory_start} if halfway else memory_start
        result: dict[str, Any] = json.loads((tmp / "load.json").read_text())
        deadline = time.monotonic() + 300
        booked, distinct, paid = _booked(db_url)
        while booked < count and time.monotonic() < deadline:
            time.sleep(1)
            booked, distinct, paid = _booked(db_url)
        for proc in qmoi:
            if proc.popen.poll() is not None:
                raise SystemExit(f"soak: {proc.name} died:\n{proc.tail()}")
        growth = _growth(memory_start, memory_end)
        growth_second_half = _growth(memory_half, memory_end)
        findings = [
            f"{n}: resident memory grew {g:.0%} ({memory_start[n]:.0f} → {memory_end[n]:.0f} MB"
            f"; {growth_second_half[n] or 0:+.0%} from half-time to the end)"
            for n, g in growth.items()
            if g is not None and g > GROWTH_FINDING
        ]
        if booked != count or distinct != booked:
            findings.append(f"booked {booked} ({distinct} distinct) of {count} callbacks")
        report = {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{os.cpu_count()} cores, {platform.platform()}, Python "
            f"{platform.python_version()}",
            "rate_per_s": rate,
            "duration_s": duration,
            "clients": clients,
            **result,
            "booked": booked,
            "booked_exactly_once": booked == count == distinct,
            "transfers_paid": paid,
            "rss_mb_start": memory_start,
            "rss_mb_end": memory_end,
            "rss_growth": growth,
            "rss_mb_samples": samples,
            "rss_growth_second_half": growth_second_half,
            "findings": findings,
        }
        RESULT.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        print("findings: " + ("; ".join(findings) if findings else "none"))
    finally:
        procs.stop_all()
        postgres.drop_all()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--load"]:
        _load_main(sys.argv[2], sys.argv[3])
    else:
        main()
