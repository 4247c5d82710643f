"""Airtel Money cryptography: PIN encryption, message signing and the callback hash.

Follows ``docs/providers/airtel.md``:

* §4.1/§4.2 — Airtel's RSA public key (PEM, or base64 DER SubjectPublicKeyInfo as the
  encryption-keys endpoint serves it); ``pin`` = base64(RSA-PKCS#1-v1.5(PIN as UTF-8)).
  PKCS#1 v1.5, not OAEP: the clients that use OAEP are wrong (§4.2).
* §4.3 — message signing: ``x-signature`` = base64(AES-256-CBC(body, key, iv), PKCS#7)
  over the exact body bytes sent; ``x-key`` = base64(RSA-PKCS#1-v1.5(base64(key) + ":" +
  base64(iv))). Verified against the doc's test vector in the unit tests.
* §6 — callback ``hash`` = base64(HMAC-SHA256(callback private key, compact JSON)),
  compared in constant time.

This module must never log, return or keep a PIN, an AES key or a secret in anything
but the encrypted values Airtel asks for; it does no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

AES_KEY_BYTES = 32
AES_IV_BYTES = 16


class InvalidPublicKey(ValueError):
    """The configured or fetched public key cannot be used."""


_PEM = re.compile(r"-----BEGIN (?P<label>[A-Z ]+)-----(?P<body>.*?)-----END (?P=label)-----", re.S)


def load_public_key(text: str | bytes) -> rsa.RSAPublicKey:
    """Airtel's RSA public key from PEM (``PUBLIC KEY`` or ``RSA PUBLIC KEY``) or from
    bare base64 DER SubjectPublicKeyInfo (whitespace and escaped newlines allowed)."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    text = text.replace("\\n", "\n").strip()
    try:
        match = _PEM.search(text)
        if match is not None:
            key = serialization.load_pem_public_key(match.group(0).encode("ascii"))
        else:
            der = base64.b64decode("".join(text.split()), validate=True)
            try:
                key = serialization.load_der_public_key(der)
            except ValueError:
                key = serialization.load_der_public_key(_pkcs1_to_spki(der))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise InvalidPublicKey("not a PEM or base64 DER public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidPublicKey("Airtel's public key must be an RSA key")
    return key


def _pkcs1_to_spki(der: bytes) -> bytes:
    """Wrap a bare PKCS#1 RSAPublicKey in SubjectPublicKeyInfo (some portals serve it)."""
    algorithm = bytes.fromhex("300d06092a864886f70d0101010500")
    bit_string = b"\x03" + _der_length(len(der) + 1) + b"\x00" + der
    body = algorithm + bit_string
    return b"\x30" + _der_length(len(body)) + body


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def rsa_encrypt_b64(key: rsa.RSAPublicKey, plaintext: bytes) -> str:
    """base64(RSA-PKCS#1-v1.5(plaintext)); randomised, so never equal twice."""
    return base64.b64encode(key.encrypt(plaintext, padding.PKCS1v15())).decode("ascii")


def encrypt_pin(pin: str, key: rsa.RSAPublicKey) -> str:
    """The disbursement ``pin`` field (§4.2)."""
    if not pin.isdigit():
        raise ValueError("the Airtel PIN is digits only")
    return rsa_encrypt_b64(key, pin.encode("utf-8"))


def aes_cbc_encrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


@dataclass(frozen=True, slots=True)
class Signature:
    """The two signing headers; ``x_key`` is encrypted and still never logged."""

    x_signature: str
    x_key: str


def signature_value(body: bytes, aes_key: bytes, iv: bytes) -> str:
    """``x-signature`` for ``body`` under a given AES key and IV (the deterministic half)."""
    if len(aes_key) != AES_KEY_BYTES or len(iv) != AES_IV_BYTES:
        raise ValueError("AES-256-CBC needs a 32-byte key and a 16-byte IV")
    return base64.b64encode(aes_cbc_encrypt(body, aes_key, iv)).decode("ascii")


def sign_body(
    body: bytes,
    key: rsa.RSAPublicKey,
    *,
    aes_key: bytes | None = None,
    iv: bytes | None = None,
) -> Signature:
    """§4.3: sign the exact bytes that will be sent. A fresh random key and IV per call
    unless given (tests only)."""
    aes_key = aes_key if aes_key is not None else os.urandom(AES_KEY_BYTES)
    iv = iv if iv is not None else os.urandom(AES_IV_BYTES)
    key_iv = base64.b64encode(aes_key).decode("ascii") + ":" + base64.b64encode(iv).decode("ascii")
    return Signature(
        x_signature=signature_value(body, aes_key, iv),
        x_key=rsa_encrypt_b64(key, key_iv.encode("ascii")),
    )


def callback_hash(message: bytes, secret: str) -> str:
    """§6: base64(HMAC-SHA256(secret, message))."""
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def hash_matches(message: bytes, secret: str, received: str) -> bool:
    """Constant-time comparison of a received callback hash."""
    expected = callback_hash(message, secret).encode("ascii")
    return hmac.compare_digest(expected, received.strip().encode("utf-8", errors="replace"))
