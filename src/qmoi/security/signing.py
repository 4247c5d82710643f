"""The instance's Ed25519 signing key: created on first run (file mode 0600), used to
sign every audit record's hash so that a record rewritten with a valid hash chain is
still caught."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from qmoi.errors import AuditError


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Signer:
    """Signs audit hashes with the instance key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    @classmethod
    def load_or_create(cls, path: Path) -> Signer:
        """Load the key at ``path``, creating it (0600) if it does not exist yet."""
        if path.exists():
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                raise AuditError(
                    f"{path} is readable by others (mode {mode:o}) — run `chmod 600 {path}`"
                )
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except ValueError as exc:
                raise AuditError(
                    f"{path} is not a PEM private key — restore it from backup"
                ) from exc
            if not isinstance(key, Ed25519PrivateKey):
                raise AuditError(f"{path} is not an Ed25519 key — restore it from backup")
            return cls(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return cls(key)

    def sign(self, digest_hex: str) -> str:
        return base64.b64encode(self._key.sign(digest_hex.encode())).decode()

    def verifier(self) -> Verifier:
        return Verifier(self.public_key)

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


class Verifier:
    """Checks signatures with a public key (the instance's, or one from an export)."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self.public_key = public_key
        self.key_id = key_id_of(public_key)

    @classmethod
    def from_pem(cls, pem: str) -> Verifier:
        key = serialization.load_pem_public_key(pem.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise AuditError("the public key is not an Ed25519 key")
        return cls(key)

    def verify(self, digest_hex: str, signature_b64: str) -> bool:
        try:
            self.public_key.verify(base64.b64decode(signature_b64), digest_hex.encode())
        except (InvalidSignature, ValueError):
            return False
        return True
