"""Airtel cryptography (doc §4, §6): the message-signing test vector, PIN round trips
with a locally generated key, key formats, and the callback hash vectors."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.providers.airtel.airtel_connector_kit import decrypt, public_der_b64, public_pem

from qmoi.providers.airtel import crypto, wire

pytestmark = pytest.mark.airtel

# §4.3 test vector, verbatim from the document.
VECTOR_BODY = (
    b'{"reference":"INV-0001","subscriber":{"country":"KE","currency":"KES",'
    b'"msisdn":"733123456"},"transaction":{"amount":100,"country":"KE","currency":"KES",'
    b'"id":"ord-0001"}}'
)
VECTOR_KEY = base64.b64decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
VECTOR_IV = base64.b64decode("EBESExQVFhcYGRobHB0eHw==")
VECTOR_SIGNATURE = (
    "TiF3pgpGSWnfPpyNhyTZiEGWPuanwH4S+v3I1H299xsQJHHBe+SvVDA0NL8fmMYzMNPjwzHxiTlac4gBzlfuV8hL"
    "osYTwoWk6t6zxV5lfq+Nuu9eP/DeyyVoNGVSbCgEmHkDPvrvMj6+ssPr+wpe6DVn/N991C9Izkais4mf/v+57aAH"
    "t1dIc0lJ5rAkXEvuA47GO6L/Shwh42cSF/hEWsFwiNqd5mLy4Ag35LXazUw="
)

# §6 callback hash vectors.
HASH_KEY = "my-callback-private-key"
HASH_TX = (
    '{"id":"ord-0001","message":"Paid KES 100","status_code":"TS",'
    '"airtel_money_id":"MP240101.1200.A00001"}'
)
HASH_OUTER = "o6KnBEM95RFTc2pcyFL+mhG1FtWCXhJsOaKbwbzCMJE="
HASH_INNER = "bUcnO/cIWZ19QE8atdbleGAlD//oFeja+Ejt8HXwPf8="


def test_signature_matches_the_documented_vector() -> None:
    assert crypto.signature_value(VECTOR_BODY, VECTOR_KEY, VECTOR_IV) == VECTOR_SIGNATURE


def test_our_collection_body_serialises_to_the_vector_bytes() -> None:
    """The bytes we sign are the bytes the doc signs: compact, in this key order."""
    body = wire.collection_body(
        reference="INV-0001",
        msisdn="733123456",
        amount=100,
        country="KE",
        currency="KES",
        transaction_id="ord-0001",
    )
    assert wire.dumps(body) == VECTOR_BODY


def test_sign_body_wraps_key_and_iv_for_airtel(rsa_key: rsa.RSAPrivateKey) -> None:
    signature = crypto.sign_body(
        VECTOR_BODY, rsa_key.public_key(), aes_key=VECTOR_KEY, iv=VECTOR_IV
    )
    assert signature.x_signature == VECTOR_SIGNATURE
    key_b64, iv_b64 = decrypt(rsa_key, signature.x_key).decode("ascii").split(":")
    assert base64.b64decode(key_b64) == VECTOR_KEY
    assert base64.b64decode(iv_b64) == VECTOR_IV


def test_sign_body_uses_fresh_keys(rsa_key: rsa.RSAPrivateKey) -> None:
    first = crypto.sign_body(VECTOR_BODY, rsa_key.public_key())
    second = crypto.sign_body(VECTOR_BODY, rsa_key.public_key())
    assert first.x_signature != second.x_signature
    # the receiver's check (§4.3 step 5): decrypt x-key, re-encrypt the body, compare
    key_b64, iv_b64 = decrypt(rsa_key, first.x_key).decode().split(":")
    again = crypto.signature_value(VECTOR_BODY, base64.b64decode(key_b64), base64.b64decode(iv_b64))
    assert again == first.x_signature


def test_pin_round_trip_pkcs1v15(rsa_key: rsa.RSAPrivateKey) -> None:
    encrypted = crypto.encrypt_pin("1234", rsa_key.public_key())
    assert decrypt(rsa_key, encrypted) == b"1234"
    assert len(base64.b64decode(encrypted)) == 128  # one 1024-bit block
    # randomised padding: never the same twice (the emulator must decrypt, §4.2)
    assert crypto.encrypt_pin("1234", rsa_key.public_key()) != encrypted


def test_pin_must_be_digits(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="digits"):
        crypto.encrypt_pin("12a4", rsa_key.public_key())


@pytest.mark.parametrize("form", ["pem", "der_b64", "der_b64_wrapped", "pem_escaped", "pkcs1"])
def test_public_key_formats(rsa_key: rsa.RSAPrivateKey, form: str) -> None:
    if form == "pem":
        text = public_pem(rsa_key)
    elif form == "der_b64":
        text = public_der_b64(rsa_key)
    elif form == "der_b64_wrapped":
        raw = public_der_b64(rsa_key)
        text = "\n".join(raw[i : i + 64] for i in range(0, len(raw), 64))
    elif form == "pem_escaped":
        text = public_pem(rsa_key).replace("\n", "\\n")
    else:
        der = rsa_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
        text = base64.b64encode(der).decode()
    key = crypto.load_public_key(text)
    assert key.public_numbers() == rsa_key.public_key().public_numbers()


@pytest.mark.parametrize(
    "text", ["", "not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"]
)
def test_bad_public_keys_are_refused(text: str) -> None:
    with pytest.raises(crypto.InvalidPublicKey):
        crypto.load_public_key(text)


def test_callback_hash_vectors() -> None:
    inner = HASH_TX.encode()
    outer = b'{"transaction":' + inner + b"}"
    assert crypto.callback_hash(outer, HASH_KEY) == HASH_OUTER
    assert crypto.callback_hash(inner, HASH_KEY) == HASH_INNER
    assert crypto.hash_matches(outer, HASH_KEY, HASH_OUTER)
    assert not crypto.hash_matches(outer, HASH_KEY, HASH_INNER)
    assert not crypto.hash_matches(outer, "another-key", HASH_OUTER)
