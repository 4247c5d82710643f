"""A round-robin TCP balancer in front of the API processes, as a deployment has one.

Providers know one callback URL (Airtel: exactly one per application), so with several
``qmoi api`` processes something must spread the connections and route around a dead
one. Each new connection goes to the next backend that accepts it; a connection whose
backend dies is cut, as a real balancer's would be — the caller sees an error, not an
answer, and must not assume the request was or was not handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from qmoi_sandbox.common.server import free_port


class Balancer:
    def __init__(self, backends: list[int]) -> None:
        self.backends = list(backends)
        self._turn = itertools.count()
        self.port = free_port()
        self.refused = 0  # connections no backend accepted

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        start = next(self._turn)
        for offset in range(len(self.backends)):
            port = self.backends[(start + offset) % len(self.backends)]
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
            return
        self.refused += 1
        writer.close()

    async def serve(self, ready: threading.Event, stop: asyncio.Event) -> None:
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=1024)
        ready.set()
        async with server:
            await stop.wait()


@contextmanager
def balancer(backends: list[int]) -> Iterator[Balancer]:
    """Serve a :class:`Balancer` in a thread of its own until the block ends."""
    lb = Balancer(backends)
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(lb.serve(ready, stop))

    thread = threading.Thread(target=run, name="chaos-balancer", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the balancer did not start")
    try:
        yield lb
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()
