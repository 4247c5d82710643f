"""Fixtures for the Airtel emulator tests: the emulator and a merchant callback endpoint,
both served over real HTTP on 127.0.0.1 with ``serve_in_thread`` (free ports).

Starting and stopping uvicorn costs a few hundred milliseconds, so each test worker
keeps one running emulator per distinct configuration and resets it (``POST
/sandbox/reset``) before handing it to the next test — every test thereby also relies
on reset being complete. ``start_airtel(fresh=True, ...)`` gives a private emulator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from tests.sandbox.airtel.airtel_support import FAST, Airtel, CallbackReceiver

from qmoi_sandbox.airtel import AirtelSandboxConfig, create_app
from qmoi_sandbox.common.server import serve_in_thread

StartAirtel = Callable[..., Airtel]


class _Servers:
    """Running emulators; stopped all at once (uvicorn takes ~0.15 s each to stop)."""

    def __init__(self) -> None:
        self._running: list[tuple[AbstractContextManager[str], Airtel]] = []

    def start(self, config: AirtelSandboxConfig) -> Airtel:
        app = create_app(config)
        server = serve_in_thread(app)
        client = Airtel(server.__enter__(), app)
        self._running.append((server, client))
        return client

    def stop_all(self) -> None:
        for _, client in self._running:
            client.close()
        stoppers = [
            threading.Thread(target=server.__exit__, args=(None, None, None))
            for server, _ in self._running
        ]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(timeout=15)
        self._running.clear()


@pytest.fixture(scope="session")
def _airtel_pool() -> Iterator[tuple[_Servers, dict[AirtelSandboxConfig, Airtel]]]:
    servers = _Servers()
    yield servers, {}
    servers.stop_all()


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[CallbackReceiver]:
    catcher = CallbackReceiver()
    with serve_in_thread(catcher.app) as base_url:
        catcher.url = f"{base_url}/airtel/callback"
        yield catcher


@pytest.fixture
def receiver(_receiver_server: CallbackReceiver) -> CallbackReceiver:
    """The merchant's callback endpoint (shared; read callbacks by transaction id)."""
    _receiver_server.answers.clear()
    return _receiver_server


@pytest.fixture
def start_airtel(
    _airtel_pool: tuple[_Servers, dict[AirtelSandboxConfig, Airtel]],
) -> Iterator[StartAirtel]:
    """An emulator with FAST settings plus overrides, freshly reset (or new with fresh=True)."""
    pooled, pool = _airtel_pool
    own = _Servers()

    def start(*, fresh: bool = False, **overrides: Any) -> Airtel:
        config = AirtelSandboxConfig(**(FAST | overrides))
        if fresh:
            return own.start(config)
        client = pool.get(config)
        if client is None:
            client = pool[config] = pooled.start(config)
        else:
            client.sandbox("POST", "/reset")
        return client

    yield start
    own.stop_all()


@pytest.fixture
def airtel(start_airtel: StartAirtel) -> Airtel:
    return start_airtel()


@pytest.fixture
def airtel_cb(start_airtel: StartAirtel, receiver: CallbackReceiver) -> Airtel:
    """An emulator whose portal callback URL points at ``receiver``."""
    return start_airtel(callback_url=receiver.url)
