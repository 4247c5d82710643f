"""The load generator: ``python -m bench.loadgen SPEC.json RESULT.json``.

A separate process, so its work never shares a GIL with the processes it measures, and
deliberately cheap: every request's bytes are built before the clock starts, each of
the ``concurrency`` clients holds one HTTP/1.1 keep-alive connection and has at most
one request in flight, and responses are parsed only as far as the status line and
``Content-Length`` (uvloop, no HTTP library). With several ports, client ``i`` talks to
``ports[i % len(ports)]``: a round-robin across API processes by connection.

The spec (JSON): ``host``, ``ports``, ``concurrency``, ``method``, ``path``, ``headers``,
and either ``callbacks: {first, count, secret}`` (one hashed Airtel success callback per
seeded collection, each sent once) or ``repeat: n`` (the same request n times).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import payloads

RETRIES = 3


def build_requests(spec: dict[str, Any]) -> list[bytes]:
    method, path = spec["method"], spec["path"]
    headers = "".join(f"{k}: {v}\r\n" for k, v in spec.get("headers", {}).items())
    host = f"{spec['host']}:{spec['ports'][0]}"

    def request(body: bytes, to: str = path) -> bytes:
        head = f"{method} {to} HTTP/1.1\r\nHost: {host}\r\n{headers}"
        if body or method != "GET":
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return (head + "\r\n").encode() + body

    if "callbacks" in spec:
        cb = spec["callbacks"]
        first, count, secret = cb["first"], cb["count"], cb["secret"]
        accounts = int(cb.get("accounts", 0))  # each callback to its account's own URL
        return [
            request(payloads.airtel_success(i, secret), payloads.callback_path(i, accounts))
            for i in range(first, first + count)
        ]
    one = request(b"")
    return [one] * int(spec["repeat"])


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
            break
    body = await reader.readexactly(length) if length else b""
    return status, body


async def run(spec: dict[str, Any], requests: list[bytes]) -> dict[str, Any]:
    host, ports = spec["host"], spec["ports"]
    concurrency = int(spec["concurrency"])
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    failures: list[str] = []
    errors = 0
    position = 0

    async def client(number: int) -> None:
        nonlocal position, errors
        port = ports[number % len(ports)]
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while position < len(requests):
                request = requests[position]
                position += 1
                for attempt in range(RETRIES):
                    started = time.perf_counter()
                    try:
                        status, body = await _exchange(reader, writer, request)
                    except (OSError, asyncio.IncompleteReadError, ValueError):
                        # the callback may or may not have arrived: resending it is what
                        # a provider does, and the inbox dedupes it
                        errors += 1
                        writer.close()
                        if attempt == RETRIES - 1:
                            raise
                        reader, writer = await asyncio.open_connection(host, port)
                        continue
                    latencies.append(time.perf_counter() - started)
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
                    if status != 200 and len(failures) < 5:
                        failures.append(f"{status}: {body[:300].decode(errors='replace')}")
                    break
        finally:
            writer.close()

    cpu = time.process_time()
    started = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(concurrency)))
    finished = time.monotonic()
    latencies.sort()
    elapsed = finished - started
    return {
        "requests": len(requests),
        "concurrency": concurrency,
        "ports": ports,
        "started": started,
        "finished": finished,
        "elapsed_s": elapsed,
        "http_rate_per_s": len(requests) / elapsed if elapsed > 0 else None,
        "statuses": statuses,
        "errors": errors,
        "failures": failures,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": latencies[-1] * 1000 if latencies else None,
        "cpu_s": time.process_time() - cpu,
    }


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[0]).read_text())
    requests = build_requests(spec)
    try:
        import uvloop

        result = uvloop.run(run(spec, requests))
    except ImportError:
        result = asyncio.run(run(spec, requests))
    Path(argv[1]).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
