"""Unit checks of the emulator's building blocks against Airtel's published test vectors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from tests.sandbox.airtel.airtel_support import (
    DOC_BODY,
    DOC_IV,
    DOC_KEY,
    DOC_SIGNATURE,
    encrypt_pin,
    sign,
)

from qmoi_sandbox.airtel.crypto import EmulatorKeys, callback_hash
from qmoi_sandbox.airtel.state import (
    AirtelSandboxConfig,
    AirtelState,
    InsufficientFunds,
    format_minor,
)

pytestmark = pytest.mark.airtel

VECTOR = {
    "id": "ord-0001",
    "message": "Paid KES 100",
    "status_code": "TS",
    "airtel_money_id": "MP240101.1200.A00001",
}
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_callback_hash_matches_the_documented_outer_and_inner_vectors():
    key = "my-callback-private-key"
    assert callback_hash(VECTOR, key, "outer") == "o6KnBEM95RFTc2pcyFL+mhG1FtWCXhJsOaKbwbzCMJE="
    assert callback_hash(VECTOR, key, "inner") == "bUcnO/cIWZ19QE8atdbleGAlD//oFeja+Ejt8HXwPf8="


@pytest.fixture(scope="module")
def keys():
    return EmulatorKeys.generate(bits=1024, created=NOW)


def _public(keys):
    return serialization.load_pem_public_key(keys.public_pem().encode())


def test_signature_check_accepts_the_documented_vector_and_nothing_else(keys):
    headers = sign(DOC_BODY, _public(keys), DOC_KEY, DOC_IV)
    assert headers["x-signature"] == DOC_SIGNATURE
    assert keys.signature_matches(DOC_BODY, headers["x-signature"], headers["x-key"])
    assert not keys.signature_matches(DOC_BODY + b" ", headers["x-signature"], headers["x-key"])
    assert not keys.signature_matches(
        DOC_BODY, headers["x-signature"][:-4] + "AAA=", headers["x-key"]
    )
    assert not keys.signature_matches(DOC_BODY, headers["x-signature"], "bm90IGEga2V5")


def test_pin_is_compared_after_decryption(keys):
    public = _public(keys)
    first, second = encrypt_pin(public, "1234"), encrypt_pin(public, "1234")
    assert first != second  # PKCS#1 v1.5 is randomised
    assert keys.pin_matches(first, "1234")
    assert keys.pin_matches(second, "1234")
    assert not keys.pin_matches(first, "4321")
    assert not keys.pin_matches("", "1234")
    assert not keys.pin_matches(base64.b64encode(b"x" * 128).decode(), "1234")


def test_valid_upto_uses_the_documented_format(keys):
    assert keys.valid_upto_text() == "01-01-2027 12:00:00"


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (0, "KES", "0.00"),
        (5, "KES", "0.05"),
        (123456, "KES", "1234.56"),
        (-150, "KES", "-1.50"),
        (1500, "UGX", "1500"),
    ],
)
def test_minor_units_format_without_floats(minor, currency, text):
    assert format_minor(minor, currency) == text


def test_the_wallet_never_goes_negative():
    state = AirtelState(AirtelSandboxConfig(opening_balance_minor=100))
    state.debit(60)
    with pytest.raises(InsufficientFunds):
        state.debit(41)
    assert state.balance_minor == 40
    with pytest.raises(ValueError, match="negative"):
        state.credit(-1)


def test_airtel_ids_stay_unique_across_a_reset():
    state = AirtelState(AirtelSandboxConfig())
    first = state.next_money_id("MP", "A", NOW)
    state.reset()
    assert state.next_money_id("MP", "A", NOW) != first
    assert first == "MP260101.1200.A00001"


@pytest.mark.parametrize(
    "changes",
    [
        {"country": "XX"},
        {"currency": "kes"},
        {"speed": 0},
        {"pin": "12a4"},
        {"customer_delay_s": (5.0, 1.0)},
        {"hash_scope": "both"},
        {"token_ttl_s": 0},
        {"opening_balance_minor": -1},
        {"start": datetime(2026, 1, 1)},  # noqa: DTZ001 - naive on purpose
        {"rsa_key_bits": 512},
    ],
)
def test_unsafe_configs_are_refused(changes):
    with pytest.raises(ValueError, match="invalid Airtel sandbox config"):
        AirtelSandboxConfig(**changes)


def test_defaults_are_the_documented_sandbox_credentials():
    config = AirtelSandboxConfig()
    assert (config.client_id, config.client_secret, config.pin) == (
        "qmoi-sandbox",
        "qmoi-sandbox-secret",
        "1234",
    )
    assert (config.country, config.currency) == ("KE", "KES")
    assert config.opening_balance_minor == 100_000_000
    assert config.customer_delay_s == (5.0, 30.0)
    assert config.token_ttl_s == 180
    assert config.disbursement_fee_minor == 0
