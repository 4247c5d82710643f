"""Shared fixtures for the M-Pesa connector tests: settings, a locally generated RSA key
with a self-signed certificate, and a scriptable fake Daraja on httpx.MockTransport."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from qmoi.config import Environment, MpesaSettings
from qmoi.domain.clock import ManualClock
from qmoi.domain.streams import StreamKey
from qmoi.providers.base import InMemoryResultWaiter
from qmoi.providers.mpesa.client import MpesaConnector

from .support import (
    CALLBACK_BASE,
    CALLBACK_TOKEN,
    FAKE_BASE,
    PUBLIC_SANDBOX_PASSKEY,
    FakeDaraja,
    KeyPair,
)


@pytest.fixture(scope="session")
def key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "qmoi-test-daraja")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert.public_bytes(serialization.Encoding.PEM).decode("ascii"))


@pytest.fixture
def make_settings(key_pair: KeyPair) -> Callable[..., MpesaSettings]:
    def build(**overrides: Any) -> MpesaSettings:
        values: dict[str, Any] = {
            "environment": Environment.SANDBOX,
            "consumer_key": SecretStr("qmoi-sandbox"),
            "consumer_secret": SecretStr("qmoi-sandbox-secret"),
            "shortcode": "174379",
            "shortcode_type": "paybill",
            "till_number": None,
            "passkey": SecretStr(PUBLIC_SANDBOX_PASSKEY),
            "initiator_name": "qmoi_initiator",
            "initiator_password": SecretStr("Sandbox#1234"),
            "certificate": key_pair.certificate_pem,
            "phone_number": "254708000100",
            "base_url": None,
            "account_reference": "QMOI_MPESA",
            "transaction_desc": "QMOI M-Pesa Revenue",
            "callback_allowlist": (),
            "callback_token": SecretStr(CALLBACK_TOKEN),
            "c2b_rules": (
                ("AIR", StreamKey.AIRTIME_SALES),
                ("DATA", StreamKey.DATA_PACKAGES),
                ("BILL", StreamKey.UTILITY_PAYMENTS),
            ),
            "c2b_default_stream": StreamKey.DIGITAL_PAYMENTS,
        }
        values.update(overrides)
        return MpesaSettings(**values)

    return build


@pytest.fixture
def results() -> InMemoryResultWaiter:
    return InMemoryResultWaiter()


@pytest.fixture
def fake(results: InMemoryResultWaiter) -> FakeDaraja:
    return FakeDaraja(results)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, 6, 30, 15, tzinfo=UTC))  # 09:30:15 in Nairobi


@pytest.fixture
def make_connector(
    make_settings: Callable[..., MpesaSettings],
    fake: FakeDaraja,
    results: InMemoryResultWaiter,
    clock: ManualClock,
) -> Callable[..., MpesaConnector]:
    def build(settings: MpesaSettings | None = None, **kwargs: Any) -> MpesaConnector:
        client = httpx.AsyncClient(
            base_url=FAKE_BASE, transport=httpx.MockTransport(fake.handle), timeout=2.0
        )
        kwargs.setdefault("retry_max_s", 0.005)
        kwargs.setdefault("result_timeout_s", 0.5)
        return MpesaConnector(
            settings or make_settings(),
            callback_base_url=CALLBACK_BASE,
            results=results,
            base_url=FAKE_BASE,
            client=client,
            clock=clock,
            **kwargs,
        )

    return build
