"""Run an ASGI app with uvicorn on a loopback port, in a thread or as a task.

Tests start emulators with :func:`serve_in_thread` and talk to them over real HTTP;
``qmoi start`` serves them as tasks of its own event loop with :func:`make_server`.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

#: where :func:`free_port` looks: below the kernel's ephemeral range, which it hands out
#: for every outgoing connection (a database or HTTP client could otherwise take a port
#: between our probe and the server's bind — seen as "address already in use")
LISTEN_PORTS_LOW = 20_000
_ports = random.SystemRandom()


def _ephemeral_low() -> int:
    try:
        low = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
    except (OSError, IndexError):
        return 32_768
    return int(low) if low.isdigit() else 32_768


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, outside the ephemeral range where one exists
    (else any the kernel gives)."""
    high = _ephemeral_low() - 1
    for _ in range(50):
        port = _ports.randint(LISTEN_PORTS_LOW, high) if high > LISTEN_PORTS_LOW else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def make_server(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> uvicorn.Server:
    config = uvicorn.Config(
        app, host=host, port=port or free_port(host), log_level="warning", lifespan="on"
    )
    return uvicorn.Server(config)


@contextmanager
def serve_in_thread(
    app: Any, *, host: str = "127.0.0.1", port: int = 0, start_timeout_s: float = 10.0
) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL (``http://127.0.0.1:PORT``)."""
    server = make_server(app, host=host, port=port)
    thread = threading.Thread(target=server.run, name="sandbox-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server for {app!r} did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
