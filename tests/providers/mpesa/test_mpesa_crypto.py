"""STK Password (doc §5) and SecurityCredential (doc §4)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

from qmoi.providers.mpesa import crypto

from .support import PUBLIC_SANDBOX_PASSKEY, KeyPair

pytestmark = pytest.mark.mpesa


def test_stk_password_matches_the_docs_public_test_vector() -> None:
    expected = (
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJh"
        "ZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3"
    )
    assert crypto.stk_password("174379", PUBLIC_SANDBOX_PASSKEY, "20160216165627") == expected


def test_stk_password_is_base64_of_shortcode_passkey_timestamp_computed_by_hand() -> None:
    by_hand = base64.b64encode(b"600984" + b"secret-passkey" + b"20260101093015").decode()
    assert crypto.stk_password("600984", "secret-passkey", "20260101093015") == by_hand


def test_stk_timestamp_is_nairobi_local_time() -> None:
    assert crypto.stk_timestamp(datetime(2026, 1, 1, 6, 30, 15, tzinfo=UTC)) == "20260101093015"


def test_a_malformed_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="YYYYMMDDHHmmss"):
        crypto.stk_password("174379", "k", "2026-01-01")


def _decrypt(pair: KeyPair, credential: str) -> str:
    plain = pair.private_key.decrypt(base64.b64decode(credential), padding.PKCS1v15())
    return plain.decode("utf-8")


def test_security_credential_round_trips_with_pkcs1_v15(key_pair: KeyPair) -> None:
    credential = crypto.security_credential("Sandbox#1234", key_pair.certificate_pem)
    assert _decrypt(key_pair, credential) == "Sandbox#1234"  # the raw password, not base64


def test_security_credential_is_randomised(key_pair: KeyPair) -> None:
    first = crypto.security_credential("Sandbox#1234", key_pair.certificate_pem)
    second = crypto.security_credential("Sandbox#1234", key_pair.certificate_pem)
    assert first != second
    assert _decrypt(key_pair, first) == _decrypt(key_pair, second)


def test_certificate_as_base64_der_or_public_key_pem_works_too(key_pair: KeyPair) -> None:
    pem = key_pair.certificate_pem
    der_b64 = "".join(line for line in pem.splitlines() if "-----" not in line)
    public_pem = (
        key_pair.private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for material in (der_b64, public_pem):
        assert _decrypt(key_pair, crypto.security_credential("pw", material)) == "pw"


@pytest.mark.parametrize("certificate", ["", "not a certificate", "-----BEGIN CERTIFICATE-----x"])
def test_an_unreadable_certificate_is_a_clear_error(certificate: str) -> None:
    with pytest.raises(crypto.CredentialError, match="certificate"):
        crypto.security_credential("pw", certificate)


def test_an_empty_password_is_refused(key_pair: KeyPair) -> None:
    with pytest.raises(crypto.CredentialError, match="empty"):
        crypto.security_credential("", key_pair.certificate_pem)
