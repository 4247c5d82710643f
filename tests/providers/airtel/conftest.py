"""Fixtures for the Airtel connector tests (helpers live in ``airtel_connector_kit``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.providers.airtel.airtel_connector_kit import FAKE_URL, FakeAirtel, make_settings

from qmoi.config import AirtelSettings
from qmoi.providers.airtel import AirtelConnector


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """A 1024-bit key like Airtel's samples (§4.1), generated once per worker."""
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505


@pytest.fixture
def fake() -> FakeAirtel:
    return FakeAirtel()


@pytest.fixture
async def connect(fake: FakeAirtel) -> AsyncIterator[Callable[..., AirtelConnector]]:
    """Build connectors talking to ``fake`` (fast retries); closed after the test."""
    clients: list[httpx.AsyncClient] = []

    def build(settings: AirtelSettings | None = None, **kwargs: Any) -> AirtelConnector:
        client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handle))
        clients.append(client)
        kwargs.setdefault("retry_max_s", 0.005)
        return AirtelConnector(
            settings or make_settings(), base_url=FAKE_URL, client=client, **kwargs
        )

    yield build
    for client in clients:
        await client.aclose()
