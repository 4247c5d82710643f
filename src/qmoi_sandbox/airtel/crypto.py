"""The emulator's keys and the three pieces of Airtel cryptography.

* An RSA key pair generated when the emulator starts (1024-bit by default, the size of
  every key seen in Airtel's samples). Its public half is what the merchant fetches from
  ``GET /v1/rsa/encryption-keys`` (base64 DER SubjectPublicKeyInfo) and from
  ``GET /sandbox/public-key`` (PEM).
* The disbursement ``pin``: base64 of RSA PKCS#1 v1.5 encryption of the PIN. PKCS#1 v1.5
  is randomised, so the emulator decrypts and compares; it never compares ciphertexts.
* Message signing: ``x-key`` is RSA(``base64(aes_key) + ":" + base64(iv)``) and
  ``x-signature`` is base64(AES-256-CBC(body, PKCS#7)). The emulator decrypts ``x-key``,
  re-encrypts the *exact received bytes* and compares in constant time.
* The callback ``hash``: base64(HMAC-SHA256(callback key, compact JSON)), over the outer
  ``{"transaction": {...}}`` body or the inner object (``hash_scope``).

Everything here is the emulator's side; tests encrypt and sign with ``cryptography``
directly, from Airtel's documentation, so a misreading here cannot be mirrored there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any, Literal

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_VALIDITY = timedelta(days=365)


def compact_json(value: Any) -> bytes:
    """JSON as every Airtel client sends it: no spaces, key order kept, UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


class EmulatorKeys:
    """The emulator's RSA key pair and the operations that need its private half."""

    def __init__(self, private_key: rsa.RSAPrivateKey, *, created: datetime, key_id: int = 100):
        self._private = private_key
        self.key_id = key_id
        self.valid_upto = created + KEY_VALIDITY

    @classmethod
    def generate(cls, *, bits: int, created: datetime) -> EmulatorKeys:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits), created=created)

    @classmethod
    def from_pem(cls, pem: bytes, *, created: datetime) -> EmulatorKeys:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the emulator's private key must be an RSA key")
        return cls(key, created=created)

    # --- public half --------------------------------------------------------------------

    def public_pem(self) -> str:
        return (
            self._private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def public_der_b64(self) -> str:
        der = self._private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    def valid_upto_text(self) -> str:
        """Airtel's format ``DD-MM-YYYY HH:MM:SS`` (UTC here; Airtel's zone is unconfirmed)."""
        return self.valid_upto.strftime("%d-%m-%Y %H:%M:%S")

    # --- private operations -------------------------------------------------------------

    def decrypt(self, ciphertext_b64: str) -> bytes | None:
        """RSA PKCS#1 v1.5 decryption of base64 text; ``None`` when it cannot be decrypted.

        OpenSSL's implicit rejection may return random bytes for a bad ciphertext instead
        of failing; callers compare the result with what they expect, so that is safe.
        """
        raw = _b64decode(ciphertext_b64)
        if raw is None or len(raw) != self._private.key_size // 8:
            return None
        try:
            return self._private.decrypt(raw, padding.PKCS1v15())
        except ValueError:
            return None

    def pin_matches(self, encrypted_pin: str, pin: str) -> bool:
        plain = self.decrypt(encrypted_pin)
        return plain is not None and hmac.compare_digest(plain, pin.encode("utf-8"))

    def signature_matches(self, body: bytes, x_signature: str, x_key: str) -> bool:
        """Message signing: decrypt ``x-key``, AES-encrypt the received body, compare it."""
        key_iv = self.decrypt(x_key)
        if key_iv is None:
            return False
        try:
            key_b64, iv_b64 = key_iv.decode("ascii").split(":")
        except (UnicodeDecodeError, ValueError):
            return False
        key, iv = _b64decode(key_b64), _b64decode(iv_b64)
        if key is None or iv is None or len(key) != 32 or len(iv) != 16:
            return False
        expected = base64.b64encode(aes_cbc_encrypt(body, key, iv)).decode("ascii")
        return hmac.compare_digest(expected.encode("ascii"), x_signature.strip().encode("ascii"))


def aes_cbc_encrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def callback_hash(
    transaction: dict[str, Any], key: str, scope: Literal["outer", "inner"] = "outer"
) -> str:
    """base64(HMAC-SHA256(key, compact JSON)) of ``{"transaction": …}`` or of ``…``."""
    message = compact_json({"transaction": transaction} if scope == "outer" else transaction)
    digest = hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")
