"""Fixtures for the Daraja emulator tests: the emulator and a merchant hook endpoint,
both served over real HTTP on 127.0.0.1 (``serve_in_thread`` picks free ports).

Starting and stopping a uvicorn server costs ~0.2 s, so each test module shares one
hook server (every test gets its own path prefix) and one default emulator, reset
through ``POST /sandbox/reset`` before each test; tests that need another configuration
start their own with ``start_mpesa(**overrides)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from tests.sandbox.mpesa.mpesa_support import FAST, CallbackReceiver, HookServer, Mpesa

from qmoi_sandbox.common.server import serve_in_thread
from qmoi_sandbox.mpesa import MpesaSandboxConfig, create_app

StartMpesa = Callable[..., Mpesa]


@pytest.fixture(scope="module")
def hook_server() -> Iterator[HookServer]:
    server = HookServer()
    with serve_in_thread(server.app) as base_url:
        server.base_url = base_url
        yield server


@pytest.fixture
def receiver(hook_server: HookServer) -> CallbackReceiver:
    return hook_server.receiver()


@pytest.fixture
def start_mpesa(receiver: CallbackReceiver) -> Iterator[StartMpesa]:
    """Start emulators with FAST settings plus overrides; all stop at the end of the test."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> Mpesa:
            # A throwaway emulator: a 1024-bit key is as good for the protocol and
            # five times cheaper to generate (the shared ones keep the 2048 default).
            app = create_app(MpesaSandboxConfig(**(FAST | {"key_bits": 1024} | overrides)))
            base_url = stack.enter_context(serve_in_thread(app))
            client = Mpesa(base_url, app, receiver)
            stack.callback(client.close)
            return client

        yield start


@contextmanager
def serve_shared(hook_server: HookServer, **overrides: Any) -> Iterator[Mpesa]:
    """An emulator (and one HTTP client for it) meant to live for a whole test module."""
    app = create_app(MpesaSandboxConfig(**(FAST | overrides)))
    with serve_in_thread(app) as base_url:
        client = Mpesa(base_url, app, hook_server.receiver())
        try:
            yield client
        finally:
            client.close()


def fresh(client: Mpesa, receiver: CallbackReceiver) -> Mpesa:
    """The shared emulator, reset, with this test's hook receiver."""
    client.receiver = receiver
    assert client.http.post("/sandbox/reset").status_code == 200
    return client


@pytest.fixture(scope="module")
def shared_emulator(hook_server: HookServer) -> Iterator[Mpesa]:
    with serve_shared(hook_server) as client:
        yield client


@pytest.fixture
def mpesa(shared_emulator: Mpesa, receiver: CallbackReceiver) -> Mpesa:
    """The module's default emulator, reset: opening float, no transactions, no faults."""
    return fresh(shared_emulator, receiver)
